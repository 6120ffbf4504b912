"""Bulk imports for a ward's opening day: ``nabd patient import`` and ``nabd device import``.

All or nothing: every row is checked (its values, then against the registry, each in a
savepoint of one transaction), and if any row is refused the transaction is rolled back and the
report names **every** bad row by its line number, not only the first. A file that imports
cleanly does exactly what the same rows typed one by one would (same audit entries).

Files are UTF-8 CSV (a spreadsheet's byte-order mark is accepted) with a header row naming the
columns; columns may come in any order, extra columns are refused (a typo must not silently
drop a value), empty optional cells mean "not given".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

from nabd.care.devices import add_device_in_transaction
from nabd.care.errors import CareError, CareInputError, CareRefused, Why
from nabd.care.patients import admit_in_transaction
from nabd.care.store import Conn, operation
from nabd.care.values import Admission, DeviceSpec, parse_actor, parse_id

__all__ = [
    "DEVICE_COLUMNS",
    "MAX_ROWS",
    "PATIENT_COLUMNS",
    "ImportInvalid",
    "ImportRefused",
    "Row",
    "import_devices",
    "import_patients",
    "read_rows",
]

PATIENT_COLUMNS: Final = {"ward": True, "bed": True, "mrn": True, "name": True,
                          "birth_date": False}  # fmt: skip
"""Column -> required."""
DEVICE_COLUMNS: Final = {"id": True, "kind": True, "address": True, "serial": False,
                         "model": False, "manufacturer": False, "gateway": False}  # fmt: skip
MAX_ROWS: Final = 5000
"""More than a hospital's opening day; a bigger file is a mistake (or an attack)."""

if TYPE_CHECKING:
    from _csv import Reader

T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    line: int
    """Line number in the file (the header is line 1)."""
    cells: Mapping[str, str | None]
    extra_cells: bool = False
    """More cells than the header has columns."""


class ImportInvalid(CareInputError):
    """Some rows hold values that can never be right; nothing was imported."""


class ImportRefused(CareRefused):
    """Some rows are refused by the registry's state; nothing was imported."""


def read_rows(text: str, columns: Mapping[str, bool]) -> list[Row]:
    """The data rows of a CSV ``text`` whose header names ``columns`` (required ones at least)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CareInputError(
            "the file is empty: give a header row, then one row per line",
            Why.BAD_FILE,
            detail="empty",
        ) from None
    except csv.Error as exc:
        raise CareInputError(f"line 1: not CSV ({exc})", Why.BAD_FILE, detail=str(exc)) from exc
    unknown = [h for h in header if h not in columns]
    missing = [c for c, required in columns.items() if required and c not in header]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if unknown or missing or repeated:
        problems = [f"unknown column(s) {', '.join(map(repr, unknown))}"] if unknown else []
        problems += [f"missing column(s) {', '.join(missing)}"] if missing else []
        problems += [f"column(s) named twice: {', '.join(repeated)}"] if repeated else []
        raise CareInputError(
            f"header: {'; '.join(problems)}; the columns are {', '.join(columns)} "
            f"(required: {', '.join(c for c, r in columns.items() if r)})",
            Why.BAD_FILE,
            detail="; ".join(problems),
        )
    return list(_rows(reader, header))


def _rows(reader: Reader, header: Sequence[str]) -> Iterator[Row]:
    count = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CareInputError(f"line {reader.line_num}: not CSV ({exc})", Why.BAD_FILE,
                                 detail=str(exc)) from exc  # fmt: skip
        if not any(c.strip() for c in cells):
            continue  # a blank line, as spreadsheets leave at the end
        count += 1
        if count > MAX_ROWS:
            raise CareInputError(f"more than {MAX_ROWS} rows: split the file", Why.BAD_FILE,
                                 detail=f"> {MAX_ROWS}")  # fmt: skip
        values = {h: (cells[i].strip() or None) if i < len(cells) else None
                  for i, h in enumerate(header)}  # fmt: skip
        extra = any(c.strip() for c in cells[len(header) :])
        yield Row(reader.line_num, values, extra_cells=extra)


def _cell(row: Row, column: str) -> str:
    value = row.cells.get(column)
    if value is None:
        raise CareInputError(f"{column} is empty", Why.BAD_FILE, detail=column)
    return value


def _run_all(
    conn: Conn,
    what: str,
    rows: Sequence[Row],
    parse: Callable[[Row], T],
    apply: Callable[[Conn, T], str],
) -> list[tuple[int, str]]:
    """Parse every row, apply the parsed ones in one transaction (a savepoint each), and return
    (line, outcome) for each; raise with every bad row's line if any, rolling everything back."""
    invalid: list[tuple[int, str]] = []
    parsed: list[tuple[int, T]] = []
    for row in rows:
        try:
            if row.extra_cells:
                raise CareInputError("more cells than the header has columns", Why.BAD_FILE,
                                     detail="cells")  # fmt: skip
            parsed.append((row.line, parse(row)))
        except CareInputError as exc:
            invalid.append((row.line, str(exc)))
    if not rows:
        raise CareInputError("the file has a header but no rows", Why.BAD_FILE, detail="rows")
    refused: list[tuple[int, str]] = []
    done: list[tuple[int, str]] = []
    try:
        with operation(conn, what):
            for line, value in parsed:
                try:
                    with conn.transaction():  # a savepoint: a refused row leaves no trace
                        done.append((line, apply(conn, value)))
                except CareError as exc:
                    refused.append((line, str(exc)))
            if invalid or refused:
                raise _Rollback
    except _Rollback:
        problems = sorted(invalid + refused)
        report = "\n".join(f"  line {line}: {message}" for line, message in problems)
        error = ImportInvalid if invalid else ImportRefused
        raise error(
            f"{len(problems)} of {len(rows)} rows refused; nothing was imported:\n{report}",
            Why.BAD_ROWS,
            refused=len(problems),
            total=len(rows),
        ) from None
    return done


class _Rollback(Exception):
    """Raised inside the transaction to roll it back (the report is built outside)."""


def import_patients(conn: Conn, rows: Sequence[Row], *, by: str) -> list[tuple[int, str]]:
    """Admit every row's patient, or none; returns (line, new patient id)."""
    actor = parse_actor(by)

    def parse(row: Row) -> Admission:
        return Admission.parse(ward=_cell(row, "ward"), bed=_cell(row, "bed"),
                               mrn=_cell(row, "mrn"), name=_cell(row, "name"),
                               birth_date=row.cells.get("birth_date"))  # fmt: skip

    def apply(c: Conn, admission: Admission) -> str:
        return admit_in_transaction(c, admission, actor)

    return _run_all(conn, "importing patients", rows, parse, apply)


def import_devices(conn: Conn, rows: Sequence[Row], *, by: str) -> list[tuple[int, str]]:
    """Register every row's device, or none; returns (line, ``added`` or ``unchanged``)."""
    actor = parse_actor(by)

    def parse(row: Row) -> tuple[DeviceSpec, str | None]:
        gateway = row.cells.get("gateway")
        spec = DeviceSpec.parse(device_id=_cell(row, "id"), kind=_cell(row, "kind"),
                                address=_cell(row, "address"), serial=row.cells.get("serial"),
                                model=row.cells.get("model"),
                                manufacturer=row.cells.get("manufacturer"))  # fmt: skip
        return spec, None if gateway is None else parse_id("gateway", gateway)

    def apply(c: Conn, value: tuple[DeviceSpec, str | None]) -> str:
        added = add_device_in_transaction(c, value[0], value[1], actor)
        return f"{value[0].id} " + ("added" if added else "unchanged")

    return _run_all(conn, "importing devices", rows, parse, apply)
