"""Bad messages through the real broker into a running ingest worker, between good batches.

Thousands of hostile messages (random bytes, byte-level mutations of valid batches, batches
naming another gateway, batches from devices not registered to the publishing gateway, valid
batches with a key or string PostgreSQL text cannot hold: NUL, lone surrogates) are
published with a gateway's own credentials, interleaved with valid batches. Ingest must not
crash, must keep every bad message as exactly one ``dead_letter`` row holding its exact bytes,
and must store every good batch exactly. Messages are generated from a seeded random source
(printed on failure), 2,000 bad in CI, times 10 with ``HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections import Counter

import pytest

from nabd.app.stack.testing import RunningStack
from nabd.contract import topics
from nabd.ingest.validate import Accepted, validate
from tests.ingest.ingest_kit import (
    FakeGateway,
    forget_session,
    heart_rates,
    ingest_database,
    register,
    start_worker,
    valid_batch,
    worker_settings,
)
from tests.security.fuzz_budget import examples
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration

BAD = examples(2000)
GOOD_EVERY = 20
SEED = int(os.environ.get("NABD_FUZZ_SEED", random.randrange(2**32)))  # noqa: S311


def _mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out))
        op = rng.choice("sid")
        if op == "s":
            out[at] = rng.randrange(256)
        elif op == "i":
            out.insert(at, rng.randrange(256))
        elif len(out) > 1:
            del out[at]
    return bytes(out)


def _hostile_text(rng: random.Random) -> str:
    """Text PostgreSQL or UTF-8 cannot hold (NUL, lone surrogates) among any other code points."""
    pool = '\x00\ud800\udfff\x1b\u202e\\"' + "".join(chr(rng.randrange(0x110000)) for _ in range(4))
    return "".join(rng.choice(pool) for _ in range(rng.randint(1, 6)))


def _hostile_batch(rng: random.Random, gw: str, device: str) -> bytes:
    """A valid batch with a hostile key or string where a dead letter echoes it (field, reason)."""
    doc = json.loads(valid_batch(gw, heart_rates(device, 2, rng.randrange(10**6))))
    target = rng.choice([doc, doc["readings"][0]])
    if rng.random() < 0.5:
        target[_hostile_text(rng)] = _hostile_text(rng)
    else:
        doc["readings"][0]["unit"] = _hostile_text(rng)
    return json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def _bad_messages(
    rng: random.Random, gw: str, other: str, device: str, ids: dict[str, int]
) -> list[bytes]:
    """Distinct messages ingest must dead-letter (checked against the pure validator)."""
    made: dict[bytes, None] = {}
    while len(made) < BAD:
        kind = rng.randrange(5)
        if kind == 4:
            raw = _hostile_batch(rng, gw, device)
        elif kind == 0:
            raw = rng.randbytes(rng.randrange(300))
        elif kind == 1:
            raw = _mutate(rng, valid_batch(gw, heart_rates(device, 3, rng.randrange(10**6))))
        elif kind == 2:
            raw = valid_batch(other, heart_rates(device, 2))  # another gateway's name
        else:
            raw = valid_batch(gw, heart_rates(f"stranger-{rng.randrange(10**9)}", 2))
            made[raw] = None  # valid, but its device is not registered to this gateway
            continue
        verdict = validate(topics.observations(gw), raw, ids)
        if not isinstance(verdict, Accepted):
            made[raw] = None
    return list(made)


def test_every_bad_message_is_one_dead_letter_and_every_good_batch_is_stored(
    nabd_stack: RunningStack, fresh_database: str
) -> None:
    db = ingest_database(nabd_stack, fresh_database)
    gw, other, device = f"gw-fz-{token()}", f"gw-fo-{token()}", "dev-fz"
    register(db, gw, {device: "p-fz"})
    register(db, other, {})
    rng = random.Random(SEED)  # noqa: S311  (reproducible fuzzing, not cryptography)
    ids = {str(k): int(v) for k, v in db.query("SELECT key, id FROM metric")}
    bad = _bad_messages(rng, gw, other, device, ids)
    worker = start_worker(worker_settings(nabd_stack, db, f"fz-{token()}"))
    gateway = FakeGateway(nabd_stack, gw)
    good: list[str] = []
    try:
        for i, raw in enumerate(bad):
            if i % GOOD_EVERY == 0:
                boot = str(uuid.uuid4())
                good.append(boot)
                gateway.publish(valid_batch(gw, heart_rates(device, 5, 5 * i), boot_id=boot))
            gateway.publish(raw)
        wait_until(
            lambda: (
                db.query("SELECT count(*) FROM dead_letter")[0][0] >= len(bad)
                and db.query("SELECT count(*) FROM ingested_batch")[0][0] >= len(good)
            ),
            f"every message handled (seed {SEED})",
            timeout_s=120,
        )
        assert worker.thread.is_alive(), f"ingest stopped (seed {SEED})"
    finally:
        gateway.close()
        worker.stop()
        forget_session(nabd_stack, worker.service.settings.worker_id)
    assert worker.result == [0]
    letters = Counter(bytes(p) for (p,) in db.query("SELECT payload FROM dead_letter"))
    assert letters == Counter(bad), f"seed {SEED}"
    batches = {str(b) for (b,) in db.query("SELECT boot_id FROM ingested_batch")}
    assert batches == set(good)
    assert db.query("SELECT count(*) FROM observation")[0][0] == 5 * len(good)
