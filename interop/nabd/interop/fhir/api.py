"""The read-only FHIR R4 HTTP API (FastAPI): the export's resources, one page at a time.

Every request except ``GET /metadata`` needs ``Authorization: Bearer <token>`` naming a token
configured in ``NABD_FHIR_TOKENS``; otherwise 401 with ``WWW-Authenticate: Bearer``. Every
successful read or search is recorded in ``audit_log`` (actor = the token's name, action
``fhir_read``, subject = the resource read or the patient searched) in the same transaction as
the read: a read that cannot be audited is not served.

=======================  ===================================================================
``GET /Patient/{id}``    the patient; names and MRN only for an identity-scoped token
``GET /Device/{id}``     a device; ``GET /Device?patient=`` the devices a patient had
``GET /Observation``     ``patient`` (required), ``code``, ``date``, ``_count``, ``_cursor``
``GET /Observation/{id}`` one Observation (spot reading, summary, BP panel or NEWS2)
``GET /Flag``            ``patient`` (required), ``date`` (overlaps the active period), paging
``GET /Flag/{id}``       one alert
=======================  ===================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.resource import Resource

from nabd.interop.fhir import bundle, ids, mapping, query, search
from nabd.interop.fhir.auth import Caller, authenticate
from nabd.interop.fhir.codes import FHIR_VERSION
from nabd.interop.fhir.errors import FhirConfigError, NotFoundError, SearchError
from nabd.interop.fhir.export import to_resource
from nabd.interop.fhir.settings import FhirSettings

log = logging.getLogger(__name__)

FHIR_JSON: Final = "application/fhir+json"
REALM: Final = 'Bearer realm="nabd-fhir"'
ACTION: Final = "fhir_read"

Details = dict[str, Any]
Work = Callable[[Caller, query.Conn], tuple[Resource, str, Details]]
"""A request's work inside its transaction: (response body, audit subject, audit details)."""


def _outcome(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": message}],
        }
    )
    return Response(body.model_dump_json(), status, headers, media_type=FHIR_JSON)


def _unauthorized(request: Request) -> Response:
    presented = "authorization" in request.headers
    challenge = REALM + (', error="invalid_token"' if presented else "")
    if presented:
        client = request.client.host if request.client else "?"
        log.warning("refused a FHIR request with an unknown bearer token from %s", client)
    return _outcome(
        401, "login", "a valid bearer token is required", {"WWW-Authenticate": challenge}
    )


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
        try:
            with query.session(self.settings.database_url, identity=caller.identity) as conn:
                body, subject, details = work(caller, conn)
                query.audit(
                    conn,
                    actor=caller.name,
                    action=ACTION,
                    subject=subject,
                    details=details | {"identity": caller.identity, "query": request.url.query},
                )
        except SearchError as exc:
            return _outcome(400, "invalid", str(exc))
        except NotFoundError as exc:
            return _outcome(404, "not-found", str(exc))
        except FhirConfigError as exc:
            log.error("FHIR request failed: %s", exc)
            return _outcome(503, "transient", "the FHIR service cannot reach its database")
        return Response(body.model_dump_json(), media_type=FHIR_JSON)

    def _searchset(
        self, request: Request, found: list[Resource], next_cursor: search.Cursor | None
    ) -> Resource:
        base = self.base_url(request)
        path = base + request.url.path
        self_url = path + (f"?{request.url.query}" if request.url.query else "")
        next_url = None
        if next_cursor is not None:
            kept = [(k, v) for k, v in request.query_params.multi_items() if k != "_cursor"]
            next_url = f"{path}?{urlencode([*kept, ('_cursor', next_cursor.encode())])}"
        return bundle.searchset(found, base_url=base, self_url=self_url, next_url=next_url)

    # ---- Patient and Device ---------------------------------------------------------------------

    def read_patient(self, request: Request, fhir_id: str) -> Response:
        def work(caller: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            record = query.patient(conn, ids.from_fhir(fhir_id), identity=caller.identity)
            return mapping.patient(record, self.systems), f"Patient/{fhir_id}", {"read": "Patient"}

        return self.handle(request, work)

    def read_device(self, request: Request, fhir_id: str) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            record = query.device(conn, ids.from_fhir(fhir_id))
            return mapping.device(record, self.systems), f"Device/{fhir_id}", {"read": "Device"}

        return self.handle(request, work)

    def search_devices(self, request: Request) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            patient_id = search.device_search(request.query_params.multi_items())
            found: list[Resource] = [
                mapping.device(d, self.systems) for d in query.devices_of(conn, patient_id)
            ]
            return self._page(request, "Device", patient_id, found, None)

        return self.handle(request, work)

    def _page(
        self,
        request: Request,
        resource_type: str,
        patient_id: str,
        found: list[Resource],
        next_cursor: search.Cursor | None,
    ) -> tuple[Resource, str, Details]:
        details = {"search": resource_type, "ids": [r.id for r in found]}
        subject = f"Patient/{ids.to_fhir(patient_id)}"
        return self._searchset(request, found, next_cursor), subject, details

    # ---- Observation ----------------------------------------------------------------------------

    def read_observation(self, request: Request, fhir_id: str) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            record = query.observation(conn, ids.parse_observation_id(fhir_id))
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
            )
            selection = query.Selection(
                wanted.patient_id, wanted.streams, wanted.time, self.settings.summary_period_s
            )
            count = wanted.page.count
            records = query.observations(conn, selection, wanted.page.cursor, count + 1)
            now = datetime.now(UTC)
            found = [to_resource(r, self.systems, now=now) for r in records[:count]]
            more = query.sort_key(records[count - 1]) if len(records) > count else None
            return self._page(request, "Observation", wanted.patient_id, found, more)

        return self.handle(request, work)

    # ---- Flag -----------------------------------------------------------------------------------

    def read_flag(self, request: Request, fhir_id: str) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            record = query.alert(conn, ids.parse_flag_id(fhir_id))
            details = {"read": "Flag", "patient": record.patient_id}
            return mapping.flag(record, self.systems), f"Flag/{fhir_id}", details

        return self.handle(request, work)

    def search_flags(self, request: Request) -> Response:
        def work(_: Caller, conn: query.Conn) -> tuple[Resource, str, Details]:
            wanted = search.flag_search(
                request.query_params.multi_items(),
                default_count=self.settings.page_size,
                max_count=self.settings.max_page_size,
            )
            count = wanted.page.count
            records = query.alerts(
                conn, query.Window(wanted.patient_id, wanted.time, wanted.page.cursor, count + 1)
            )
            found: list[Resource] = [mapping.flag(r, self.systems) for r in records[:count]]
            more = query.alert_cursor(records[count - 1]) if len(records) > count else None
            return self._page(request, "Flag", wanted.patient_id, found, more)

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
    app.add_api_route("/metadata", api.metadata, methods=["GET"])
    app.add_api_route("/Patient/{fhir_id}", api.read_patient, methods=["GET"])
    app.add_api_route("/Device", api.search_devices, methods=["GET"])
    app.add_api_route("/Device/{fhir_id}", api.read_device, methods=["GET"])
    app.add_api_route("/Observation", api.search_observations, methods=["GET"])
    app.add_api_route("/Observation/{fhir_id}", api.read_observation, methods=["GET"])
    app.add_api_route("/Flag", api.search_flags, methods=["GET"])
    app.add_api_route("/Flag/{fhir_id}", api.read_flag, methods=["GET"])
    return app
