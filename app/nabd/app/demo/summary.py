"""The end-of-demo summary (pure): readings generated vs ingested, alerts vs the scenarios'
labels, where the dashboards went.

Alerts are matched to labels by :func:`nabd.app.evaluation.score`, the same rule as
``nabd evaluate``: a label is found when an alert of a matching condition
(:data:`~nabd.app.evaluation.MATCHES`) is raised for its patient between its onset and
its offset plus a grace period, or was already open at onset; an alert no label explains is
false. Only alerts raised while the ward was playing count (once the devices stop, every patient
would go stale), and only labels whose onset was played count as expected: a demo stopped early
(Ctrl-C) has not reached the later scenarios, and they are not detection failures. The summary
says how much of the plan was played, in simulated time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from nabd.analytics.alerts import AlertEventKind
from nabd.app.demo.snapshot import AlertRow, News2Counts
from nabd.app.evaluation import RaisedAlert, score
from nabd.simulators.labels import Label

__all__ = ["ConditionLine", "Played", "Summary", "render_summary", "span", "summarise"]

GRACE_S: Final = 60.0
"""Wall seconds after a label's end in which an alert still counts as finding it (analytics'
delays are wall-clock: 10 s for a hard limit, 30 s for NEWS2)."""


@dataclass(frozen=True)
class ConditionLine:
    condition: str
    expected: int
    raised: int

    @property
    def missed(self) -> int:
        return self.expected - self.raised


@dataclass(frozen=True)
class Played:
    """How much of the planned play ran: wall seconds played of those planned, at ``speed``."""

    wall_start: float
    """Epoch seconds at which the ward started playing."""
    planned_s: float
    """Wall seconds the plan plays."""
    speed: float
    """Simulated seconds per wall second."""
    until: float
    """When the devices stopped (epoch seconds)."""

    @property
    def played_s(self) -> float:
        """Wall seconds actually played (0 when stopped before the start)."""
        return min(max(self.until - self.wall_start, 0.0), self.planned_s)

    @property
    def fraction(self) -> float:
        return self.played_s / self.planned_s if self.planned_s > 0 else 1.0

    def describe(self) -> str:
        """``played 1 h 50 min of 12 h planned (15 %)``, in simulated time."""
        return (
            f"played {span(self.played_s * self.speed)} of "
            f"{span(self.planned_s * self.speed)} planned ({round(self.fraction * 100)} %)"
        )


def span(seconds: float) -> str:
    """A duration as people say it: ``1 h 50 min``, ``12 h``, ``45 min``, ``30 s``."""
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes = round(seconds / 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


@dataclass(frozen=True)
class Summary:
    generated: int
    ingested: int
    lines: tuple[ConditionLine, ...]
    false_alerts: dict[str, int]
    not_evaluated: dict[str, int]
    alerts_raised: int
    export_dir: Path | None
    refused: int = 0
    """Samples the devices sent that the gateway refused as impossible (not readings)."""
    exported_files: int = 0
    by_patient: dict[str, list[str]] = field(default_factory=dict)
    """Patient id -> the conditions of the alerts raised for it."""
    played: Played | None = None
    not_reached: int = 0
    """Labels whose onset came after the stop (not counted as expected)."""
    news2: News2Counts | None = None

    @property
    def lossless(self) -> bool:
        return self.generated == self.ingested


def summarise(
    *,
    generated: int,
    ingested: int,
    labels: Sequence[Label],
    refused: int = 0,
    alerts: Sequence[AlertRow],
    played: Played,
    export_dir: Path | None,
    exported_files: int = 0,
    news2: News2Counts | None = None,
) -> Summary:
    """Count and match up to ``played.until``, when the devices stopped: later alerts are
    ignored, and so are labels whose onset had not been played by then."""
    until = played.until
    kept = [a for a in alerts if a.raised_at <= until]
    reached = [label for label in labels if label.onset <= until]
    raised = [
        RaisedAlert(
            patient_id=a.patient_id,
            condition=a.condition,
            at=a.raised_at,
            kind=AlertEventKind.RAISED,
            resolved_at=a.resolved_at,
        )
        for a in kept
    ]
    patients = len({label.patient_id for label in labels}) or 1
    outcome = score(reached, raised, patients=patients, seconds=1.0, grace_s=GRACE_S)
    lines = tuple(
        ConditionLine(condition, s.labels, s.detected)
        for condition, s in sorted(outcome.by_label.items())
    )
    by_patient: dict[str, list[str]] = {}
    for a in kept:
        by_patient.setdefault(a.patient_id, []).append(a.condition)
    return Summary(
        generated=generated,
        ingested=ingested,
        refused=refused,
        lines=lines,
        false_alerts=dict(sorted(outcome.false_by_alert.items())),
        not_evaluated=outcome.not_evaluated,
        alerts_raised=len(kept),
        export_dir=export_dir,
        exported_files=exported_files,
        by_patient=by_patient,
        played=played,
        not_reached=len(labels) - len(reached),
        news2=news2,
    )


def _news2_line(counts: News2Counts) -> str:
    """``40 scores, 12 complete (all seven parameters), 30 with a respiratory rate``: an
    incomplete score is a lower bound (RCP NEWS2 2017), so how many were complete matters."""
    return (
        f"{counts.scores} scores, {counts.complete} complete (all seven parameters), "
        f"{counts.with_respiration_rate} with a respiratory rate"
    )


def render_summary(summary: Summary) -> str:
    """The summary as the demo prints it."""
    out = ["", "Nabd demo: summary", ""]
    verdict = "equal" if summary.lossless else "DIFFERENT: READINGS WERE LOST OR DUPLICATED"
    out.append(f"readings  generated {summary.generated}, ingested {summary.ingested} ({verdict})")
    if summary.played is not None:
        out.append(f"ward      {summary.played.describe()}")
    if summary.news2 is not None:
        out.append(f"NEWS2     {_news2_line(summary.news2)}")
    out.append(f"alerts    {summary.alerts_raised} raised while the ward played")
    if summary.lines:
        out.append("")
        out.append(f"  {'scenario label':<24} {'expected':>8} {'raised':>7} {'missed':>7}")
        out += [
            f"  {line.condition:<24} {line.expected:>8} {line.raised:>7} {line.missed:>7}"
            for line in summary.lines
        ]
    false = ", ".join(f"{k} {v}" for k, v in summary.false_alerts.items()) or "none"
    out.append(f"  alerts no label explains: {false}")
    if summary.not_reached:
        out.append(
            f"  scenario labels not reached before the stop (not counted): {summary.not_reached}"
        )
    if summary.not_evaluated:
        skipped = ", ".join(f"{k} {v}" for k, v in summary.not_evaluated.items())
        out.append(f"  not evaluated (nothing detects them yet): {skipped}")
    if summary.export_dir is not None:
        out.append("")
        out.append(
            f"dashboards {summary.exported_files} files in {summary.export_dir} "
            "(Grafana provisioning: mount it as /etc/grafana/provisioning), or push them with:"
        )
        out.append("  NABD_GRAFANA_TOKEN=... nabd dashboards deploy --url http://grafana:3000")
    return "\n".join(out)
