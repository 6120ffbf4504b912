"""Pure counting: what the generator produced against what the database holds; the report table.

A reading's identity is ``(device, seq)`` per metric. The straps send a known sequence of values,
one Heart Rate Measurement (one reading) per notification, and the agent numbers each device's
readings in the order it receives them; so ordered by ``seq``, the distinct stored heart rates of
a device must be exactly the values sent, in order. A value missing from that sequence is a lost
reading; a row whose identity is already there is a duplicate; a stored value the generator never
sent (or not in that place) is unexpected.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

Row = tuple[str, int, str, float | None]


@dataclass(frozen=True)
class Tally:
    generated: int
    stored: int
    missing: int
    duplicates: int
    unexpected: int


def tally(sent: Mapping[str, Sequence[float]], rows: Iterable[Row], metric: str) -> Tally:
    """Compare the generator's record with the stored rows (every metric counts for
    duplicates; ``metric`` is the one the generator sends)."""
    rows = list(rows)
    duplicates = len(rows) - len({(d, s, m) for d, s, m, _ in rows})
    by_device: dict[str, dict[int, float | None]] = {d: {} for d in sent}
    for device, seq, key, value in rows:
        if key == metric and device in by_device:
            by_device[device][seq] = value
    missing = unexpected = 0
    for device, values in sent.items():
        stored = [v for _, v in sorted(by_device[device].items())]
        lost, extra = _align(values, stored)
        missing += lost
        unexpected += extra
    stored_count = sum(len(s) for s in by_device.values())
    return Tally(sum(len(v) for v in sent.values()), stored_count, missing, duplicates, unexpected)


def _align(sent: Sequence[float | None], stored: Sequence[float | None]) -> tuple[int, int]:
    """(sent values not found, stored values left over), matching ``stored`` in order as a
    subsequence of ``sent``."""
    i = 0
    for value in sent:
        if i < len(stored) and stored[i] == value:
            i += 1
    matched = i
    return len(sent) - matched, len(stored) - matched


def longest_pause(
    commits: Mapping[str, Sequence[datetime]], start: datetime, end: datetime
) -> float:
    """The write outage as a device sees it: the longest time, for any device, between two
    commits of its readings in ``[start, end]`` (both ends count as commits, so a device never
    stored in the window has paused for all of it). ``commits``: each device's commit times."""
    longest = 0.0
    for times in commits.values():
        marks = [start, *sorted(t for t in times if start <= t <= end), end]
        longest = max(longest, *((b - a).total_seconds() for a, b in itertools.pairwise(marks)))
    return longest if commits else (end - start).total_seconds()


@dataclass(frozen=True)
class ScenarioResult:
    """One row of the report."""

    scenario: str
    generated: int
    stored: int
    missing: int
    duplicates: int
    unexpected: int
    outbox_left: int
    drain_s: float
    note: str = ""
    pause_s: float | None = None
    """:func:`longest_pause` from the fault's start until the generators stop (the write outage;
    a device's readings are otherwise committed every batch, well under a second)."""

    @property
    def clean(self) -> bool:
        return (
            self.missing == 0
            and self.duplicates == 0
            and self.unexpected == 0
            and self.outbox_left == 0
            and self.stored == self.generated
        )


HEADER = (
    "scenario",
    "generated",
    "stored",
    "missing",
    "duplicates",
    "unexpected",
    "outbox left",
    "drain s",
    "pause s",
)


def table(results: Sequence[ScenarioResult]) -> str:
    """A plain-text table, one line per scenario, notes underneath."""
    lines = [
        (
            r.scenario,
            str(r.generated),
            str(r.stored),
            str(r.missing),
            str(r.duplicates),
            str(r.unexpected),
            str(r.outbox_left),
            f"{r.drain_s:.1f}",
            "-" if r.pause_s is None else f"{r.pause_s:.1f}",
        )
        for r in results
    ]
    widths = [max(len(x) for x in column) for column in zip(HEADER, *lines, strict=True)]

    def fmt(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    out = [fmt(HEADER), fmt(["-" * w for w in widths]), *(fmt(c) for c in lines)]
    out += [f"{r.scenario}: {r.note}" for r in results if r.note]
    return "\n".join(out)
