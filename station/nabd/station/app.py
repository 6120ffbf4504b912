"""The station's ASGI application: pages, forms and the board's refresh, over one database.

Every request that needs a user resolves her session first; every POST checks the CSRF token;
reads run in her scope (:mod:`nabd.station.scope`). A refusal renders the page with a sentence
in her language and the right status (401, 403, 404, 409), never a stack trace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

import psycopg
from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from nabd.analytics.service import actions
from nabd.analytics.service.errors import AlertActionError, MonitorInputError
from nabd.station import (
    accounts,
    admin,
    board,
    charge,
    consent,
    delays,
    gateways,
    password_change,
    scope,
    sessions,
)
from nabd.station.errors import BadFormError, ForbiddenError, SignInRefusedError, StationError
from nabd.station.gateways import Issuer
from nabd.station.i18n import Translator, direction
from nabd.station.kit import Kit
from nabd.station.refusals import in_words
from nabd.station.sessions import COOKIE, SignedIn
from nabd.station.settings import StationSettings
from nabd.station.users import Language

__all__ = ["COOKIE", "SCREEN_STALE_S", "create_app"]

log = logging.getLogger("nabd.station")

_HERE: Final = Path(__file__).parent
_ENTRY_VALID_S: Final = 4 * 3600.0
"""A nurse's entry (ACVPU, oxygen, a value she measured) counts for 4 h, the default of ``nabd
nurse record``: the 4-hourly round of a NEWS2 of 1-4 (RCP NEWS2 2017, chart 4; a local
policy)."""

SCREEN_STALE_S: Final = 20.0
"""With no good refresh of the board for this long (or three refresh periods, if longer), the
board says it is not up to date (static/board.js): four missed refreshes at the default 5 s."""

Connect = Callable[[], psycopg.Connection[Any]]
_Action = Callable[[psycopg.Connection[Any], SignedIn, uuid.UUID], object]


class _NotSignedIn(Exception):
    """No live session: the page sends the browser to the sign-in form."""


class _MustChangePassword(Exception):
    """An admin reset her password: she chooses her own before anything else."""


_OPEN_WHILE_RESET: Final = frozenset({password_change.PATH, "/logout"})


def create_app(  # noqa: PLR0915 - the factory declares every route over one set of dependencies
    settings: StationSettings, connect: Connect | None = None, issuer: Issuer | None = None
) -> FastAPI:
    """The application; ``connect`` opens a database connection (the settings' URL by default);
    ``issuer`` gives provisioned gateways their credentials (none: the admin's gateway page
    says provisioning is the command's)."""
    url = settings.database_url.get_secret_value()
    open_conn: Connect = connect or (lambda: psycopg.connect(url, autocommit=True))
    app = FastAPI(title="Nabd nurse station", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    templates = Jinja2Templates(directory=_HERE / "templates")
    secure = not settings.insecure_http
    zone = ZoneInfo(settings.time_zone)

    def words(lang: Language) -> Translator:
        return Translator(lang, zone)

    @contextmanager
    def database() -> Iterator[psycopg.Connection[Any]]:
        with open_conn() as conn:
            yield conn

    def user_of(request: Request, conn: psycopg.Connection[Any]) -> SignedIn:
        token = request.cookies.get(COOKIE)
        user = token and sessions.signed_in(conn, token, idle_timeout_s=settings.idle_timeout_s)
        if not user:
            raise _NotSignedIn
        if user.must_change and request.url.path not in _OPEN_WHILE_RESET:
            raise _MustChangePassword
        request.state.lang = user.lang  # a refusal later in the request is said in her language
        return user

    def page(
        request: Request, template: str, user: SignedIn | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        lang = user.lang if user else getattr(request.state, "lang", None) or _language(request)
        t = words(lang)
        for key in ("error", "message"):  # a refusal is said in her language, here
            if isinstance(context.get(key), Exception):
                context[key] = in_words(context[key], t)
        context |= {
            "user": user,
            "t": t,
            "lang": lang.value,
            "dir": direction(lang),
            "now": datetime.now(UTC),
            "refresh_ms": int(settings.refresh_s * 1000),
            "stale_ms": int(max(SCREEN_STALE_S, 3 * settings.refresh_s) * 1000),
            "grafana_url": settings.grafana_url,
        }
        return templates.TemplateResponse(request, template, context, status_code=status)

    def check_csrf(user: SignedIn, token: str | None) -> None:
        if not sessions.csrf_matches(user, token):
            raise ForbiddenError(
                "this form has expired or did not come from this station: reload the page and"
                " try again",
                phrase="refused_csrf",
            )

    @app.exception_handler(_NotSignedIn)
    async def _to_sign_in(request: Request, _exc: _NotSignedIn) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(_MustChangePassword)
    async def _to_change(request: Request, _exc: _MustChangePassword) -> Response:
        return RedirectResponse(password_change.PATH, status_code=303)

    def her_language(request: Request) -> None:
        """Before a refusal's page: her language if the refusal came before the route asked
        who she is (a malformed form is refused by FastAPI before the route runs)."""
        token = request.cookies.get(COOKIE)
        if getattr(request.state, "lang", None) is None and token:
            with database() as conn:
                request.state.lang = sessions.language_of(conn, token)

    @app.exception_handler(StationError)
    async def _refused(request: Request, exc: StationError) -> Response:
        await run_in_threadpool(her_language, request)
        return page(request, "message.html", None, exc.status, message=exc)

    @app.exception_handler(RequestValidationError)
    async def _malformed(request: Request, exc: RequestValidationError) -> Response:
        await run_in_threadpool(her_language, request)
        # FastAPI would answer a JSON dump of pydantic's errors; people get a sentence.
        fields = sorted({str(error["loc"][-1]) for error in exc.errors() if error.get("loc")})
        message = BadFormError(
            "this form was refused: a value is missing, too long or not accepted"
            f" ({', '.join(fields) or 'the request'}); go back, correct it and try again",
            phrase="form_refused", fields=", ".join(fields) or "\N{EN DASH}",
        )  # fmt: skip
        return page(request, "message.html", None, 400, message=message)

    @app.exception_handler(Exception)
    async def _failed(request: Request, exc: Exception) -> Response:
        log.exception("station: %s %s failed", request.method, request.url.path)
        message = StationError("something went wrong on the server; it has been logged",
                               phrase="server_failed")  # fmt: skip
        return page(request, "message.html", None, 500, message=message)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        return page(request, "login.html", None)

    @app.post("/login")
    def login(
        request: Request,
        name: Annotated[str, Form(max_length=63)],
        password: Annotated[str, Form(max_length=1024)],
    ) -> Response:
        with database() as conn:
            try:
                token = sessions.sign_in(
                    conn, name.strip(), password,
                    max_failed=settings.max_failed_sign_ins, lockout_s=settings.lockout_s,
                )  # fmt: skip
            except SignInRefusedError as exc:
                return page(request, "login.html", None, 401, error=exc, name=name)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE, token, httponly=True, secure=secure, samesite="strict", path="/"
        )
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
        with database() as conn:
            user = user_of(request, conn)
            check_csrf(user, csrf)
            sessions.sign_out(conn, request.cookies[COOKIE])
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    def rows_for(
        conn: psycopg.Connection[Any], user: SignedIn, patient: str | None = None
    ) -> list[board.BedRow]:
        with scope.as_user(conn, user):
            if patient is not None:
                scope.visible_patient(conn, patient)
            rows = board.ward_board(conn, patient=patient)
            scope.as_station(conn)
            consent.mark(conn, rows)
            if user.sees_identity:
                what = "ward board" if patient is None else f"patient page {patient}"
                board.with_names(conn, rows, reader=user.name, what=what)
        return rows

    def notices_for(
        conn: psycopg.Connection[Any], user: SignedIn, ward: str | None = None
    ) -> delays.WardNotices:
        """Her wards (or ``ward``, if hers) no longer scored, or whose readings arrive late."""
        with scope.as_user(conn, user):
            wards = [w for w in delays.visible_wards(conn) if ward is None or w == ward]
            occupied = [w for w in delays.occupied_wards(conn) if w in wards]
            scope.as_station(conn)
            return delays.WardNotices(delays.stopped(conn, occupied), delays.late(conn, wards))

    @app.get("/", response_class=HTMLResponse)
    def ward_board(request: Request) -> Response:
        with database() as conn:
            user = user_of(request, conn)
            rows = rows_for(conn, user)
            notices = notices_for(conn, user)
        return page(request, "board.html", user, rows=rows, vitals=board.VITALS, notices=notices)

    @app.get("/board/rows", response_class=HTMLResponse)
    def board_rows(request: Request) -> Response:
        with database() as conn:
            user = user_of(request, conn)
            rows = rows_for(conn, user)
            notices = notices_for(conn, user)
        return page(request, "_refresh.html", user, rows=rows, vitals=board.VITALS, notices=notices)

    @app.get("/patients/{patient_id}", response_class=HTMLResponse)
    def patient_page(request: Request, patient_id: str, done: str | None = None) -> Response:
        with database() as conn:
            user = user_of(request, conn)
            rows = rows_for(conn, user, patient_id)
            notices = notices_for(conn, user, rows[0].ward_id) if rows else None
        if not rows:
            raise _not_found(patient_id)
        return page(request, "patient.html", user, row=rows[0], vitals=board.VITALS,
                    done=done if done in _DONE else None, notices=notices)  # fmt: skip

    def act(request: Request, alert_id: str, csrf: str | None, do: _Action, done: str) -> Response:
        with database() as conn:
            user = user_of(request, conn)
            check_csrf(user, csrf)
            parsed = _alert_id(alert_id)
            with scope.as_user(conn, user):
                patient = scope.visible_alert(conn, str(parsed))
                scope.as_station(conn)
                try:
                    do(conn, user, parsed)
                except (AlertActionError, MonitorInputError) as exc:
                    message = _refusal(conn, words(user.lang), parsed, exc)
                    return _patient_with(request, conn, user, patient, message, 409)
        return RedirectResponse(f"/patients/{patient}?done={done}", status_code=303)

    def _patient_with(  # noqa: PLR0917 - private; the page and what to say on it
        request: Request, conn: psycopg.Connection[Any], user: SignedIn, patient: str,
        message: str, status: int,
    ) -> Response:  # fmt: skip
        rows = rows_for(conn, user, patient)
        notices = notices_for(conn, user, rows[0].ward_id)
        return page(request, "patient.html", user, status, row=rows[0], vitals=board.VITALS,
                    error=message, notices=notices)  # fmt: skip

    @app.post("/alerts/{alert_id}/ack")
    def acknowledge(
        request: Request, alert_id: str, csrf: Annotated[str | None, Form()] = None
    ) -> Response:
        def do(c: psycopg.Connection[Any], u: SignedIn, a: uuid.UUID) -> object:
            return actions.acknowledge(c, a, u.name)

        return act(request, alert_id, csrf, do, "ack")

    @app.post("/alerts/{alert_id}/silence")
    def silence(
        request: Request,
        alert_id: str,
        minutes: Annotated[int, Form(ge=1, le=60)],
        reason: Annotated[str, Form(min_length=1, max_length=200)],
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        def do(c: psycopg.Connection[Any], u: SignedIn, a: uuid.UUID) -> object:
            return actions.silence(c, a, u.name, minutes * 60.0, reason=reason)

        return act(request, alert_id, csrf, do, "silence")

    @app.post("/patients/{patient_id}/observations")
    def record(
        request: Request,
        patient_id: str,
        *,
        acvpu: Annotated[str, Form(max_length=10)] = "",
        oxygen: Annotated[str, Form(max_length=10)] = "",
        rr: Annotated[str, Form(max_length=10)] = "",
        spo2: Annotated[str, Form(max_length=10)] = "",
        pulse: Annotated[str, Form(max_length=10)] = "",
        sbp: Annotated[str, Form(max_length=10)] = "",
        dbp: Annotated[str, Form(max_length=10)] = "",
        temp: Annotated[str, Form(max_length=10)] = "",
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        with database() as conn:
            user = user_of(request, conn)
            check_csrf(user, csrf)
            with scope.as_user(conn, user):
                scope.visible_patient(conn, patient_id)
                scope.as_station(conn)
                measured = {
                    "respiration_rate": rr,
                    "spo2": spo2,
                    "pulse_rate": pulse,
                    "systolic_bp": sbp,
                    "diastolic_bp": dbp,
                    "body_temperature": temp,
                }
                entries, problem = _entries(acvpu, oxygen, measured)
                if problem is not None:
                    message = words(user.lang)(problem)
                    return _patient_with(request, conn, user, patient_id, message, 400)
                try:
                    actions.record_entries(
                        conn, patient_id, entries, valid_for_s=_ENTRY_VALID_S, nurse=user.name
                    )
                except MonitorInputError as exc:
                    refused = in_words(exc, words(user.lang))
                    return _patient_with(request, conn, user, patient_id, refused, 400)
        return RedirectResponse(f"/patients/{patient_id}?done=record", status_code=303)

    kit = Kit(database, user_of, page, check_csrf)
    admin.install(app, kit)
    gateways.install(app, kit, issuer)
    accounts.install(app, kit)
    password_change.install(app, kit)
    charge.install(app, kit)
    return app


_DONE: Final = {"ack": "done_ack", "silence": "done_silence", "record": "done_record"}


def _language(request: Request) -> Language:
    """Before sign-in: the browser's first language we have, else French."""
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in {lang.value for lang in Language}:
            return Language(code)
    return Language.FR


def _alert_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise BadFormError("no such alert (an alert id is a UUID)", phrase="no_alert") from None


def _not_found(patient_id: str) -> StationError:
    from nabd.station.errors import NotFoundError  # noqa: PLC0415 - only on this path

    return NotFoundError(f"no patient {patient_id!r} in your wards", phrase="no_patient",
                         id=patient_id[:63])  # fmt: skip


_BAD_VALUE: Final = {
    "respiration_rate": "bad_rr",
    "spo2": "bad_spo2",
    "pulse_rate": "bad_pulse",
    "systolic_bp": "bad_bp",
    "diastolic_bp": "bad_bp",
    "body_temperature": "bad_temp",
}
"""The phrase that says what a measured value on the observations form must be."""


def _entries(
    acvpu: str, oxygen: str, measured: dict[str, str]
) -> tuple[dict[str, str], str | None]:
    """The nurse entries of the observations form, or the phrase key of what is wrong with it
    (shown in her language on her patient's page, the form still there). ``measured``: the
    values she measured, by catalogue key ('' when not measured); a temperature may be written
    with a decimal comma, as French nurses do."""
    entries = {}
    if acvpu:
        if acvpu not in actions.ENTRY_VALUES["consciousness"]:
            return {}, "bad_acvpu"
        entries["consciousness"] = acvpu
    if oxygen:
        if oxygen not in actions.ENTRY_VALUES["supplemental_oxygen"]:
            return {}, "bad_oxygen"
        entries["supplemental_oxygen"] = oxygen
    for key, text in measured.items():
        value = text.strip().replace(",", ".") if key == "body_temperature" else text.strip()
        if value:
            if actions.MANUAL_RANGES[key].problem(value) is not None:
                return {}, _BAD_VALUE[key]
            entries[key] = value
    if actions.blood_pressure_problem(entries) is not None:
        return {}, "bad_bp"
    if not entries:
        return {}, "nothing_to_record"
    return entries, None


def _refusal(conn: psycopg.Connection[Any], t: Translator, alert_id: uuid.UUID,
             exc: Exception) -> str:  # fmt: skip
    """Why an action was refused, in the user's words: who acknowledged first, if so."""
    row = conn.execute(
        "SELECT state, acknowledged_by FROM alert WHERE id = %s", (alert_id,)
    ).fetchone()
    if row is not None and row[0] == "acknowledged" and row[1]:
        return t("already_acknowledged", who=row[1])
    return in_words(exc, t)
