"""The demo's options, checked once when the command starts.

A plain strict model rather than environment settings: every option is a command-line flag, and
the stack the demo runs against is found by the stack's own settings (``NABD_STATE_DIR``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["DEFAULT_ROSTER", "DemoOptions"]

DEFAULT_ROSTER: Final = (
    "sepsis",
    "stable",
    "opioid_respiratory_depression",
    "bradycardia",
    "stable",
    "paroxysmal_af",
    "hypertensive_crisis",
    "stable",
    "sensor_off",
    "motion_artefacts",
    "stable",
    "battery_drain",
)
"""Scenario of each bed, in order (cycled for more beds): deteriorations that show at x60,
technical faults, and stable patients who should page nobody."""

_UNSUPPORTED: Final = frozenset({"clock_drift"})
"""A drifting device clock is meaningless once simulated time is played onto the wall clock."""


class DemoOptions(BaseModel):
    """What ``nabd demo`` was asked to do."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    patients: int = Field(default=12, ge=1, le=48)
    speed: float = Field(default=60.0, gt=0, le=600)
    """Simulated seconds per wall-clock second (60: an hour a minute)."""
    hours: float = Field(default=12.0, gt=0, le=72)
    """Simulated hours to play when no duration is given."""
    duration_s: float | None = Field(default=None, gt=0)
    """Wall-clock seconds to run; default ``hours`` at ``speed``."""
    seed: int = Field(default=1, ge=0)
    scenarios: tuple[str, ...] = DEFAULT_ROSTER
    per_gateway: int = Field(default=4, ge=1, le=16)
    """Beds per gateway (one edge agent and one device process each)."""
    ward_id: str = Field(default="demo", pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")
    export_dir: Path = Path("demo-dashboards")
    work_dir: Path | None = None
    """Plan, gateway configurations, outboxes and logs; default a fresh temporary folder."""
    state_dir: Path | None = None
    headless: bool = False
    nurse: str = Field(default_factory=lambda: os.environ.get("USER") or "demo-nurse")
    round_hours: float = Field(default=4.0, ge=0, le=24)
    """A simulated nurse's round (ACVPU, air, a counted respiratory rate for every bed) every
    this many simulated hours; 0: no rounds (``nabd.app.demo.rounds``)."""
    lead_in_s: float = Field(default=15.0, ge=0)
    """Wall seconds before any scenario starts: gateways connect, analytics warms up."""
    drain_s: float = Field(default=30.0, gt=0)
    """How long, at the end, the gateways' outboxes may take to reach the database."""

    @field_validator("scenarios")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from nabd.simulators.scenarios import SCENARIO_KINDS  # noqa: PLC0415 (numpy)

        if not value:
            raise ValueError("give at least one scenario")
        for entry in value:
            for kind in entry.split("+"):
                if kind not in SCENARIO_KINDS or kind in _UNSUPPORTED:
                    known = ", ".join(k for k in SCENARIO_KINDS if k not in _UNSUPPORTED)
                    raise ValueError(f"unknown scenario {kind!r}; the demo plays: {known}")
        return value

    @model_validator(mode="after")
    def _room(self) -> DemoOptions:
        if self.lead_in_s >= self.play_s:
            raise ValueError(f"the demo must run longer than its lead-in of {self.lead_in_s:g} s")
        return self

    @property
    def play_s(self) -> float:
        """Wall-clock seconds the ward plays."""
        return self.duration_s if self.duration_s is not None else self.hours * 3600 / self.speed
