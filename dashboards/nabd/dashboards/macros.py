"""Grafana's expansion of a PostgreSQL panel query, reproduced so the SQL can be run without it.

A panel's SQL is not valid SQL until Grafana has expanded it, in three steps (Grafana's
PostgreSQL data source documentation and its source, ``pkg/tsdb/grafana-postgresql-datasource``):

1. the browser replaces template variables (``$ward``, ``${patient:sqlstring}``,
   ``[[ward]]``) and the built-ins ``$__interval`` / ``$__interval_ms``; a SQL data source
   quotes the values of multi-value variables (``'a','b'``) and pastes a single value raw;
2. the server replaces ``$__interval_ms``, ``$__interval``, ``$__unixEpochFrom()`` and
   ``$__unixEpochTo()`` in whatever is left (``sqleng.Interpolate``);
3. the PostgreSQL macro engine replaces ``$__name(args)`` macros: ``$__timeFilter(col)`` becomes
   ``col BETWEEN 'from' AND 'to'`` (RFC 3339, UTC), ``$__timeGroup(col, 1m)`` becomes
   ``floor(extract(epoch from col)/60)*60``, or ``time_bucket('60.000s',col)`` when the data
   source has TimescaleDB enabled, and ``$__timeGroupAlias`` appends ``AS "time"``.

Only what Nabd's dashboards need beyond that is refused loudly (:class:`MacroError`): an unknown
variable, format or macro is a bug in a dashboard, not something to guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

from nabd.dashboards.errors import MacroError

__all__ = [
    "QueryContext",
    "Variable",
    "expand",
    "format_interval",
    "parse_interval",
    "rfc3339",
]


@dataclass(frozen=True, slots=True)
class Variable:
    """A template variable's current value: one string, or several for a multi-value variable."""

    value: str | tuple[str, ...]
    multi: bool = False
    include_all: bool = False

    @property
    def values(self) -> tuple[str, ...]:
        return (self.value,) if isinstance(self.value, str) else self.value


@dataclass(frozen=True, slots=True)
class QueryContext:
    """What Grafana knows when it runs a panel: time range, interval, variables, data source."""

    time_from: datetime
    time_to: datetime
    interval: timedelta
    variables: Mapping[str, Variable] = field(default_factory=dict)
    timescaledb: bool = True
    """The data source's "TimescaleDB" switch, on in Nabd's provisioning."""

    def __post_init__(self) -> None:
        if self.time_from.tzinfo is None or self.time_to.tzinfo is None:
            raise MacroError("the time range must be timezone-aware")
        if self.interval <= timedelta(0):
            raise MacroError(f"the interval must be positive, got {self.interval}")


def expand(sql: str, context: QueryContext) -> str:
    """The SQL Grafana would send to PostgreSQL for ``sql`` in ``context``."""
    sql = _replace_variables(sql, context)
    sql = _replace_globals(sql, context)
    return _replace_macros(sql, context)


# ---- Step 1: template variables (the browser) -------------------------------------------------

_VARIABLE: Final = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}"
)
"""Grafana's variable syntaxes: ``$name``, ``[[name:format]]``, ``${name.path:format}``."""


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format_variable(variable: Variable, fmt: str | None) -> str:
    values = variable.values
    if fmt == "sqlstring":
        return ",".join(_quote_literal(v) for v in values)
    if fmt in ("raw", "csv"):
        return ",".join(values)
    if fmt is not None:
        raise MacroError(f"variable format {fmt!r} is not supported here")
    # The SQL data sources' default: quote multi-value variables, paste a single value raw.
    if variable.multi or variable.include_all or not isinstance(variable.value, str):
        return ",".join(_quote_literal(v) for v in values)
    return variable.value


def _replace_variables(sql: str, context: QueryContext) -> str:
    builtins = {
        "__interval": format_interval(context.interval),
        "__interval_ms": str(_milliseconds(context.interval)),
    }

    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2] or match[4]
        fmt = match[3] or match[6]
        if match[5]:
            raise MacroError(f"variable field paths are not supported: {match[0]!r}")
        if name in builtins:
            return builtins[name]
        if name in context.variables:
            return _format_variable(context.variables[name], fmt)
        if name.startswith("__"):
            return match[0]  # a macro, for the server
        raise MacroError(f"unknown template variable {match[0]!r}")

    return _VARIABLE.sub(replace, sql)


# ---- Step 2: global substitutions (sqleng.Interpolate) ---------------------------------------


def _replace_globals(sql: str, context: QueryContext) -> str:
    sql = sql.replace("$__interval_ms", str(_milliseconds(context.interval)))
    sql = sql.replace("$__interval", format_interval(context.interval))
    sql = sql.replace("$__unixEpochFrom()", str(_unix(context.time_from)))
    return sql.replace("$__unixEpochTo()", str(_unix(context.time_to)))


# ---- Step 3: the PostgreSQL macro engine ------------------------------------------------------

_MACRO: Final = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")


def _replace_macros(sql: str, context: QueryContext) -> str:
    original = sql

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name == "__timeGroup":
            # Grafana < 5.3 compatibility: "$__timeGroup(...)," means the aliased form.
            end = original.find(match[0]) + len(match[0])
            if original[end : end + 1] == ",":
                name = "__timeGroupAlias"
        args = [a.strip(" ") for a in match[2].split(",")]
        return _evaluate(name, args, context)

    return _MACRO.sub(replace, sql)


def _evaluate(name: str, args: Sequence[str], context: QueryContext) -> str:
    handler = _MACROS.get(name)
    if handler is None:
        raise MacroError(f"unknown macro ${name}")
    return handler(args, context)


def _column(name: str, args: Sequence[str]) -> str:
    if not args or not args[0]:
        raise MacroError(f"missing time column argument for macro ${name}")
    return args[0]


def _time_filter(args: Sequence[str], c: QueryContext) -> str:
    column = _column("__timeFilter", args)
    return f"{column} BETWEEN '{rfc3339(c.time_from)}' AND '{rfc3339(c.time_to)}'"


def _time_group(args: Sequence[str], c: QueryContext) -> str:
    if len(args) < 2:
        raise MacroError("macro $__timeGroup needs time column and interval and optional fill")
    seconds = parse_interval(args[1].strip("'")).total_seconds()
    if c.timescaledb:
        return f"time_bucket('{seconds:.3f}s',{args[0]})"
    return f"floor(extract(epoch from {args[0]})/{_go_float(seconds)})*{_go_float(seconds)}"


def _unix_epoch_group(args: Sequence[str], c: QueryContext) -> str:
    if len(args) < 2:
        raise MacroError("macro $__unixEpochGroup needs time column and interval")
    seconds = _go_float(parse_interval(args[1].strip("'")).total_seconds())
    return f"floor(({args[0]})/{seconds})*{seconds}"


def _epoch_filter(nano: bool) -> Callable[[Sequence[str], QueryContext], str]:
    def evaluate(args: Sequence[str], c: QueryContext) -> str:
        column = _column("__unixEpochFilter", args)
        epoch = _unix_ns if nano else _unix
        return f"{column} >= {epoch(c.time_from)} AND {column} <= {epoch(c.time_to)}"

    return evaluate


_MACROS: Final[Mapping[str, Callable[[Sequence[str], QueryContext], str]]] = {
    "__time": lambda a, c: f'{_column("__time", a)} AS "time"',
    "__timeEpoch": lambda a, c: f'extract(epoch from {_column("__timeEpoch", a)}) as "time"',
    "__timeFilter": _time_filter,
    "__timeFrom": lambda a, c: f"'{rfc3339(c.time_from)}'",
    "__timeTo": lambda a, c: f"'{rfc3339(c.time_to)}'",
    "__timeGroup": _time_group,
    "__timeGroupAlias": lambda a, c: _time_group(a, c) + ' AS "time"',
    "__unixEpochFilter": _epoch_filter(nano=False),
    "__unixEpochNanoFilter": _epoch_filter(nano=True),
    "__unixEpochNanoFrom": lambda a, c: str(_unix_ns(c.time_from)),
    "__unixEpochNanoTo": lambda a, c: str(_unix_ns(c.time_to)),
    "__unixEpochGroup": _unix_epoch_group,
    "__unixEpochGroupAlias": lambda a, c: _unix_epoch_group(a, c) + ' AS "time"',
}


# ---- Go's formatting, as Grafana's server writes it ------------------------------------------

_DURATION: Final = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_DATE_UNIT: Final = re.compile(r"^(\d+)([dw])$")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_interval(text: str) -> timedelta:
    """``gtime.ParseInterval`` for the units dashboards use: ms, s, m, h, d (24 h), w."""
    match = _DATE_UNIT.match(text) or _DURATION.match(text)
    if match is None:
        raise MacroError(f"error parsing interval {text}")
    return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])


def format_interval(interval: timedelta) -> str:
    """``gtime.FormatInterval``: the largest unit that fits, truncated (90 s is ``1m``)."""
    ms = _milliseconds(interval)
    for unit, size in (("y", 365 * 86400000), ("d", 86400000), ("h", 3600000), ("m", 60000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    if ms >= 1000:
        return f"{ms // 1000}s"
    return f"{ms}ms" if ms >= 1 else "1ms"


def rfc3339(instant: datetime) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: ``2025-03-01T09:41:17.25Z`` (no trailing zeros)."""
    utc = instant.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _go_float(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form from 1e+06 or below 1e-04."""
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(digits) + exponent - 1
    prefix = "-" if sign else ""
    if point < -4 or point >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
    if exponent >= 0:
        return prefix + text + "0" * exponent
    whole, fraction = text[: len(text) + exponent], text[len(text) + exponent :]
    return prefix + (whole or "0") + "." + fraction.rjust(-exponent, "0")


def _milliseconds(interval: timedelta) -> int:
    return interval // timedelta(milliseconds=1)


def _unix(instant: datetime) -> int:
    return int(instant.timestamp() // 1)


def _unix_ns(instant: datetime) -> int:
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(microseconds=1) * 1000
