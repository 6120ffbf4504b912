"""``nabd backup run | list | restore``: encrypted backups of the stack's cluster, and
point-in-time restore into a fresh cluster.

Backups are opt-in per stack. The first ``backup run`` generates the repository's passphrase
into the state file, writes pgBackRest's configuration, points the running server's
``archive_command`` at ``pgbackrest archive-push`` (a reload: ``archive_mode`` is always on, see
:mod:`nabd.app.stack.postgres`), creates the stanza and takes the first full backup. From then
on every finished WAL segment is archived, and ``archive_timeout`` (``NABD_ARCHIVE_TIMEOUT``,
60 s) bounds how long a commit waits for its segment to leave: that is the recovery point
objective when the disk is lost. Stacks without backups (the test suite's) archive nothing.

A restore replaces the stack's cluster in place, so the state file's ports, passwords and
certificates (and every service's environment) stay valid. It refuses while PostgreSQL runs;
a data folder still there is moved aside (``postgres/data.before-restore-<time>``), never
deleted, and put back if the restore fails. pgBackRest restores the newest backup that finished
before the target time into an empty data folder and the server replays archived WAL up to the
target, then promotes to a new timeline (whose WAL is archived into the same repository).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import psycopg

from nabd.app.stack import lifecycle, pgbackrest, postgres, provision
from nabd.app.stack.errors import BackupError, ServiceStartError
from nabd.app.stack.layout import Layout
from nabd.app.stack.postgres import PgInstall
from nabd.app.stack.privileges import POSTGRES_USER, ServiceUser, give, service_user
from nabd.app.stack.settings import StackSettings
from nabd.app.stack.state import SUPERUSER, StackState, save_state

log = logging.getLogger(__name__)

BackupKind = Literal["full", "diff", "incr"]
KINDS: Final[tuple[BackupKind, ...]] = ("full", "diff", "incr")
_ENDED_EARLY: Final = "recovery ended before configured recovery target was reached"
RECOVERY_TIMEOUT_S: Final = 3600
"""How long replaying WAL after a restore may take before the restore is reported failed."""


@dataclass(frozen=True)
class BackupSet:
    """One backup in the repository, as ``pgbackrest info`` describes it."""

    label: str
    kind: str
    started: datetime
    stopped: datetime
    database_bytes: int
    repository_bytes: int
    wal_start: str
    wal_stop: str


@dataclass(frozen=True)
class Catalogue:
    """What the repository holds: the backups (oldest first) and the archived WAL range."""

    backups: tuple[BackupSet, ...]
    wal_first: str | None
    wal_last: str | None
    cipher: str


@dataclass(frozen=True)
class Restored:
    """A finished restore: the target, where the replaced cluster went, how long it took."""

    target: datetime | None
    set_aside: Path | None
    seconds: float


@dataclass(frozen=True)
class _Cluster:
    """The stack's cluster as a backup command sees it, under the state folder's lock."""

    settings: StackSettings
    layout: Layout
    state: StackState
    install: PgInstall
    user: ServiceUser | None

    @classmethod
    def of(cls, settings: StackSettings, layout: Layout, state: StackState) -> _Cluster:
        install = postgres.find_install(settings.pg_config)
        return cls(settings, layout, state, install, service_user(POSTGRES_USER))

    def running(self) -> bool:
        return postgres.is_running(self.install, self.layout, self.user)

    def pgbackrest(self, command: str, *options: str) -> str:
        return pgbackrest.run(self.layout, self.user, command, *options)

    def write_files(self) -> None:
        pgbackrest.write_files(self.layout, self.state, self.user)

    def configure(self) -> postgres.Archiving:
        """Rewrite the server's settings with this state's archiving; return the latter."""
        archiving = pgbackrest.archiving(self.layout, self.state, self.settings.archive_timeout)
        postgres.configure(self.layout, self.user, self.state.postgres.port, archiving)
        return archiving

    @property
    def admin_url(self) -> str:
        password = self.state.postgres.superuser_password.get_secret_value()
        return provision.admin_url(self.state.postgres.port, SUPERUSER, password)


def run(settings: StackSettings, kind: BackupKind = "incr") -> BackupSet:
    """Take a backup of the running cluster (setting backups up the first time); return it.

    ``incr`` and ``diff`` need a full backup to build on: pgBackRest takes a full one instead
    when there is none.
    """
    with lifecycle.holding(settings) as (layout, found):
        state = found.with_backup()
        if state is not found:
            save_state(layout, state)
            log.info(
                "backup: new repository passphrase in %s (keep a copy off this machine)",
                layout.state_file,
            )
        cluster = _Cluster.of(settings, layout, state)
        if not cluster.running():
            raise BackupError(f"PostgreSQL is not running in {layout.root}: `nabd stack up` first")
        _set_up(cluster)
    # The backup itself runs without the stack's lock (pgBackRest locks its stanza): a long
    # backup must not hold up `stack gateway remove` (a revocation is meant to act at once).
    cluster.pgbackrest("backup", f"--type={kind}")
    return _catalogue(cluster).backups[-1]


def _set_up(cluster: _Cluster) -> None:
    """Configuration, archiving on (a reload), stanza: each a no-op when done."""
    cluster.write_files()
    archiving = cluster.configure()
    postgres.reload(cluster.install, cluster.layout, cluster.user)
    if _setting(cluster.admin_url, "archive_mode") == "off":
        raise BackupError(
            "PostgreSQL was started without archive_mode (by a nabd older than `nabd backup`):"
            " restart it once (`nabd stack down`, `nabd stack up`), then run the backup again"
        )
    timeout = cluster.settings.stack_timeout
    _wait_setting(cluster.admin_url, "archive_command", archiving.command, timeout)
    cluster.pgbackrest("stanza-create")


def _setting(url: str, name: str) -> str | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
    return None if row is None else str(row[0])


def _wait_setting(url: str, name: str, wanted: str, timeout_s: float) -> None:
    """Wait until new sessions see ``name = wanted`` (a reload is asynchronous)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if _setting(url, name) == wanted:
            return
        if time.monotonic() > deadline:
            raise BackupError(f"PostgreSQL did not take the new {name} within {timeout_s:.0f} s")
        time.sleep(0.1)


def catalogue(settings: StackSettings) -> Catalogue | None:
    """The repository's backups, or ``None`` when backups were never set up for the stack."""
    with lifecycle.holding(settings) as (layout, state):
        if state.backup is None:
            return None
        cluster = _Cluster.of(settings, layout, state)
        cluster.write_files()
        return _catalogue(cluster)


def _catalogue(cluster: _Cluster) -> Catalogue:
    text = cluster.pgbackrest("info", "--output=json")
    try:
        return parse_info(json.loads(text))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise BackupError(f"pgbackrest info gave output nabd cannot read: {exc!r}") from exc


def parse_info(stanzas: Sequence[Mapping[str, Any]]) -> Catalogue:
    """The stack's stanza from ``pgbackrest info --output=json``."""
    stanza = next(s for s in stanzas if s["name"] == pgbackrest.STANZA)
    archives = stanza.get("archive") or []
    current = archives[-1] if archives else {}
    return Catalogue(
        backups=tuple(_backup_set(b) for b in stanza.get("backup") or []),
        wal_first=archives[0].get("min") if archives else None,
        wal_last=current.get("max"),
        cipher=str(stanza["cipher"]),
    )


def _backup_set(entry: Mapping[str, Any]) -> BackupSet:
    stamp = entry["timestamp"]
    return BackupSet(
        label=str(entry["label"]),
        kind=str(entry["type"]),
        started=datetime.fromtimestamp(int(stamp["start"]), UTC),
        stopped=datetime.fromtimestamp(int(stamp["stop"]), UTC),
        database_bytes=int(entry["info"]["size"]),
        repository_bytes=int(entry["info"]["repository"]["delta"]),
        wal_start=str(entry["archive"]["start"]),
        wal_stop=str(entry["archive"]["stop"]),
    )


def restore(settings: StackSettings, target: datetime | None) -> Restored:
    """Replace the stack's (stopped or destroyed) cluster by the database as it was at
    ``target`` (``None``: the end of the archived WAL), start it and the rest of the stack;
    return how it went."""
    if target is not None and target.tzinfo is None:
        raise BackupError("the restore time needs its UTC offset (e.g. 2026-12-06T13:45:00Z)")
    started = time.monotonic()
    with lifecycle.holding(settings) as (layout, state):
        if state.backup is None:
            raise BackupError(f"no backups were ever taken of the stack in {layout.root}")
        cluster = _Cluster.of(settings, layout, state)
        if cluster.running():
            raise BackupError(
                f"PostgreSQL is running from {layout.pg_data}: a restore replaces the cluster,"
                " so stop it first (`nabd stack down`)"
            )
        cluster.write_files()
        source = _backup_for(_catalogue(cluster), target)
        set_aside = _set_aside(layout)
        try:
            _restore_into_empty(cluster, source, target)
        except BackupError:
            _undo(layout, set_aside)
            raise
    lifecycle.up(settings)
    return Restored(target, set_aside, time.monotonic() - started)


def _backup_for(found: Catalogue, target: datetime | None) -> BackupSet:
    """The backup to restore from: the newest that finished by ``target`` (or the newest).

    Chosen here rather than by pgBackRest, which compares the target in whole seconds with
    the backups' stop times and so misses a backup that stopped in the same second as the
    target (a restore to just after a backup)."""
    if not found.backups:
        raise BackupError("the repository holds no backup yet: `nabd backup run` makes one")
    if target is None:
        return found.backups[-1]
    done = [b for b in found.backups if b.stopped <= target]
    if not done:
        oldest = found.backups[0].stopped
        raise BackupError(
            f"{target.isoformat()} is before the oldest backup finished ({oldest.isoformat()}):"
            " the repository can restore to that time or later"
        )
    return done[-1]


def _set_aside(layout: Layout) -> Path | None:
    """Move a leftover data folder out of the way (kept, never deleted)."""
    data = layout.pg_data
    if not data.exists() or not any(data.iterdir()):
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = data.with_name(f"data.before-restore-{stamp}")
    data.rename(aside)
    log.info("backup: the old cluster is kept in %s", aside)
    return aside


def _undo(layout: Layout, set_aside: Path | None) -> None:
    """After a failed restore: delete what was restored (only a copy from the repository) and
    put the replaced cluster back, so a retry or ``stack up`` finds the stack as it was."""
    shutil.rmtree(layout.pg_data, ignore_errors=True)
    if set_aside is not None:
        set_aside.rename(layout.pg_data)
        log.info("backup: the cluster from before the restore is back in %s", layout.pg_data)


def _restore_into_empty(cluster: _Cluster, source: BackupSet, target: datetime | None) -> None:
    cluster.write_files()  # also makes pg_dir again when it was deleted
    data = cluster.layout.pg_data
    data.mkdir(mode=0o700, exist_ok=True)
    give(data, cluster.user, 0o700)
    if target is None:
        when = "the end of the archived WAL"
        cluster.pgbackrest("restore", f"--set={source.label}")
    else:
        when = target.astimezone(UTC).isoformat(sep=" ")
        point = ("--type=time", f"--target={when}", "--target-action=promote")
        cluster.pgbackrest("restore", f"--set={source.label}", *point)
    cluster.configure()
    _recover(cluster, when)
    log.info("backup: restored to %s and promoted", when)


def _recover(cluster: _Cluster, when: str) -> None:
    """Start the restored cluster and wait until it has replayed up to the target and promoted;
    if it gives up, stop it and say why (its log since this start names the cause)."""
    log_start = cluster.layout.pg_log.stat().st_size if cluster.layout.pg_log.exists() else 0
    try:
        postgres.start(cluster.install, cluster.layout, cluster.user, RECOVERY_TIMEOUT_S)
        _wait_promoted(cluster, RECOVERY_TIMEOUT_S)
    except (ServiceStartError, BackupError) as exc:
        _stop_quietly(cluster)
        if _ENDED_EARLY in _log_since(cluster.layout.pg_log, log_start):
            raise BackupError(
                f"the archived WAL ends before {when}: what was written after the last archived"
                f" segment (at most archive_timeout = {cluster.settings.archive_timeout} s before"
                " the cluster was lost) is gone; restore to an earlier time"
            ) from exc
        raise BackupError(f"the restored cluster did not recover to {when}: {exc}") from exc


def _log_since(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _stop_quietly(cluster: _Cluster) -> None:
    """Stop a restored cluster that failed (it usually shuts itself down: wait for that)."""
    deadline = time.monotonic() + cluster.settings.stack_timeout
    while cluster.running() and time.monotonic() < deadline:
        time.sleep(0.2)
    if cluster.running():
        postgres.stop(cluster.install, cluster.layout, cluster.user, cluster.settings.stack_timeout)


def _wait_promoted(cluster: _Cluster, timeout_s: float) -> None:
    """Wait until recovery has reached the target and the server accepts writes; a server that
    stops meanwhile (recovery failed) raises :class:`BackupError`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is not None and not row[0]:
                return
        except psycopg.OperationalError as exc:
            if not cluster.running():
                raise BackupError(f"PostgreSQL stopped while recovering: {exc}") from exc
        if time.monotonic() > deadline:
            raise BackupError(f"the restored cluster was still recovering after {timeout_s} s")
        time.sleep(0.2)
