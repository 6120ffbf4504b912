"""Bad messages through the real broker into a running ingest worker, between good batches.

Thousands of hostile messages (random bytes, byte-level mutations of valid batches, batches
naming another gateway, batches from devices not registered to the publishing gateway) are
published with a gateway's own credentials, interleaved with valid batches. Ingest must not
crash, must keep every bad message as exactly one ``dead_letter`` row holding its exact bytes,
and must store every good batch exactly. Messages are generated from a seeded random source
(printed on failure), 2,000 bad in CI, times 10 with ``HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

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


def _bad_messages(
    rng: random.Random, gw: str, other: str, device: str, ids: dict[str, int]
) -> list[bytes]:
    """Distinct messages ingest must dead-letter (checked against the pure validator)."""
    made: dict[bytes, None] = {}
    while len(made) < BAD:
        kind = rng.randrange(4)
        if kind == 0:
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
