"""pgBackRest for the local stack's cluster: its configuration, and running it as the server's user.

pgBackRest (Debian's package) does the work Nabd must not reinvent: base backups (full,
differential, incremental) with page checksums verified, continuous WAL archiving through the
server's ``archive_command``, retention, and point-in-time restore. Its repository is encrypted
(``repo1-cipher-type = aes-256-cbc``) with a passphrase generated into the 0600 state file; the
server's ``archive-push`` needs it too, so it is also written into a configuration file that only
the cluster's user may read, beside the cluster (never in the repository tree, never on a command
line). Each stack has its own lock and log folders, so stacks side by side never share a lock.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Final

from nabd.app.stack.errors import BackupError, StackError, ToolMissingError
from nabd.app.stack.layout import Layout
from nabd.app.stack.postgres import Archiving
from nabd.app.stack.privileges import ServiceUser, as_user, give
from nabd.app.stack.state import SUPERUSER, StackState

STANZA: Final = "nabd"
"""pgBackRest's name for the cluster in its repository."""
RETENTION_FULL: Final = 2
"""Full backups kept (with the WAL to restore to any time since the oldest of them)."""
BINARY: Final = "pgbackrest"


def binary() -> str:
    """The ``pgbackrest`` executable, or :class:`ToolMissingError` saying how to install it."""
    found = shutil.which(BINARY) or shutil.which(BINARY, path="/usr/bin")
    if found is None:
        raise ToolMissingError("pgbackrest is not installed: run scripts/bootstrap (Debian)")
    return found


def archiving(layout: Layout, state: StackState, timeout_s: int) -> Archiving:
    """The server's archive settings: pgBackRest's ``archive-push`` once backups are set up."""
    if state.backup is None:
        return Archiving()
    argv = [binary(), f"--config={layout.pgbackrest_conf}", f"--stanza={STANZA}", "archive-push"]
    return Archiving(command=f"{shlex.join(argv)} %p", timeout_s=timeout_s)


def _config(layout: Layout, state: StackState) -> str:
    if state.backup is None:
        raise BackupError("backups are not set up for this stack: run `nabd backup run`")
    tool = layout.pgbackrest_dir
    return f"""\
# Written by nabd from {layout.state_file} (edit nothing here: it is rewritten).
[global]
repo1-path={layout.backup_repo}
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass={state.backup.cipher_pass.get_secret_value()}
repo1-retention-full={RETENTION_FULL}
compress-type=lz4
start-fast=y
archive-timeout=60
lock-path={tool / "lock"}
log-path={tool / "log"}
log-level-console=warn
log-level-stderr=error
log-level-file=info

[{STANZA}]
pg1-path={layout.pg_data}
pg1-port={state.postgres.port}
pg1-socket-path={layout.pg_socket_dir}
pg1-user={SUPERUSER}
"""


def write_files(layout: Layout, state: StackState, user: ServiceUser | None) -> None:
    """Write the configuration (0600, the cluster's user) and make the repository, lock and log
    folders (0700). Safe to repeat: every ``stack up`` and ``backup`` command rewrites them."""
    for folder in (layout.pg_dir, layout.pgbackrest_dir, layout.backup_repo):
        folder.mkdir(mode=0o700, exist_ok=True)
        give(folder, user, 0o700)
    for sub in ("lock", "log"):
        path = layout.pgbackrest_dir / sub
        path.mkdir(mode=0o700, exist_ok=True)
        give(path, user, 0o700)
    _write_private(layout.pgbackrest_conf, _config(layout, state), user)
    password = state.postgres.superuser_password.get_secret_value()
    _write_private(_pgpass(layout), f"*:*:*:{SUPERUSER}:{password}\n", user)


def _pgpass(layout: Layout) -> Path:
    """libpq's password file for pgBackRest's connections as the superuser (backup, check)."""
    return layout.pgbackrest_dir / "pgpass"


def _write_private(path: Path, text: str, user: ServiceUser | None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    give(path, user, 0o600)


def run(
    layout: Layout, user: ServiceUser | None, command: str, *options: str, timeout_s: float = 3600
) -> str:
    """Run one pgBackRest command on the stack's stanza as the cluster's user; its stdout.

    A failure raises :class:`BackupError` with pgBackRest's own message (its ``ERROR: [nnn]:``
    lines), which names what is wrong.
    """
    argv = [binary(), f"--config={layout.pgbackrest_conf}", f"--stanza={STANZA}", *options]
    argv.append(command)
    env = {**os.environ, "PGPASSFILE": str(_pgpass(layout))}
    try:
        result = subprocess.run(
            as_user(user, argv),
            cwd=layout.pgbackrest_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise BackupError(f"pgbackrest {command} took more than {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise StackError(f"cannot run pgbackrest: {exc}") from exc
    if result.returncode != 0:
        raise BackupError(f"pgbackrest {command} failed: {_message(result)}")
    return result.stdout


def _message(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines()]
    errors = [line for line in lines if "ERROR" in line]
    return " ".join(errors or lines[-3:]) or f"exit status {result.returncode}"
