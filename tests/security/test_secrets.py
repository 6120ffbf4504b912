"""No secret in the repository, and none in the log output of the real processes.

The stack's own servers and ``nabd stack up|status`` are checked by
``tests/stack/test_stack_lifecycle.py::test_no_secret_reaches_the_output_or_the_server_logs``;
here the repository's files and an ingest worker's log, with good and with wrong credentials.
"""

from __future__ import annotations

import fnmatch
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from nabd.app.stack.testing import RunningStack
from tests.ingest.ingest_kit import (
    FakeGateway,
    forget_session,
    heart_rates,
    ingest_database,
    register,
    valid_batch,
    worker_env,
)
from tests.ingest.test_ingest_process import Worker
from tests.stack_kit import token, wait_until

ROOT = Path(__file__).resolve().parents[2]
ALWAYS_SKIPPED = {".git", ".venv", ".state"}
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE " + rb"KEY-----")


def _ignored_patterns() -> list[str]:
    lines = (ROOT / ".gitignore").read_text().splitlines()
    return [line.strip().strip("/") for line in lines if line.strip() and not line.startswith("#")]


def _repository_files() -> Iterator[Path]:
    """Every file a commit could carry: the tree minus the venv, state and ignored folders."""
    ignored = _ignored_patterns()
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [
            d
            for d in dirs
            if d not in ALWAYS_SKIPPED and not any(fnmatch.fnmatch(d, p) for p in ignored)
        ]
        for name in files:
            if not any(fnmatch.fnmatch(name, p) for p in ignored):
                yield Path(folder) / name


def _secrets(env: dict[str, str]) -> set[str]:
    found = {v for k, v in env.items() if k.endswith("_PASSWORD")}
    for key, value in env.items():
        if key.endswith("DATABASE_URL"):
            password = urlsplit(value).password
            assert password
            found.add(unquote(password))
    assert len(found) >= 6
    return found


def test_the_repository_tracks_no_private_key_and_no_live_secret(nabd_stack: RunningStack) -> None:
    secrets_now = [s.encode() for s in _secrets(dict(nabd_stack.env))]
    offenders: list[str] = []
    files = 0
    for path in _repository_files():
        files += 1
        data = path.read_bytes()
        if PRIVATE_KEY.search(data) or any(s in data for s in secrets_now):
            offenders.append(str(path.relative_to(ROOT)))
    assert files > 200  # the walk did see the checkout
    assert offenders == []


def test_the_walk_would_find_a_key(tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_bytes(b"-----BEGIN EC PRIVATE " + b"KEY-----\nMHc...\n")
    assert PRIVATE_KEY.search(key.read_bytes())


@pytest.fixture
def worker_env_of(nabd_stack: RunningStack, fresh_database: str) -> Iterator[dict[str, str]]:
    db = ingest_database(nabd_stack, fresh_database)
    worker_id = f"sec-{token()}"
    yield worker_env(nabd_stack, db, worker_id)
    forget_session(nabd_stack, worker_id)


@pytest.mark.integration
def test_an_ingest_worker_logs_no_secret_at_work(
    nabd_stack: RunningStack, worker_env_of: dict[str, str], fresh_database: str
) -> None:
    db = ingest_database(nabd_stack, fresh_database)
    gw_id = f"gw-sec-{token()}"
    register(db, gw_id, {f"d-{gw_id}": f"p-{gw_id}"})
    worker = Worker(worker_env_of)
    gateway = FakeGateway(nabd_stack, gw_id)
    try:
        worker.wait_ready()
        gateway.publish(valid_batch(gw_id, heart_rates(f"d-{gw_id}", 5)))
        gateway.publish(b"not json")  # a dead letter: logged with its reason
        wait_until(lambda: len(gateway.acked()) >= 1, "the ack")
    finally:
        gateway.close()
        worker.process.send_signal(signal.SIGTERM)
    code, log = worker.wait_exit()
    assert code == 0
    assert log  # it did log (startup, dead letter, shutdown)
    for secret in _secrets(dict(nabd_stack.env)):
        assert secret not in log


@pytest.mark.integration
def test_an_ingest_worker_with_wrong_credentials_does_not_log_them(
    worker_env_of: dict[str, str],
) -> None:
    env = dict(worker_env_of)
    wrong_db, wrong_mqtt = "wrong-db-" + token() * 4, "wrong-mqtt-" + token() * 4
    url = urlsplit(env["NABD_INGEST_DATABASE_URL"])
    env["NABD_INGEST_DATABASE_URL"] = url._replace(
        netloc=f"{url.username}:{wrong_db}@{url.hostname}:{url.port}"
    ).geturl()
    env["NABD_INGEST_MQTT_PASSWORD"] = wrong_mqtt
    worker = Worker(env)
    try:
        _, log = worker.process.communicate(timeout=10)
    except subprocess.TimeoutExpired:  # still retrying: stop it and read what it wrote
        worker.process.send_signal(signal.SIGTERM)
        _, log = worker.process.communicate(timeout=10)
    assert log
    assert wrong_db not in log
    assert wrong_mqtt not in log
