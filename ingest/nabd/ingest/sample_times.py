"""Sample times ingest can believe: a reading far from ingest's clock is stored at its receipt.

Why (issue 17, item 4): the contract accepts any time in [2020, 2100) because a message alone
cannot tell a wrong clock from a right one; ingest can, by its own clock. One contract-valid
batch with device times on 2,000 days of 2040-2045 created 2,000 one-day chunks of the
hypertable (a 14.8 s flush, dashboards' queries 100 times slower), and one heart rate dated 2099
stayed in ``observation_latest`` over every current reading.

The rule, applied to each row when the message is received (:func:`restamp`): a sample time more
than :attr:`Window.future_s` after ingest's clock, or more than :attr:`Window.past_s` before it,
is implausible. The reading is still stored (it was acknowledged: nothing acknowledged is lost),
but

* at the gateway's receipt time (``received_at``) when that one is plausible, else at ingest's
  own receipt of the message: the best bound we have of when it was measured;
* with the quality flag ``time_implausible``, which keeps it out of the physiological detectors
  as a doubtful reading and out of ``observation_latest`` (a time nobody knows must not become
  a patient's "current" value);
* and the message's exact bytes, with the device's claimed times, are kept as a dead letter of
  category ``implausible_time``, marked replayed (nothing for an operator to replay: a record).

Not dead-lettered instead: a batch is refused whole, so one device with a wrong clock would
hide every other patient of its gateway. Rows stay inside [now - past_s, now + future_s]: the
chunks a batch can create are bounded by the window, not by the sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from nabd.contract.payloads import Quality
from nabd.ingest.staging import Row

__all__ = ["FLAG", "Window", "restamp"]

FLAG: Final = Quality.TIME_IMPLAUSIBLE.value


@dataclass(frozen=True, slots=True)
class Window:
    """How far from ingest's clock a sample time may lie (settings ``future_tolerance_s``,
    ``past_horizon_days``)."""

    future_s: float = 300.0
    """Clocks drift and are set by hand: five minutes ahead is still believed."""
    past_s: float = 8 * 86_400.0
    """The gateway outbox keeps readings 7 days by default (edge ``outbox.max_age_h``), plus a
    day of device memory: anything older cannot have come through a healthy pipeline."""

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        return now - timedelta(seconds=self.past_s), now + timedelta(seconds=self.future_s)


def restamp(rows: tuple[Row, ...], now: datetime, window: Window) -> tuple[tuple[Row, ...], int]:
    """``rows`` with every implausible sample time replaced and flagged; and how many were."""
    low, high = window.bounds(now)
    times = [row[0] for row in rows]
    if low <= min(times) and max(times) <= high:  # the usual case: one pass, no copy
        return rows, 0
    out: list[Row] = []
    changed = 0
    for row in rows:
        if low <= row[0] <= high:
            out.append(row)
            continue
        changed += 1
        received = row[6]
        at = received if low <= received <= high else now
        flags = sorted({*row[5], FLAG})
        out.append((at, row[1], row[2], row[3], row[4], flags, received, row[7]))
    return tuple(out), changed
