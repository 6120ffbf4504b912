"""``nabd fhir``: export a patient as a FHIR R4 Bundle, serve the read-only API, make tokens.

Handlers import the FHIR stack (fhir.resources, FastAPI, psycopg) only when they run, so that
``nabd --help`` works with the base install alone.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from nabd.app.commands import Subparsers, fail, os_user
from nabd.app.commands.files import written_whole
from nabd.app.commands.problems import UsageError, env_names, from_validation

if TYPE_CHECKING:
    from nabd.interop.fhir.settings import FhirSettings


def _instant(text: str) -> datetime:
    """An ISO 8601 instant with a UTC offset, or a day (midnight UTC)."""
    try:
        if len(text) == len("2026-01-01"):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or instant: {text!r}") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a UTC offset (Z or +hh:mm): {text!r}")
    return value.astimezone(UTC)


def _base_url(text: str) -> str:
    from pydantic import TypeAdapter, ValidationError

    from nabd.interop.fhir.settings import BaseUrl

    try:
        return str(TypeAdapter(BaseUrl).validate_python(text))
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(
            f"not an http(s) base URL without query or trailing slash: {text!r}"
        ) from exc


def _ward(text: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", text):
        raise argparse.ArgumentTypeError(f"not a ward id (a-z, 0-9, _ and -): {text!r}")
    return text


def _settings(args: argparse.Namespace) -> FhirSettings:
    """The FHIR settings, or a UsageError naming each bad ``NABD_FHIR_*`` variable."""
    from pydantic import ValidationError

    from nabd.interop.fhir import settings

    overrides = {"database_url": args.database_url} if args.database_url else {}
    try:
        return settings.FhirSettings(**overrides)
    except ValidationError as exc:
        raise from_validation(exc, env_names(settings.FhirSettings)) from None


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    """Standard output or ``path``, written in full or not at all: stdout gets the Bundle only
    once it is complete (a failed export leaves nothing half-written for a pipe to read), a
    file goes through a ``.part`` file."""
    if path is None:
        buffer = io.StringIO()
        yield buffer
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()
        return
    with written_whole(path) as out:
        yield out


def _export(args: argparse.Namespace) -> int:
    """Audit first (committed), then read one snapshot and write it: no unaudited disclosure."""
    from nabd.interop.fhir import bundle, export, query
    from nabd.interop.fhir.errors import FhirError

    settings = _settings(args)
    base_url = args.base_url or settings.public_url
    if base_url is None:
        return fail(
            UsageError(
                "no base URL for the Bundle's fullUrls: pass --base-url or set "
                "NABD_FHIR_PUBLIC_URL to the FHIR API's URL as receivers reach it"
            )
        )
    now = datetime.now(UTC)
    request = export.ExportRequest(
        patient_id=args.patient,
        since=args.since,
        until=args.until or now,
        identity=query.Reader("export", args.actor, f"nabd fhir export --patient {args.patient}")
        if args.identity
        else None,
        period_s=settings.summary_period_s,
        systems=settings.systems,
    )
    try:
        with query.session(settings.database_url, identity=args.identity) as conn:
            query.require_shared(conn, args.patient)  # consent to fhir-sharing (0087)
            query.audit(
                conn,
                actor=args.actor,
                action="fhir_export",
                subject=f"Patient/{args.patient.replace('_', '.')}",
                details={
                    "since": request.window.start.isoformat(),
                    "until": request.until.isoformat(),
                    "identity": args.identity,
                    "out": str(args.out) if args.out else "-",
                },
            )
        with (
            query.session(settings.database_url, identity=args.identity) as conn,
            _output(args.out) as out,
        ):
            count = bundle.write_collection(
                out,
                export.resources(conn, request, now=now),
                base_url=base_url,
                bundle_id=str(uuid.uuid4()),
                timestamp=now,
            )
    except (FhirError, OSError) as exc:
        return fail(exc)
    print(f"nabd: exported {count} resources of patient {args.patient}", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from nabd.interop.fhir import query
    from nabd.interop.fhir.api import create_app
    from nabd.interop.fhir.errors import FhirError

    settings = _settings(args)
    if not settings.tokens:
        return fail(UsageError("no tokens: set NABD_FHIR_TOKENS (see `nabd fhir token`)"))
    if (args.tls_cert is None) != (args.tls_key is None):
        return fail(UsageError("--tls-cert and --tls-key go together"))
    try:
        query.check_roles(settings.database_url, settings.scopes)
    except FhirError as exc:
        return fail(exc)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    from nabd.interop.fhir.auth import new_token, token_digest

    secret = new_token()
    entry: dict[str, object] = {"sha256": token_digest(secret), "identity": args.identity}
    if args.ward:
        entry["wards"] = sorted(set(args.ward))
    grant = {args.name: entry}
    print(secret)
    print(
        "nabd: give the caller the token above (it is shown once) and merge this entry into "
        f"NABD_FHIR_TOKENS: {json.dumps(grant)}",
        file=sys.stderr,
    )
    return 0


def _register_export(commands: Subparsers) -> None:
    export = commands.add_parser(
        "export",
        help="write one patient's data since a time as a FHIR R4 collection Bundle",
        description="Write the Patient, their devices, Observations (spot readings, per-period "
        "summaries of streamed vitals, blood-pressure panels, NEWS2) and alert Flags from "
        "--since on as one FHIR R4 Bundle (JSON). The export is recorded in the audit log.",
    )
    export.add_argument("--patient", required=True, metavar="P", help="pseudonymous patient id")
    export.add_argument("--since", required=True, type=_instant, metavar="T",
                        help="ISO 8601 instant with offset, or a day (UTC)")  # fmt: skip
    export.add_argument("--until", type=_instant, metavar="T", help="default: now")
    export.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    export.add_argument(
        "--identity",
        action="store_true",
        help="include name, MRN and birth date (the login needs nabd_fhir_identity)",
    )
    export.add_argument("--actor", default=f"cli:{os_user()}",
                        help="who the audit log names (default: cli:<user>)")  # fmt: skip
    export.add_argument("--database-url", help="default: $NABD_FHIR_DATABASE_URL")
    export.add_argument(
        "--base-url",
        type=_base_url,
        metavar="URL",
        help="base of the entries' fullUrl, the FHIR API as receivers reach it "
        "(default: $NABD_FHIR_PUBLIC_URL; one of the two is required)",
    )
    export.set_defaults(handler=_export)


def register(subparsers: Subparsers) -> None:
    """Add ``nabd fhir`` and its subcommands."""
    fhir = subparsers.add_parser("fhir", help="HL7 FHIR R4 export and read-only API")
    commands = fhir.add_subparsers(title="fhir commands", metavar="COMMAND", required=True)
    _register_export(commands)
    serve = commands.add_parser(
        "serve",
        help="serve the read-only FHIR API (bearer tokens from NABD_FHIR_TOKENS)",
        description="Serve GET /Patient, /Device, /Observation and /Flag with search and "
        "paging; every read is audited. Put TLS in front (or pass --tls-cert/--tls-key) "
        "before listening beyond 127.0.0.1: bearer tokens must not cross a network in clear.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate chain (enables HTTPS)")
    serve.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    serve.add_argument("--database-url", help="default: $NABD_FHIR_DATABASE_URL")
    serve.set_defaults(handler=_serve)
    token = commands.add_parser(
        "token",
        help="make a bearer token and print its NABD_FHIR_TOKENS entry",
        description="Print a new random token (once) and, on stderr, the entry to add to "
        "NABD_FHIR_TOKENS; only the token's SHA-256 is ever configured.",
    )
    token.add_argument("name", help="the caller's name, recorded as the audit actor")
    token.add_argument("--identity", action="store_true", help="may see names and MRN")
    token.add_argument(
        "--ward",
        action="append",
        type=_ward,
        metavar="WARD",
        help="may read only this ward's patients (repeat for several; default: every ward)",
    )
    token.set_defaults(handler=_token)
