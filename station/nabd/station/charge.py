"""The charge nurse's page (``/charge``): alarm limits per ward and per patient, NEWS2 Scale 2.

The same audited functions as ``nabd alerts limits`` and ``nabd nurse scale``
(:mod:`nabd.analytics.service.alarm_limits`, :func:`nabd.analytics.service.actions.
set_news2_scale`), with the signed-in charge nurse as the clinician: the ``alarm_limit`` and
``patient`` triggers (migrations 0041, 0031) append the audit entries naming her. As on every
page, the ward or patient is first proved hers under her own role (row-level security), then
the station writes with its clinical grants. Scale 2 is for confirmed hypercapnic respiratory
failure with a prescribed 88-92 % target (RCP NEWS2, 2017): a clinical decision the page records,
it cannot check it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response

from nabd.analytics.service import actions, alarm_limits
from nabd.analytics.service.config import LIMIT_METRICS
from nabd.analytics.service.errors import MonitorInputError
from nabd.station import scope
from nabd.station.errors import BadFormError, PhraseKey
from nabd.station.kit import Conn, Kit, RolePage, her_ward
from nabd.station.sessions import SignedIn
from nabd.station.users import Role

__all__ = ["DONE", "ChargeView", "install", "parse_side", "view"]

DONE: Final = ("limit", "clear", "scale")

_Field = Annotated[str, Form(max_length=100)]
_Csrf = Annotated[str | None, Form()]


@dataclass(frozen=True)
class ScaleRow:
    patient_id: str
    ward_id: str
    bed_id: str | None
    scale2: bool


@dataclass(frozen=True)
class ChargeView:
    wards: list[str]
    limits: list[alarm_limits.LimitRow]
    patients: list[ScaleRow]


def view(conn: Conn, user: SignedIn) -> ChargeView:
    """Her wards, their overrides and admitted patients, all read under her role."""
    with scope.as_user(conn, user):
        wards = [str(w) for (w,) in conn.execute("SELECT id FROM ward ORDER BY id")]
        limits = alarm_limits.show_limits(conn)
        rows = conn.execute(
            """SELECT id, ward_id, bed_id, news2_scale2 FROM patient
               WHERE discharged_at IS NULL ORDER BY ward_id, bed_id NULLS LAST, id"""
        ).fetchall()
    return ChargeView(wards, limits, [ScaleRow(str(p), str(w), b, bool(s)) for p, w, b, s in rows])


def parse_side(what: str, text: str) -> float:
    """A limit as typed: blank keeps it, ``off`` switches that side off, else a finite number."""
    cleaned = text.strip().lower()
    if not cleaned:
        return alarm_limits.KEEP
    if cleaned == "off":
        return -math.inf if what == "low" else math.inf
    try:
        value = float(cleaned.replace(",", "."))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BadFormError(
            f"the {what} limit must be a number, 'off' or blank, not {text[:20]!r}",
            phrase="bad_limit", side=PhraseKey(f"side_{what}"), value=text[:20],
        )  # fmt: skip
    return value


def _target(conn: Conn, target: str) -> alarm_limits.Scope:
    """``ward:ID`` or ``patient:ID``, proved hers under her role."""
    kind, _, ident = target.partition(":")
    if kind == "ward":
        return alarm_limits.Scope(ward=her_ward(conn, ident))
    if kind == "patient":
        scope.visible_patient(conn, ident)
        return alarm_limits.Scope(patient=ident)
    raise BadFormError("a limit is for 'ward:ID' or 'patient:ID'", phrase="bad_target")


def _metric(metric: str) -> str:
    if metric not in LIMIT_METRICS:
        raise BadFormError(f"metric must be one of {', '.join(LIMIT_METRICS)}",
                           phrase="bad_metric", metrics=", ".join(LIMIT_METRICS))  # fmt: skip
    return metric


def install(app: FastAPI, kit: Kit) -> None:
    """Add the charge nurse's page and its forms to ``app``."""

    pages = RolePage(kit, "/charge", "charge.html", Role.CHARGE_NURSE, view, DONE,
                     MonitorInputError, lambda _: 409, {"metrics": LIMIT_METRICS})  # fmt: skip
    act = pages.act

    @app.get("/charge", response_class=HTMLResponse)
    def charge_page(request: Request, done: str | None = None) -> Response:
        return pages.show(request, done)

    @app.post("/charge/limits")
    def set_limit(request: Request, *, target: _Field, metric: _Field, low: _Field = "",
                  high: _Field = "", csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            sides = parse_side("low", low), parse_side("high", high)
            where = _target(conn, target)
            scope.as_station(conn)
            alarm_limits.set_limit(conn, where, _metric(metric), low=sides[0], high=sides[1],
                                   nurse=user.name)  # fmt: skip

        return act(request, csrf, "limit", do)

    @app.post("/charge/limits/clear")
    def clear_limit(request: Request, target: _Field, metric: _Field,
                    csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            where = _target(conn, target)
            scope.as_station(conn)
            alarm_limits.clear_limit(conn, where, _metric(metric), nurse=user.name)

        return act(request, csrf, "clear", do)

    @app.post("/charge/scale")
    def set_scale(request: Request, patient: _Field, scale: _Field,
                  csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            if scale not in {"1", "2"}:  # checked once she is known: refused in her language
                raise BadFormError("the SpO2 scale is 1 or 2", phrase="bad_scale")
            scope.visible_patient(conn, patient)
            scope.as_station(conn)
            actions.set_news2_scale(conn, patient, scale == "2", clinician=user.name)

        return act(request, csrf, "scale", do)
