"""Files a command writes: whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["written_whole"]


@contextmanager
def written_whole(path: Path) -> Iterator[IO[str]]:
    """Write ``path`` through ``path.part``, renamed when the block ends without error, so a
    reader never finds half a file; the part is removed on failure."""
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("w", encoding="utf-8") as out:
            yield out
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
