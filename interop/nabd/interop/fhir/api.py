"""The read-only FHIR R4 HTTP API (FastAPI): the export's resources, one page at a time.

Every request except ``GET /metadata`` needs ``Authorization: Bearer <token>`` naming a token
configured in ``NABD_FHIR_TOKENS``; otherwise 401 with ``WWW-Authenticate: Bearer``. Every
successful read or search is recorded in ``audit_log`` (actor = the token's name, action
``fhir_read``, subject = the resource read or the patient searched) in the same transaction as
the read: a read that cannot be audited is not served.

**Consent** (docs/consent.md "FHIR sharing", migration 0087): a patient whose record may not be
shared (no consent to ``fhir-sharing`` in force where the deployment requires one, or one
withdrawn) has nothing served. A read of their Patient, Observation or Flag is refused with 403
and an OperationOutcome (issue code ``suppressed``: "not returned due to consent or privacy
rules"); a search for them answers 200 with an empty searchset whose OperationOutcome entry says
so (what a search may not return is left out, the outcome says why); a Device read leaves out
its ``patient`` reference. A caller who cannot see the patient (another ward) gets 404 first.

Every refusal is an OperationOutcome with a 4xx status (the 5xx are the database being
unreachable, 503, and a defect of ours, 500, logged with its traceback, whose body says only
that): 400 bad search, 401 no token, 404 unknown id or route, 405 not GET, 406 not JSON,
414 request target too long (:mod:`.limits`). A ward-scoped token gets 404 for another ward's
patient exactly as for one that does not exist, so it learns nothing about who is where.

=======================  ===================================================================
``GET /Patient/{id}``    the patient; names and MRN only for an identity-scoped token
``GET /Device/{id}``     a device; ``GET /Device?patient=`` the devices a patient had
``GET /Observation``     ``patient`` (required), ``category``, ``code``, ``date``, ``_count``,
                         ``_sort``, ``_cursor``
``GET /Observation/{id}`` one Observation (spot reading, summary, BP panel or NEWS2)
``GET /Flag``            ``patient`` (required), ``date`` (overlaps the active period), paging
``GET /Flag/{id}``       one alert
=======================  ===================================================================
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

import psycopg
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.resource import Resource
from starlette.exceptions import HTTPException

from nabd.interop.fhir import bundle, formats, ids, limits, mapping, query, search
from nabd.interop.fhir.auth import Caller, authenticate
from nabd.interop.fhir.codes import FHIR_VERSION
from nabd.interop.fhir.errors import FhirError, NotFoundError, NotSharedError, SearchError
from nabd.interop.fhir.export import to_resource
from nabd.interop.fhir.settings import FhirSettings

log = logging.getLogger(__name__)

FHIR_JSON: Final = "application/fhir+json"
REALM: Final = 'Bearer realm="nabd-fhir"'
ACTION: Final = "fhir_read"

Details = dict[str, Any]
Work = Callable[[Caller, query.Conn], tuple[Resource, str, Details]]
"""A request's work inside its transaction: (response body, audit subject, audit details)."""


ISSUE_CODES: Final = {
    400: "invalid",
    401: "login",
    403: "suppressed",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    414: "too-long",
}


def outcome_resource(code: str, message: str, severity: str = "error") -> OperationOutcome:
    return OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": message}],
        }
    )


def _outcome(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = outcome_resource(code, message)
    return Response(body.model_dump_json(), status, headers, media_type=FHIR_JSON)


def strict_handling(request: Request) -> bool:
    """Whether the client sent ``Prefer: handling=strict`` (FHIR R4 search, 3.1.1.3.4)."""
    prefer = ",".join(request.headers.getlist("prefer")).replace(";", ",")
    return any(p.strip().replace(" ", "").lower() == "handling=strict" for p in prefer.split(","))


def _too_much(request: Request) -> Response | None:
    """414 or 400 for a request target no FHIR client sends, before anything else is done."""
    target = len(request.scope.get("raw_path", b"")) + len(request.scope.get("query_string", b""))
    if target > limits.MAX_TARGET_BYTES:
        return _outcome(
            414,
            "too-long",
            f"the request target is {target} bytes; at most {limits.MAX_TARGET_BYTES} are accepted",
        )
    if len(request.query_params.multi_items()) > limits.MAX_PARAMS:
        return _outcome(
            400, "too-long", f"at most {limits.MAX_PARAMS} query parameters are accepted"
        )
    return None


def _not_json(request: Request) -> Response | None:
    """406 when the client asked for a format other than JSON."""
    asked = request.query_params.getlist("_format")
    if formats.acceptable(request.headers.get("accept"), asked):
        return None
    return _outcome(406, "not-supported", f"only FHIR JSON is served: {formats.ACCEPTED}")


async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Size limits and content negotiation, for every route (:mod:`.limits`, :mod:`.formats`)."""
    refused = _too_much(request) or _not_json(request)
    return refused if refused is not None else await call_next(request)


async def http_error(_: Request, exc: Exception) -> Response:
    """Starlette's own refusals (unknown route 404, method 405) as OperationOutcomes."""
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    detail = exc.detail if isinstance(exc, HTTPException) else "bad request"
    headers = getattr(exc, "headers", None)
    return _outcome(status, ISSUE_CODES.get(status, "processing"), str(detail), headers)


async def internal_error(_: Request, exc: Exception) -> Response:
    """A defect of ours: logged with its traceback, answered without one."""
    log.error("FHIR request failed", exc_info=exc)
    return _outcome(500, "exception", "internal error; the server log has the details")


def _refusal(exc: Exception) -> Response:
    """The answer to a request that failed for a known reason (the rest are 500s)."""
    if isinstance(exc, SearchError):
        return _outcome(400, "invalid", str(exc))
    if isinstance(exc, NotFoundError):
        return _outcome(404, "not-found", str(exc))
    if isinstance(exc, NotSharedError):
        return _outcome(403, "suppressed", str(exc))
    if isinstance(exc, psycopg.DataError):  # input no check caught, refused by PostgreSQL
        log.warning("FHIR request with a value the database refuses: %s", exc)
        return _outcome(400, "invalid", "a value in the request cannot be searched for")
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return _outcome(503, "too-costly", "the search took over 30 s; narrow it with date or code")
    log.error("FHIR request failed: %s", exc)
    return _outcome(503, "transient", "the FHIR service cannot reach its database")


def _unauthorized(request: Request) -> Response:
    presented = "authorization" in request.headers
    challenge = REALM + (', error="invalid_token"' if presented else "")
    if presented:
        client = request.client.host if request.client else "?"
        log.warning("refused a FHIR request with an unknown bearer token from %s", client)
    return _outcome(
        401, "login", "a valid bearer token is required", {"WWW-Authenticate": challenge}
    )


def _wards(caller: Caller) -> list[str] | None:
    return None if caller.wards is None else sorted(caller.wards)


def _audited(asked: search.Request) -> Details:
    """What the audit row keeps of a request's query: bounded and normalised (:mod:`.limits`)."""
    return {
        "query": limits.audit_query(asked.applied),
        "ignored": limits.audit_names(asked.ignored),
    }


class FhirApi:
    """The handlers, bound to one configuration."""

    def __init__(self, settings: FhirSettings) -> None:
        self.settings = settings
        self.systems = settings.systems

    def base_url(self, request: Request) -> str:
        return self.settings.public_url or str(request.base_url).rstrip("/")

    def handle(self, request: Request, work: Work) -> Response:
        """Authenticate, run ``work`` in an audited transaction, map errors to OperationOutcome."""
        caller = authenticate(request.headers.get("authorization"), self.settings.tokens)
        if caller is None:
            return _unauthorized(request)
        scope = {"identity": caller.identity, "wards": _wards(caller)}
        asked = search.split(request.query_params.multi_items(), frozenset(), strict=False)
        try:
            with query.session(
                self.settings.database_url, identity=caller.identity, wards=caller.wards
            ) as conn:
                body, subject, details = work(caller, conn)
                query.audit(conn, actor=caller.name, action=ACTION, subject=subject,
                            details=_audited(asked) | details | scope)  # fmt: skip
        except (FhirError, psycopg.DataError, psycopg.OperationalError) as exc:
            return _refusal(exc)
        return Response(body.model_dump_json(), media_type=FHIR_JSON)

    def _searchset(
        self,
        request: Request,
        found: list[Resource],
        next_cursor: search.Cursor | None,
        asked: search.Request,
        withheld: str | None = None,
    ) -> Resource:
        base = self.base_url(request)
        path = base + request.url.path
        applied = [(k, v) for k, v in asked.applied if k != "_cursor"]
        self_url = path + (f"?{urlencode(asked.applied)}" if asked.applied else "")
        next_url = None
        if next_cursor is not None:
            next_url = f"{path}?{urlencode([*applied, ('_cursor', next_cursor.encode())])}"
        issues = []
        if asked.ignored:
            names = ", ".join(limits.audit_names(asked.ignored))
            issues.append(("not-supported", f"search parameter(s) ignored: {names}"))
        if withheld is not None:
            issues.append(("suppressed", withheld))
        warning = None
        if issues:
            warning = OperationOutcome.model_validate(
                {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {"severity": "warning", "code": code, "diagnostics": text}
                        for code, text in issues
                    ],
                }
            )
        return bundle.searchset(
            found, base_url=base, self_url=self_url, next_url=next_url, outcome=warning
        )

    # ---- Patient and Device ---------------------------------------------------------------------

    def read_patient(self, request: Request, fhir_id: str) -> Response:
        def work(caller: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            reader = query.Reader("fhir", caller.name, f"Patient/{fhir_id}")
            patient_id = ids.from_fhir(fhir_id)
            query.require_shared(conn, patient_id)  # before identity is read (and logged)
            record = query.patient(conn, patient_id, identity=reader if caller.identity else None)
            return mapping.patient(record, self.systems), f"Patient/{fhir_id}", {"read": "Patient"}

        return self.handle(request, work)

    def read_device(self, request: Request, fhir_id: str) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            record = query.device(conn, ids.from_fhir(fhir_id))
            if record.patient_id is not None and not query.sharing_allowed(
                conn, record.patient_id
            ):  # the equipment is the hospital's; whom it measures is not shared
                record = dataclasses.replace(record, patient_id=None)
            return mapping.device(record, self.systems), f"Device/{fhir_id}", {"read": "Device"}

        return self.handle(request, work)

    def search_devices(self, request: Request) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            wanted = search.device_search(
                request.query_params.multi_items(), strict=strict_handling(request)
            )
            if self._withheld(conn, wanted.patient_id):
                return self._page_withheld(request, "Device", wanted.patient_id, wanted.request)
            found: list[Resource] = [
                mapping.device(d, self.systems) for d in query.devices_of(conn, wanted.patient_id)
            ]
            return self._page(
                request, "Device", wanted.patient_id, found=found, more=None, asked=wanted.request
            )

        return self.handle(request, work)

    def _page(
        self,
        request: Request,
        resource_type: str,
        patient_id: str,
        *,
        found: list[Resource],
        more: search.Cursor | None,
        asked: search.Request,
    ) -> tuple[Resource, str, Details]:
        details = {"search": resource_type, "ids": [r.id for r in found]} | _audited(asked)
        subject = f"Patient/{ids.to_fhir(patient_id)}"
        return self._searchset(request, found, more, asked), subject, details

    @staticmethod
    def _withheld(conn: query.Conn, patient_id: str) -> bool:
        """Whether a search for the patient must come back empty for lack of consent. One the
        caller cannot see is searched as usual (nothing of theirs is found), so a ward-scoped
        caller learns nothing about another ward's consents."""
        try:
            query.require_shared(conn, patient_id)
        except NotFoundError:
            return False
        except NotSharedError:
            return True
        return False

    def _page_withheld(
        self, request: Request, resource_type: str, patient_id: str, asked: search.Request
    ) -> tuple[Resource, str, Details]:
        """The empty searchset of a patient whose record is not shared, saying why."""
        body = self._searchset(request, [], None, asked, withheld=query.not_shared(patient_id))
        details = {"search": resource_type, "ids": [], "withheld": "no fhir-sharing consent"}
        return body, f"Patient/{ids.to_fhir(patient_id)}", details | _audited(asked)

    # ---- Observation ----------------------------------------------------------------------------

    def read_observation(self, request: Request, fhir_id: str) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            record = query.observation(conn, ids.parse_observation_id(fhir_id))
            query.require_shared(conn, record.patient_id)
            resource = to_resource(record, self.systems, now=datetime.now(UTC))
            details = {"read": "Observation", "patient": record.patient_id}
            return resource, f"Observation/{fhir_id}", details

        return self.handle(request, work)

    def search_observations(self, request: Request) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            wanted = search.observation_search(
                request.query_params.multi_items(),
                self.systems,
                default_count=self.settings.page_size,
                max_count=self.settings.max_page_size,
                strict=strict_handling(request),
            )
            if self._withheld(conn, wanted.patient_id):
                return self._page_withheld(
                    request, "Observation", wanted.patient_id, wanted.request
                )
            selection = query.Selection(
                wanted.patient_id, wanted.streams, wanted.time, self.settings.summary_period_s
            )
            page = wanted.page
            records = query.observations(
                conn, selection, page.cursor, page.count + 1, descending=page.descending
            )
            now = datetime.now(UTC)
            found = [to_resource(r, self.systems, now=now) for r in records[: page.count]]
            more = query.sort_key(records[page.count - 1]) if len(records) > page.count else None
            return self._page(
                request,
                "Observation",
                wanted.patient_id,
                found=found,
                more=more,
                asked=wanted.request,
            )

        return self.handle(request, work)

    # ---- Flag -----------------------------------------------------------------------------------

    def read_flag(self, request: Request, fhir_id: str) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            record = query.alert(conn, ids.parse_flag_id(fhir_id))
            query.require_shared(conn, record.patient_id)
            details = {"read": "Flag", "patient": record.patient_id}
            return mapping.flag(record, self.systems), f"Flag/{fhir_id}", details

        return self.handle(request, work)

    def search_flags(self, request: Request) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            wanted = search.flag_search(
                request.query_params.multi_items(),
                default_count=self.settings.page_size,
                max_count=self.settings.max_page_size,
                strict=strict_handling(request),
            )
            if self._withheld(conn, wanted.patient_id):
                return self._page_withheld(request, "Flag", wanted.patient_id, wanted.request)
            count = wanted.page.count
            records = query.alerts(
                conn, query.Window(wanted.patient_id, wanted.time, wanted.page.cursor, count + 1)
            )
            found: list[Resource] = [mapping.flag(r, self.systems) for r in records[:count]]
            more = query.alert_cursor(records[count - 1]) if len(records) > count else None
            return self._page(
                request, "Flag", wanted.patient_id, found=found, more=more, asked=wanted.request
            )

        return self.handle(request, work)

    # ---- Capabilities ---------------------------------------------------------------------------

    def metadata(self, request: Request) -> Response:
        """What this server does (public: it says nothing about any patient)."""
        statement = capability_statement(self.base_url(request), datetime.now(UTC))
        return Response(statement.model_dump_json(), media_type=FHIR_JSON)


def _reference(name: str) -> dict[str, str]:
    return {"name": name, "type": "reference"}


def capability_statement(base_url: str, now: datetime) -> CapabilityStatement:
    read, search_type = {"code": "read"}, {"code": "search-type"}
    per_patient = [_reference("patient"), _reference("subject")]
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": mapping.instant(now),
            "kind": "instance",
            "fhirVersion": FHIR_VERSION,
            "format": ["json"],
            "implementation": {"description": "Nabd read-only FHIR API", "url": base_url},
            "rest": [
                {
                    "mode": "server",
                    "security": {"description": "OAuth-style bearer token (RFC 6750)"},
                    "resource": [
                        {"type": "Patient", "interaction": [read]},
                        {
                            "type": "Device",
                            "interaction": [read, search_type],
                            "searchParam": [_reference("patient")],
                        },
                        {
                            "type": "Observation",
                            "interaction": [read, search_type],
                            "searchParam": [
                                *per_patient,
                                {"name": "category", "type": "token"},
                                {"name": "code", "type": "token"},
                                {"name": "date", "type": "date"},
                            ],
                        },
                        {
                            "type": "Flag",
                            "interaction": [read, search_type],
                            "searchParam": [*per_patient, {"name": "date", "type": "date"}],
                        },
                    ],
                }
            ],
        }
    )


def create_app(settings: FhirSettings) -> FastAPI:
    """The ASGI app (serve it with ``nabd fhir serve`` or any ASGI server)."""
    api = FhirApi(settings)
    app = FastAPI(title="Nabd FHIR R4 (read-only)", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(guard)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, http_error)
    app.add_exception_handler(Exception, internal_error)
    app.add_api_route("/metadata", api.metadata, methods=["GET"])
    app.add_api_route("/Patient/{fhir_id}", api.read_patient, methods=["GET"])
    app.add_api_route("/Device", api.search_devices, methods=["GET"])
    app.add_api_route("/Device/{fhir_id}", api.read_device, methods=["GET"])
    app.add_api_route("/Observation", api.search_observations, methods=["GET"])
    app.add_api_route("/Observation/{fhir_id}", api.read_observation, methods=["GET"])
    app.add_api_route("/Flag", api.search_flags, methods=["GET"])
    app.add_api_route("/Flag/{fhir_id}", api.read_flag, methods=["GET"])
    return app
