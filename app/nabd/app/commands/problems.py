"""People's words for whatever a ``nabd`` command refuses: one style for every command.

A refusal is one or two lines on stderr, ``nabd: error: ...``, naming the field (as the user
spells it: an option or an environment variable), the value given (never a secret) and what is
accepted; never a traceback, a raw pydantic dump or a constraint name. The exit status is 2 for
a usage error (bad input the user can fix on the command line or in the environment) and 1 for
a refused operation (unknown or discharged patient, unreachable database, a component's own
error). What a command prints on stdout is printed only once it has succeeded.

The whole API (kept small: every command group uses only this):

* :class:`UsageError` (exit 2) and :class:`RefusedError` (exit 1): raise them from a handler
  with a sentence; both are a :class:`Problem`.
* :func:`from_validation` turns a pydantic ``ValidationError`` into a :class:`UsageError`: one
  line per field (every missing environment variable in one line), with ``names`` mapping a
  model's field to what the user typed (``{"duration_s": "--duration"}``; by default a field
  ``per_gateway`` is ``--per-gateway``, and for settings the variable: see :func:`env_names`).
* :func:`from_database` turns a ``psycopg.Error`` into a :class:`RefusedError` in people's
  words: unknown patient, ward, device or alert (foreign keys), discharged patient (migration
  0032's ``patient_admitted``), duplicates, values out of range, an unreachable database, a
  login without the privilege.
* :func:`report` prints any exception that way and returns its exit status: ``nabd.app.cli``
  calls it for whatever a handler raises, and :func:`nabd.app.commands.fail` for what a handler
  catches itself. Each component keeps its own exception tree (``MonitorError``,
  ``IngestError``, ``FhirError``, ``StackError``...): their messages are already sentences and
  are shown as they are, exit 1. Anything else is a bug: one line saying so, and the traceback
  only with ``NABD_DEBUG=1``.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, TextIO

if TYPE_CHECKING:
    import psycopg
    from pydantic import BaseModel, ValidationError

__all__ = [
    "Problem",
    "RefusedError",
    "UsageError",
    "describe",
    "env_names",
    "from_database",
    "from_validation",
    "report",
]

USAGE: Final = 2
REFUSED: Final = 1

_SECRET: Final = re.compile(r"password|token|secret|key|url|dsn", re.IGNORECASE)
"""Fields whose value is never echoed (a database URL carries its password)."""
_SHOWN_MAX: Final = 60


class Problem(Exception):
    """Something a command refuses, in a sentence; ``status`` is the exit status."""

    status: int = REFUSED


class UsageError(Problem):
    """Bad input the user can fix (an option, an argument, a variable): exit status 2."""

    status = USAGE


class RefusedError(Problem):
    """An operation refused (unknown or discharged patient, unreachable service): status 1."""

    status = REFUSED


# ---- pydantic ------------------------------------------------------------------------------


def env_names(settings: type[BaseModel]) -> dict[str, str]:
    """Field name -> environment variable of a pydantic-settings class (its validation alias,
    else its ``env_prefix`` and the field's name in capitals)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = {}
    for name, info in settings.model_fields.items():
        alias = info.validation_alias
        names[name] = alias if isinstance(alias, str) else f"{prefix}{name}".upper()
    return names


def from_validation(
    error: ValidationError,
    names: Mapping[str, str] | Callable[[str], str] | None = None,
    *,
    subject: str = "options",
) -> UsageError:
    """One line per field: ``--speed 0: should be greater than 0``; every missing variable in
    one line. ``subject`` names what a whole-model check is about (``options: ...``)."""
    missing, lines = [], []
    for item in error.errors(include_url=False):
        loc = item.get("loc") or ()
        field = str(loc[0]) if loc else ""
        name = _name(field, names) if field else subject
        if item["type"] == "missing":
            missing.append(name)
            continue
        accepted = _accepted(str(item["msg"]))
        if not field:
            lines.append(f"{subject}: {accepted}")
        else:
            lines.append(f"{name} {_shown(field, name, item.get('input'))}: {accepted}")
    if missing:
        variables = all(m.isupper() for m in missing)
        hint = ' (for the local stack: eval "$(nabd stack env)")' if variables else ""
        what = "not set" if variables else "required"
        lines.insert(0, f"{what}: {', '.join(missing)}{hint}")
    return UsageError("\n".join(lines))


def _name(field: str, names: Mapping[str, str] | Callable[[str], str] | None) -> str:
    if callable(names):
        return names(field)
    if names is not None and field in names:
        return names[field]
    if field.isupper():  # already a variable (a settings field's validation alias)
        return field
    return "--" + field.replace("_", "-")


def _shown(field: str, name: str, value: Any) -> str:
    if _SECRET.search(field) or _SECRET.search(name):
        return "(value hidden)"
    if isinstance(value, float):
        text = f"{value:g}"  # as typed: 0, not 0.0
    elif isinstance(value, (tuple, list)):
        text = ",".join(map(str, value))
    else:
        text = str(value)
    if len(text) > _SHOWN_MAX:
        text = text[: _SHOWN_MAX - 3] + "..."
    return repr(text) if text == "" or " " in text else text


_PYDANTIC_PREFIXES: Final = ("Value error, ", "Assertion failed, ")


def _accepted(message: str) -> str:
    """pydantic's sentence as what is accepted: ``Input should be > 0`` -> ``should be > 0``."""
    for prefix in _PYDANTIC_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    if message.startswith("Input should be"):
        return "should be" + message[len("Input should be") :]
    if message.startswith(("String should", "Value should", "List should", "Tuple should")):
        return message.split(" ", 1)[1]
    return message[:1].lower() + message[1:]


# ---- psycopg -------------------------------------------------------------------------------

_KEY_DETAIL: Final = re.compile(r"Key \((?P<columns>[^)]*)\)=\((?P<values>.*)\)")
_TABLE_WORDS: Final = {
    "patient": "patient",
    "ward": "ward",
    "device": "device",
    "gateway": "gateway",
    "alert": "alert",
    "metric": "metric",
}
_COLUMN_WORDS: Final = {
    "patient_id": "patient",
    "ward_id": "ward",
    "device_id": "device",
    "gateway_id": "gateway",
    "alert_id": "alert",
    "metric_id": "metric",
}


def from_database(error: psycopg.Error) -> RefusedError:
    """The database's refusal in people's words (no constraint name, no SQL)."""
    import psycopg

    diag = error.diag
    primary = diag.message_primary or _first_line(str(error))
    key = _KEY_DETAIL.search(diag.message_detail or "")
    errors = psycopg.errors
    text = f"the database refused: {_first_line(primary)}"
    if isinstance(error, errors.ForeignKeyViolation) and key:
        column = key["columns"].split(",")[0].strip()
        what = _COLUMN_WORDS.get(column, _TABLE_WORDS.get(diag.table_name or "", column))
        text = f"no {what} {key['values']!r}: unknown to the registry"
    elif isinstance(error, errors.UniqueViolation):
        text = _duplicate(key, diag.table_name)
    elif isinstance(error, errors.CheckViolation):
        text = _out_of_range(primary, diag.constraint_name, diag.table_name, diag.column_name)
    elif isinstance(error, errors.InsufficientPrivilege):
        text = f"this login may not do that: {primary}"
    elif isinstance(error, psycopg.OperationalError):
        text = f"cannot reach the database: {_first_line(str(error))}"
    return RefusedError(text)


def _duplicate(key: re.Match[str] | None, table: str | None) -> str:
    if key:
        columns = key["columns"].replace("_id", "").replace("_", " ")
        return f"{columns} {key['values']} exists already"
    return f"that {table or 'row'} exists already"


def _out_of_range(
    primary: str, constraint: str | None, table: str | None, column: str | None
) -> str:
    if constraint == "patient_admitted":  # migration 0032's refusal is a sentence already
        return primary
    where = f" ({column})" if column else ""
    return f"the database refused a value of {table or 'the row'}{where}: out of the accepted range"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0].removeprefix("connection failed: ") if lines else "no reason given"


# ---- reporting -----------------------------------------------------------------------------


def describe(error: BaseException) -> tuple[str, int]:
    """The text and exit status for ``error`` (see the module docstring)."""
    translated = _translated(error)
    if translated is not None:
        return str(translated), translated.status
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return (f"{error.strerror}{where}" if error.strerror else str(error)), REFUSED
    if _ours(error) or isinstance(error, (ValueError, LookupError)):
        return str(error) or type(error).__name__, REFUSED
    return (
        f"internal error, a bug ({type(error).__name__}: {error}); "
        "NABD_DEBUG=1 shows the traceback",
        REFUSED,
    )


def _translated(error: BaseException) -> Problem | None:
    """``error`` as a Problem if it is one, or a pydantic or psycopg error (also one that a
    component wrapped while quoting the database's raw message)."""
    if isinstance(error, Problem):
        return error
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(error, pydantic.ValidationError):
        return from_validation(error)
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        if isinstance(error, psycopg.Error):
            return from_database(error)
        if isinstance(error.__cause__, psycopg.Error) and _raw(str(error)):
            return from_database(error.__cause__)
    return None


def _raw(text: str) -> bool:
    """A component's message that quotes the database verbatim (a constraint's name)."""
    return "constraint" in text or "violates" in text


def _ours(error: BaseException) -> bool:
    """An exception of one of Nabd's own trees (their messages are sentences)."""
    return any(c.__module__.startswith("nabd.") for c in type(error).__mro__)


def report(error: BaseException, out: TextIO | None = None) -> int:
    """Print ``error`` as ``nabd: error: ...`` (one line per cause) and return its status."""
    text, status = describe(error)
    stream = out or sys.stderr
    for line in _lines(text):
        print(f"nabd: error: {line}", file=stream)
    if os.environ.get("NABD_DEBUG") == "1":
        traceback.print_exception(error, file=stream)
    return status


def _lines(text: str) -> Iterable[str]:
    return [line for line in text.splitlines() if line.strip()] or ["refused"]
