"""A private PostgreSQL cluster with TimescaleDB, run with the machine's own server binaries.

The cluster lives in ``<state>/postgres/data``, listens on 127.0.0.1 only, on the port the state
file records, with its Unix socket in the state folder (or a private folder under /tmp when that
path would exceed the 107-byte socket limit). Every connection, TCP or socket, authenticates with
scram-sha-256: there is no ``trust`` line at all. The binaries come from ``pg_config`` of the
newest major under /usr/lib/postgresql (Debian's layout), never from whatever is on ``PATH``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from nabd.app.stack.errors import (
    ServiceStartError,
    StackError,
    TimescaleDBMissingError,
    ToolMissingError,
)
from nabd.app.stack.layout import Layout
from nabd.app.stack.ports import LOCALHOST
from nabd.app.stack.privileges import ServiceUser, as_user, give

log = logging.getLogger(__name__)

DEBIAN_ROOT: Final = Path("/usr/lib/postgresql")
_INCLUDE_LINE: Final = "include 'nabd.conf'"
_HBA: Final = """\
# Written by `nabd stack up`. Passwords (scram-sha-256) everywhere; no trust, no peer.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
"""


@dataclass(frozen=True)
class PgInstall:
    """One installed PostgreSQL server: where its binaries and shared files are."""

    bindir: Path
    sharedir: Path
    major: int

    def binary(self, name: str) -> str:
        path = self.bindir / name
        if not path.exists():
            raise ToolMissingError(f"{path} is missing: install the PostgreSQL {self.major} server")
        return str(path)


def _newest_pg_config() -> Path:
    majors = sorted(
        (int(p.name), p / "bin" / "pg_config")
        for p in DEBIAN_ROOT.glob("*")
        if p.name.isdigit() and (p / "bin" / "pg_config").exists()
    )
    if not majors:
        raise ToolMissingError(f"no PostgreSQL server under {DEBIAN_ROOT}: run scripts/bootstrap")
    return majors[-1][1]


def find_install(pg_config: Path | None = None) -> PgInstall:
    """The server that ``pg_config`` describes (default: the newest Debian-packaged major)."""
    pg_config = pg_config or _newest_pg_config()
    try:
        out = subprocess.run(
            [str(pg_config), "--bindir", "--sharedir", "--version"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ToolMissingError(f"cannot run {pg_config}: {exc}") from exc
    version = re.search(r"PostgreSQL (\d+)", out[2])
    if version is None:
        raise ToolMissingError(f"{pg_config} --version says {out[2]!r}")
    return PgInstall(Path(out[0]), Path(out[1]), int(version[1]))


def require_timescaledb(install: PgInstall) -> None:
    """Raise :class:`TimescaleDBMissingError` unless TimescaleDB is installed into the server."""
    control = install.sharedir / "extension" / "timescaledb.control"
    if not control.exists():
        raise TimescaleDBMissingError(
            f"TimescaleDB is not installed into PostgreSQL {install.major} ({control} is "
            "missing): run scripts/bootstrap, which builds and installs it"
        )


def _run(argv: list[str], user: ServiceUser | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(as_user(user, argv), cwd=cwd, capture_output=True, text=True, check=False)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def init_cluster(
    install: PgInstall, layout: Layout, user: ServiceUser | None, superuser: str, password: str
) -> bool:
    """Create the cluster if there is none; return whether it was created now."""
    version_file = layout.pg_data / "PG_VERSION"
    if version_file.exists():
        made_by = int(version_file.read_text().strip())
        if made_by != install.major:
            raise StackError(
                f"{layout.pg_data} was made by PostgreSQL {made_by}, the server is "
                f"{install.major}: `nabd stack down`, then delete {layout.pg_dir} (or upgrade it)"
            )
        return False
    layout.pg_dir.mkdir(mode=0o700, exist_ok=True)
    give(layout.pg_dir, user, 0o700)
    # initdb reads the superuser password from a file (a pipe cannot be reopened by another
    # user): a 0600 file in the server's own private folder, deleted right after.
    pwfile = layout.pg_dir / ".initdb-pw"
    pwfile.write_text(password + "\n", encoding="utf-8")
    give(pwfile, user, 0o600)
    try:
        argv = [install.binary("initdb"), "-D", str(layout.pg_data), "-U", superuser]
        argv += ["--pwfile", str(pwfile), "--auth", "scram-sha-256", "-E", "UTF8", "--locale=C"]
        result = _run(argv, user, layout.pg_dir)
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise ServiceStartError(f"initdb failed:\n{result.stderr.strip()}")
    log.info("postgres: created cluster in %s", layout.pg_data)
    return True


NO_ARCHIVE: Final = "true"
"""``archive_command`` of a stack without backups: WAL is recycled as if archiving were off."""


@dataclass(frozen=True)
class Archiving:
    """How finished WAL segments leave the cluster: a shell command and the longest wait."""

    command: str = NO_ARCHIVE
    timeout_s: int = 0
    """``archive_timeout``: 0 (never force a segment switch) when nothing is archived."""


_MIB: Final = 1024 * 1024
SHARED_BUFFERS_MIN_MB: Final = 128
SHARED_BUFFERS_MAX_MB: Final = 4096
MAX_WAL_SIZE: Final = "2GB"


def shared_buffers_mb(memory_bytes: int | None = None) -> int:
    """PostgreSQL's ``shared_buffers`` for a machine of ``memory_bytes`` (default: this one's).

    A quarter of the memory, the manual's starting value for a server of 1 GB or more (PostgreSQL
    15, 20.4.1 Memory), between 128 MB (PostgreSQL's own default) and 4 GB (the stack shares the
    machine with the broker, ingest and analytics). Why it matters: every reading adds an entry
    to ``reading_identity``'s primary key at its own device's place, so the pages a second of
    readings touches grow with the number of devices; at 4 000 beds (16 000 devices) they no
    longer fitted in the default 128 MB, and each flush read back from the operating system
    pages it had just written out (bench/capacity.py with pg_stat_statements: 930 000 reads
    in 2 minutes for that one statement).
    """
    if memory_bytes is None:
        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    quarter = memory_bytes // 4 // _MIB
    return max(SHARED_BUFFERS_MIN_MB, min(SHARED_BUFFERS_MAX_MB, quarter))


def _conf_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _server_settings(layout: Layout, port: int, archiving: Archiving) -> str:
    return f"""\
# Written by `nabd stack up` on every start, from the state file: edit that, not this.
listen_addresses = '{LOCALHOST}'
port = {port}
unix_socket_directories = '{layout.pg_socket_dir}'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = 'off'
shared_buffers = '{shared_buffers_mb()}MB'
# Checkpoints: with the default 1 GB of WAL between them, at 5 000 beds one came every 20 s
# ("checkpoints are occurring too frequently"), and after each the first change to every page
# logs the whole page. Compressed page images and 2 GB between checkpoints (or 5 minutes) write
# far less; the price is the WAL a crash recovery replays, at most about this much.
max_wal_size = '{MAX_WAL_SIZE}'
wal_compression = lz4
# Each database with TimescaleDB has a scheduler worker; tests create one database per module.
max_worker_processes = 32
timescaledb.max_background_workers = 16
# Always on (it needs a restart to change), so `nabd backup run` can start archiving with a
# reload; until then the command is `true` and WAL is recycled as without archiving.
archive_mode = on
archive_command = {_conf_string(archiving.command)}
archive_timeout = {archiving.timeout_s}
"""


def configure(
    layout: Layout, user: ServiceUser | None, port: int, archiving: Archiving | None = None
) -> None:
    """(Re)write the server settings and pg_hba.conf, and make the socket folder."""
    data = layout.pg_data
    settings = data / "nabd.conf"
    settings.write_text(_server_settings(layout, port, archiving or Archiving()), encoding="utf-8")
    give(settings, user, 0o600)
    hba = data / "pg_hba.conf"
    hba.write_text(_HBA, encoding="utf-8")
    give(hba, user, 0o600)
    main = data / "postgresql.conf"
    text = main.read_text(encoding="utf-8")
    if _INCLUDE_LINE not in text.splitlines():
        main.write_text(f"{text.rstrip()}\n\n{_INCLUDE_LINE}\n", encoding="utf-8")
    _ensure_socket_dir(layout.pg_socket_dir, user)


def _ensure_socket_dir(path: Path, user: ServiceUser | None) -> None:
    """Make the socket folder; refuse one that someone else made (it may be under /tmp)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    allowed = {user.uid, 0} if user is not None else {os.geteuid()}
    if path.is_symlink() or info.st_uid not in allowed:
        raise StackError(f"{path} exists but was not made by nabd stack (uid {info.st_uid})")
    give(path, user, 0o700)


def is_running(install: PgInstall, layout: Layout, user: ServiceUser | None) -> bool:
    """Whether the cluster's postmaster runs (``pg_ctl status``)."""
    if not (layout.pg_data / "PG_VERSION").exists():
        return False
    argv = [install.binary("pg_ctl"), "status", "-D", str(layout.pg_data)]
    return _run(argv, user, layout.pg_dir).returncode == 0


def postmaster_pid(layout: Layout) -> int | None:
    """The postmaster's pid from ``postmaster.pid`` (only meaningful while it runs)."""
    try:
        return int((layout.pg_data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def start(install: PgInstall, layout: Layout, user: ServiceUser | None, timeout: float) -> None:
    """Start the cluster and wait (``pg_ctl -w``) until it accepts connections."""
    argv = [install.binary("pg_ctl"), "start", "-D", str(layout.pg_data), "-l", str(layout.pg_log)]
    argv += ["-w", "-t", str(max(1, round(timeout))), "-s"]
    result = _run(argv, user, layout.pg_dir)
    if result.returncode != 0:
        raise ServiceStartError(
            f"PostgreSQL did not start: {result.stderr.strip()}\n"
            f"last lines of {layout.pg_log}:\n{_tail(layout.pg_log)}"
        )


def reload(install: PgInstall, layout: Layout, user: ServiceUser | None) -> None:
    """Make the running server re-read its settings (``pg_ctl reload``: SIGHUP, no restart)."""
    result = _run(
        [install.binary("pg_ctl"), "reload", "-D", str(layout.pg_data), "-s"], user, layout.pg_dir
    )
    if result.returncode != 0:
        raise StackError(f"PostgreSQL did not reload its settings: {result.stderr.strip()}")


def stop(install: PgInstall, layout: Layout, user: ServiceUser | None, timeout: float) -> None:
    """Stop the cluster with ``pg_ctl -m fast``: roll back open transactions, then shut down."""
    argv = [install.binary("pg_ctl"), "stop", "-D", str(layout.pg_data), "-m", "fast"]
    argv += ["-w", "-t", str(max(1, round(timeout))), "-s"]
    result = _run(argv, user, layout.pg_dir)
    if result.returncode != 0:
        raise StackError(f"PostgreSQL did not stop: {result.stderr.strip()}")
