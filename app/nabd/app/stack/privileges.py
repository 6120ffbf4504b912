"""Running each server as its own system user when ``nabd`` itself runs as root.

``initdb`` and ``postgres`` refuse to run as root, and ``mosquitto`` started as root drops to the
``mosquitto`` user by itself. So as root the stack gives every file a server reads or writes to
that server's user and starts the PostgreSQL binaries through ``runuser``; as an ordinary user
everything simply runs as that user and no ownership changes. The state folder must then be
reachable (every parent searchable) by those users, which is checked up front because the
servers' own errors about it are cryptic.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from nabd.app.stack.errors import StackInputError, ToolMissingError

POSTGRES_USER: Final = "postgres"
MOSQUITTO_USER: Final = "mosquitto"


@dataclass(frozen=True)
class ServiceUser:
    """A system account a server runs as: its name, ids and every group it belongs to."""

    name: str
    uid: int
    gid: int
    groups: frozenset[int]


def is_root() -> bool:
    """Whether this process runs with euid 0 (and so must hand servers to their own users)."""
    return os.geteuid() == 0


def service_user(name: str) -> ServiceUser | None:
    """The system user ``name`` when running as root, else ``None`` (servers run as us)."""
    if not is_root():
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError as exc:
        raise ToolMissingError(
            f"system user {name!r} does not exist: install its Debian package (scripts/bootstrap)"
        ) from exc
    groups = {g.gr_gid for g in grp.getgrall() if name in g.gr_mem} | {entry.pw_gid}
    return ServiceUser(name, entry.pw_uid, entry.pw_gid, frozenset(groups))


def as_user(user: ServiceUser | None, argv: Sequence[str]) -> list[str]:
    """``argv`` run as ``user`` (through runuser) or as ourselves when ``user`` is ``None``."""
    if user is None:
        return list(argv)
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    if not Path(runuser).exists():
        raise ToolMissingError("runuser (util-linux) is needed to start servers as root")
    return [runuser, "-u", user.name, "--", *argv]


def give(path: Path, user: ServiceUser | None, mode: int) -> None:
    """Set ``path``'s mode and, as root, hand it to ``user``."""
    if user is not None:
        os.chown(path, user.uid, user.gid)
    path.chmod(mode)


def _can_search(info: os.stat_result, user: ServiceUser) -> bool:
    if info.st_uid == user.uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in user.groups:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def check_reachable(path: Path, user: ServiceUser | None) -> None:
    """Raise :class:`StackInputError` unless ``user`` can walk down to ``path``."""
    if user is None:
        return
    for ancestor in reversed(path.resolve().parents):
        info = ancestor.stat()
        if not _can_search(info, user):
            raise StackInputError(
                f"{ancestor} (mode {stat.filemode(info.st_mode)}) cannot be entered by the "
                f"{user.name!r} user the server runs as; choose a state folder under a "
                "world-searchable folder (NABD_STATE_DIR or --state-dir)"
            )
