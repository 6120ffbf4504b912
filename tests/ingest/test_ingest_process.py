"""``nabd ingest run`` as a real process: SIGKILL between receipt and commit loses nothing,
SIGTERM flushes, acknowledges and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.error import URLError

import pytest

from nabd.app.stack.ports import free_port
from nabd.app.stack.testing import RunningStack
from tests.ingest.ingest_kit import (
    FakeGateway,
    IngestDb,
    forget_session,
    heart_rates,
    register,
    sample,
    scrape,
    stored_rows,
    valid_batch,
    worker_env,
)
from tests.stack_kit import DEADLINE_S, token, wait_until

pytestmark = pytest.mark.integration

Gateways = Callable[[str], FakeGateway]
HOLD = {"flush_max_age_s": "60", "flush_max_messages": "1000", "flush_max_rows": "1000000"}
"""Tuning that keeps received messages uncommitted (for a minute): receipt without commit."""


class Worker:
    """``python -m nabd.app.cli ingest run`` with a metrics port to watch it from outside."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nabd.app.cli",
                "ingest",
                "run",
                "--metrics-port",
                str(self.port),
            ],
            env=os.environ | env,
            stderr=subprocess.PIPE,
            text=True,
        )

    def metric(self, name: str) -> float:
        try:
            return sample(scrape(self.port), name)
        except (URLError, ConnectionError):
            return -1.0  # not serving yet

    def wait_ready(self) -> None:
        wait_until(
            lambda: self.metric("nabd_ingest_mqtt_connected") == 1, "the worker to subscribe"
        )

    def wait_exit(self) -> tuple[int, str]:
        _, err = self.process.communicate(timeout=DEADLINE_S)
        return self.process.returncode, err


@pytest.fixture
def spawn(nabd_stack: RunningStack, ingest_db: IngestDb) -> Iterator[Callable[..., Worker]]:
    """Start worker processes (one worker id per test); all killed and forgotten afterwards."""
    worker_id = f"proc-{token()}"
    started: list[Worker] = []

    def start(**tuning: str) -> Worker:
        started.append(Worker(worker_env(nabd_stack, ingest_db, worker_id, **tuning)))
        started[-1].wait_ready()
        return started[-1]

    yield start
    for w in started:
        if w.process.poll() is None:
            w.process.kill()
        w.process.communicate(timeout=DEADLINE_S)
    forget_session(nabd_stack, worker_id)


@contextmanager
def _gateway_with_devices(
    ingest_db: IngestDb, gateways: Gateways, name: str
) -> Iterator[tuple[FakeGateway, str, str]]:
    t = token()
    gw_id, dev = f"gw-{name}{t}", f"hr-{name}{t}"
    register(ingest_db, gw_id, {dev: f"p-{name}{t}"})
    yield gateways(gw_id), dev, str(uuid.uuid4())


def test_sigkill_between_receipt_and_commit_loses_nothing(
    ingest_db: IngestDb, gateways: Gateways, spawn: Callable[..., Worker]
) -> None:
    with _gateway_with_devices(ingest_db, gateways, "k") as (gw, dev, boot):
        first = spawn(**HOLD)

        def publish(seqs: range) -> None:
            for seq in seqs:
                gw.publish(
                    valid_batch(
                        gw.gateway_id,
                        heart_rates(dev, 4, start_seq=4 * seq),
                        batch_seq=seq,
                        boot_id=boot,
                    )
                )

        publish(range(10))
        wait_until(lambda: first.metric("nabd_ingest_messages_received_total") == 10, "receipt")
        assert stored_rows(ingest_db, gw.gateway_id) == []  # received, not committed
        first.process.send_signal(signal.SIGKILL)
        assert first.wait_exit()[0] == -signal.SIGKILL

        publish(range(10, 20))  # while ingest is down: the broker queues them in its session
        spawn()  # same worker id, default flushing
        wait_until(lambda: len(set(gw.acked())) == 20, "every batch acknowledged end to end")
        rows = stored_rows(ingest_db, gw.gateway_id)
        assert [r[3] for r in rows] == list(range(80))  # all of them, each once
        assert gw.acked().count((boot, 0)) == 1  # never acked before the restart's commit


def test_sigterm_flushes_acknowledges_and_exits_cleanly(
    ingest_db: IngestDb, gateways: Gateways, spawn: Callable[..., Worker]
) -> None:
    with _gateway_with_devices(ingest_db, gateways, "t") as (gw, dev, boot):
        worker = spawn(**HOLD)
        for seq in range(5):
            gw.publish(
                valid_batch(
                    gw.gateway_id,
                    heart_rates(dev, 3, start_seq=3 * seq),
                    batch_seq=seq,
                    boot_id=boot,
                )
            )
        wait_until(lambda: worker.metric("nabd_ingest_messages_received_total") == 5, "receipt")
        assert gw.acked() == []
        worker.process.send_signal(signal.SIGTERM)
        code, err = worker.wait_exit()
        assert code == 0, err
        assert '"msg": "ingest worker stopped"' in err  # structured (JSON) logs on stderr
        assert len(stored_rows(ingest_db, gw.gateway_id)) == 15
        wait_until(lambda: sorted(set(gw.acked())) == [(boot, s) for s in range(5)], "the acks")
