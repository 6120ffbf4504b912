"""Care plans of patients at home: ``nabd careplan set|show`` (docs/home-monitoring.md).

A plan is stored per admission (``care_plan``, migration 0090) as the JSON of
:class:`nabd.contract.careplan.CarePlan`, validated by that model before it is written, so a
typo or an impossible threshold is refused, never stored. It starts from the defaults of the
patient's programmes (:func:`~nabd.contract.careplan.default_plan`); a clinician's per-patient
changes (``--set weight.dry_weight_kg=78.5``) are applied to the stored plan as a validated
copy. Every change appends one audit entry in the same transaction: who, why, the version and
the old and new JSON (the reference notes ask for a clinician's sign-off on thresholds, and the
dry weight changes over time: the audit log keeps each value with its date and author).

Setting the same plan again writes nothing (a retry is harmless). Naming the programmes again
(``--programme``) starts from their defaults: earlier per-patient changes are not carried over
(``show`` lists what differs from the defaults, so a clinician sees what they would drop).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from nabd.care.errors import CareInputError, CareRefused, Unknown, Why
from nabd.care.patients import require_admitted
from nabd.care.store import Conn, audit, operation
from nabd.care.values import parse_actor, parse_id, parse_text
from nabd.contract.careplan import CarePlan, CarePlanError, Programme, default_plan

__all__ = [
    "StoredPlan",
    "differences",
    "parse_programmes",
    "parse_settings",
    "plan_of",
    "set_plan",
    "show_plan",
]


@dataclass(frozen=True)
class StoredPlan:
    """A patient's current plan with who set it, when and why."""

    patient_id: str
    plan: CarePlan
    version: int
    set_at: datetime
    set_by: str
    reason: str | None

    @property
    def defaults(self) -> CarePlan:
        """The plan its programmes give by default, in its time zone."""
        return default_plan(self.plan.programmes, timezone=self.plan.timezone)


def parse_programmes(values: Sequence[str]) -> tuple[Programme, ...]:
    """Programme names (``heart_failure``, ``hypertension``, ``diabetes``, ``copd``); a value may
    list several separated by ``,`` or ``+``."""
    names = [n.strip() for v in values for n in v.replace("+", ",").split(",") if n.strip()]
    accepted = ", ".join(p.value for p in Programme)
    out: list[Programme] = []
    for name in names:
        try:
            programme = Programme(name)
        except ValueError:
            problem = f"programme {name!r} is not accepted: use one or more of {accepted}"
            raise CareInputError(problem, Why.BAD_CARE_PLAN, problem=problem) from None
        if programme not in out:
            out.append(programme)
    if not out:
        problem = f"--programme: name at least one of {accepted}"
        raise CareInputError(problem, Why.BAD_CARE_PLAN, problem=problem)
    return tuple(out)


def parse_settings(items: Sequence[str]) -> dict[str, Any]:
    """``section.field=value`` items as nested changes for :meth:`CarePlan.with_changes`.

    A value is read as JSON when it is JSON (``1.0``, ``null``, ``[...]``), else as text
    (``timezone=Africa/Tunis``); ``null`` clears an optional threshold (e.g. the dry weight).
    """
    changes: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        path = [p.strip() for p in key.split(".")]
        if not sep or not all(path):
            problem = (
                f"--set {item!r} is not accepted: write SECTION.FIELD=VALUE, "
                "e.g. --set weight.day_gain_kg=1.0"
            )
            raise CareInputError(problem, Why.BAD_CARE_PLAN, problem=problem)
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text.strip()
        node = changes
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                problem = f"--set {item!r}: {part} is set twice"
                raise CareInputError(problem, Why.BAD_CARE_PLAN, problem=problem)
            node = child
        node[path[-1]] = value
    return changes


_SELECT: Final = "SELECT plan, version, set_at, set_by, reason FROM care_plan WHERE patient_id = %s"
_LOCKED: Final = _SELECT + " FOR UPDATE"


def _plan_row(conn: Conn, patient: str, *, lock: bool = False) -> StoredPlan | None:
    query = _LOCKED if lock else _SELECT
    row = conn.execute(query, (patient,)).fetchone()
    if row is None:
        return None
    plan = CarePlan.model_validate(row[0])
    return StoredPlan(patient, plan, int(row[1]), row[2], str(row[3]), row[4])


def _validated(base: CarePlan, changes: Mapping[str, Any]) -> CarePlan:
    try:
        return base.with_changes(changes)
    except CarePlanError as exc:
        raise CareInputError(f"care plan refused: {exc}", Why.BAD_CARE_PLAN,
                             problem=str(exc)) from exc  # fmt: skip


def _base(stored: StoredPlan | None, programmes: Sequence[str] | None, patient: str) -> CarePlan:
    if programmes:
        timezone = "UTC" if stored is None else stored.plan.timezone
        return default_plan(parse_programmes(programmes), timezone=timezone)
    if stored is None:
        raise CareRefused(
            f"patient {patient} has no care plan yet: give its programmes, e.g. "
            "--programme heart_failure",
            Why.NO_CARE_PLAN,
            patient=patient,
        )
    return stored.plan


def set_plan(
    conn: Conn,
    patient_id: str,
    *,
    programmes: Sequence[str] | None = None,
    settings: Sequence[str] = (),
    by: str,
    reason: str | None = None,
) -> tuple[StoredPlan, bool]:
    """Set an admitted patient's plan: the programmes' defaults (``programmes``) or the stored
    plan, with ``settings`` applied. Returns the stored plan and whether anything changed."""
    pid, actor = parse_id("patient", patient_id), parse_actor(by)
    why = None if reason is None else parse_text("--reason", reason, 500)
    changes = parse_settings(settings)
    with operation(conn, f"setting the care plan of patient {pid}"):
        require_admitted(conn, pid)
        stored = _plan_row(conn, pid, lock=True)
        plan = _validated(_base(stored, programmes, pid), changes)
        if stored is not None and stored.plan == plan:
            return stored, False
        version = 1 if stored is None else stored.version + 1
        new_json = plan.model_dump(mode="json")
        row = conn.execute(
            """INSERT INTO care_plan (patient_id, plan, programmes, version, set_by, reason)
               VALUES (%(p)s, %(plan)s::jsonb, %(prog)s, %(v)s, %(by)s, %(why)s)
               ON CONFLICT (patient_id) DO UPDATE SET plan = EXCLUDED.plan,
                   programmes = EXCLUDED.programmes, version = EXCLUDED.version,
                   set_at = now(), set_by = EXCLUDED.set_by, reason = EXCLUDED.reason
               RETURNING set_at""",
            {"p": pid, "plan": json.dumps(new_json), "prog": [p.value for p in plan.programmes],
             "v": version, "by": actor, "why": why},
        ).fetchone()  # fmt: skip
        assert row is not None
        audit(conn, actor, "care_plan_set", f"patient:{pid}",
              {"version": version, "reason": why, "changes": changes,
               "old": None if stored is None else stored.plan.model_dump(mode="json"),
               "new": new_json})  # fmt: skip
        return StoredPlan(pid, plan, version, row[0], actor, why), True


def show_plan(conn: Conn, patient_id: str) -> StoredPlan:
    """A patient's current plan, or :class:`Unknown` saying how to set one."""
    pid = parse_id("patient", patient_id)
    if conn.execute("SELECT 1 FROM patient WHERE id = %s", (pid,)).fetchone() is None:
        raise Unknown(f"no patient {pid!r}: `nabd patient list` shows the admitted ones",
                      Why.NO_PATIENT, patient=pid)  # fmt: skip
    stored = _plan_row(conn, pid)
    if stored is None:
        raise Unknown(
            f"patient {pid} has no care plan: set one with "
            f"`nabd careplan set {pid} --programme heart_failure --by NAME`",
            Why.NO_CARE_PLAN,
            patient=pid,
        )
    return stored


def plan_of(conn: Conn, patient_id: str) -> CarePlan | None:
    """The stored plan of a patient, or None (no plan: a ward patient)."""
    stored = _plan_row(conn, patient_id)
    return None if stored is None else stored.plan


def differences(plan: CarePlan, defaults: CarePlan) -> list[tuple[str, Any, Any]]:
    """``(section.field, default, value)`` where the plan differs from its programmes'
    defaults (the schedule compared whole)."""
    return list(_diff("", plan.model_dump(mode="json"), defaults.model_dump(mode="json")))


def _diff(prefix: str, value: Any, default: Any) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(value, dict) and isinstance(default, dict):
        for key in value:
            yield from _diff(f"{prefix}{key}.", value[key], default.get(key))
    elif value != default:
        yield prefix.rstrip("."), default, value
