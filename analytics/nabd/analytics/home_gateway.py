"""A patient's home gateway gone silent: the technical alert a remote-monitoring nurse needs.

A ward's ``gateway_offline`` (:func:`nabd.analytics.technical.gateway_offline`) pages after
120 s: a bedside gateway is never meant to stop. A home gateway is a box in someone's living
room: unplugged to free a socket, switched off at night with the internet router, or cut off by
the household's network. Its silence is not an alarm, but it is a call the nurse must make about
the *box*, not about the patient's measurements: while it is silent no reading can arrive,
so "missed weighing" says nothing about whether the patient weighed (a meter or scale with a
memory hands its readings over when the box is back, docs/home-monitoring.md).

* :func:`gateway_silence` - per patient: the home gateway not heard from for longer than the
  plan's ``gateway.silent_after_h`` (:class:`nabd.contract.careplan.GatewaySettings`, 12 h by
  default: our choice, no guideline gives a figure; the reasons are in that class). Silence is
  counted from the gateway's last ``online`` status (ingest's ``gateway.last_seen_at``; the
  agent publishes one every 30 s and at every device change), or from the patient's plan start
  when that is later (a box never plugged in at the patient's home, or one last heard at its
  previous home). An ``offline`` status (its last will or a clean stop) is silence too: the
  duration counts from the last ``online`` one, so a box restarting is no alert.
* :func:`silent_through` - whether a scheduled measurement window passed entirely while the
  gateway was silent (and for more than :data:`HEARTBEAT_GRACE_S`, so that a window shorter
  than the gap between two statuses of a healthy box does not count): then an adherence
  alert's "missed" may be "not received", and its message says so (the adherence alert is
  kept, not withheld: the decision is in the docs).

The alert is low priority and never escalates (``AlertPolicy.escalates``): waiting does not
make an unplugged box a danger to the patient, and the clinical rules still judge whatever
arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import (
    NEVER,
    BoolArray,
    FloatArray,
    IntArray,
    check_now,
    seconds_to_ns,
)
from nabd.analytics.errors import AnalyticsInputError
from nabd.contract.careplan import CarePlan

__all__ = [
    "HEARTBEAT_GRACE_S",
    "GatewaySilence",
    "gateway_silence",
    "silent_after_s",
    "silent_through",
]

HEARTBEAT_GRACE_S: Final = 120.0
"""Silence shorter than this is a healthy box between two statuses, never "silent through a
window": the ward's gateway timeout, four of the edge agent's 30-s statuses (docs/edge.md)."""


def silent_after_s(plans: Sequence[CarePlan]) -> FloatArray:
    """Each plan's ``gateway.silent_after_h`` in seconds, shape ``(patients,)``."""
    return np.array([plan.gateway.silent_after_s for plan in plans], np.float64)


@dataclass(frozen=True)
class GatewaySilence:
    """Per patient: ``active`` silent for longer than the limit; ``heard_at`` (int64 ns) when
    the silence began (the last ``online`` status, or the plan start if later; NEVER without a
    home gateway); ``silent_s`` seconds since then (NaN without a home gateway)."""

    active: BoolArray
    heard_at: IntArray
    silent_s: FloatArray


def gateway_silence(
    now: int,
    last_seen: npt.ArrayLike,
    since: npt.ArrayLike,
    limit_s: npt.ArrayLike,
    has_gateway: npt.ArrayLike,
) -> GatewaySilence:
    """Judge every patient's home gateway at ``now`` (int64 ns).

    ``last_seen`` (int64 ns, NEVER: never heard) is the gateway's last ``online`` status,
    ``since`` (int64 ns) the patient's plan start, ``limit_s`` the plan's silence limit (> 0),
    ``has_gateway`` False for a patient with no home gateway (never silent). Silence strictly
    longer than the limit is active; a status stamped after ``now`` (clock skew) is not silence.
    """
    instant = check_now(now)
    seen = np.asarray(last_seen)
    start = np.asarray(since)
    limit = np.asarray(limit_s, dtype=np.float64)
    has = np.asarray(has_gateway, dtype=np.bool_)
    for name, array in (("last_seen", seen), ("since", start)):
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise AnalyticsInputError(name, "must be 1-D int64 ns, one per patient")
    n = seen.shape[0]
    if start.shape != (n,) or limit.shape != (n,) or has.shape != (n,):
        raise AnalyticsInputError("since/limit_s/has_gateway", f"need one per patient ({n})")
    if not (np.isfinite(limit).all() and (limit > 0).all()):
        raise AnalyticsInputError("limit_s", "must be finite and > 0 s")
    heard = np.maximum(np.where(seen == NEVER, start, seen), start).astype(np.int64)
    silent_ns = np.maximum(instant - heard, 0)
    limit_ns = np.rint(limit * 1e9).astype(np.int64)
    return GatewaySilence(
        active=has & (silent_ns > limit_ns),
        heard_at=np.where(has, heard, NEVER).astype(np.int64),
        silent_s=np.where(has, silent_ns / 1e9, np.nan),
    )


def silent_through(
    now: int, heard_at: npt.ArrayLike, opened: npt.ArrayLike, grace_s: float = HEARTBEAT_GRACE_S
) -> BoolArray:
    """Whether the gateway has not been heard since a window ``opened`` (int64 ns, any shape
    that broadcasts with ``heard_at``) and is silent for more than ``grace_s`` at ``now``: the
    whole window passed with the box silent, so a measurement taken in it may be waiting in the
    device. The grace keeps a healthy box's heartbeat gap from reading as silence when a window
    is shorter than it. NEVER ``heard_at``: no gateway, False.
    """
    instant = check_now(now)
    grace = seconds_to_ns(grace_s)
    heard = np.asarray(heard_at, dtype=np.int64)
    result: BoolArray = (
        (heard != NEVER) & (heard < np.asarray(opened, dtype=np.int64)) & (heard < instant - grace)
    )
    return result
