"""``nabd patient import`` and ``nabd device import``: all or nothing, every bad row reported by
its line, and no file (however malformed) gets past without a plain message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.app.cli import main
from nabd.care.errors import CareInputError
from nabd.care.imports import DEVICE_COLUMNS, PATIENT_COLUMNS, read_rows
from tests.care.care_kit import token


def test_the_header_names_the_columns_in_any_order() -> None:
    text = '\ufeffBed,ward,NAME,mrn\n1,icu,Jean Dupont,M1\n\n"2",icu,"DUPONT,\nJean",M2\n'
    rows = read_rows(text, PATIENT_COLUMNS)
    assert [(r.line, dict(r.cells)) for r in rows] == [
        (2, {"bed": "1", "ward": "icu", "name": "Jean Dupont", "mrn": "M1"}),
        (5, {"bed": "2", "ward": "icu", "name": "DUPONT,\nJean", "mrn": "M2"}),
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("ward,bed,mrn", "missing column(s) name"),
        ("ward,bed,mrn,name,birthdate", "unknown column(s) 'birthdate'"),
        ("ward,bed,mrn,name,ward", "column(s) named twice: ward"),
        ("", "missing column(s) ward, bed, mrn, name"),
    ],
)
def test_a_wrong_header_says_which_columns_are_expected(header: str, message: str) -> None:
    with pytest.raises(CareInputError, match="the columns are ward, bed, mrn, name, birth_date"):
        read_rows(header + "\n", PATIENT_COLUMNS)
    with pytest.raises(CareInputError) as caught:
        read_rows(header + "\n", PATIENT_COLUMNS)
    assert message in str(caught.value)


@given(st.text(max_size=300))
def test_any_text_is_rows_or_a_plain_refusal(text: str) -> None:
    """Nothing but :class:`CareInputError` escapes, whatever the file holds."""
    try:
        rows = read_rows(text, DEVICE_COLUMNS)
    except CareInputError:
        return
    required = {c for c, needed in DEVICE_COLUMNS.items() if needed}
    for row in rows:
        assert required <= set(row.cells) <= set(DEVICE_COLUMNS)
        assert row.line >= 2


Run: TypeAlias = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(care_url: str, capsys: pytest.CaptureFixture[str]) -> Run:
    """``nabd ARGS`` as the care login, signed by Admin Ali; (status, stdout, stderr)."""

    def nabd(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        by = [] if args[1] in {"show", "list", "beds"} else ["--by", "Admin Ali"]
        status = main([*args, "--database-url", care_url, *by])
        out, err = capsys.readouterr()
        return status, out, err

    return nabd


def _ward(run: Run, beds: str = "1 2 3") -> str:
    ward = f"w-{token()}"
    assert run("ward", "add", ward, "--name", "W")[0] == 0
    assert run("ward", "add-beds", ward, *beds.split())[0] == 0
    return ward


def _admitted(owner_url: str, ward: str) -> int:
    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM patient WHERE ward_id = %s AND discharged_at IS NULL", (ward,)
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.integration
def test_a_clean_file_admits_everyone(run: Run, owner_url: str, tmp_path: Path) -> None:
    ward = _ward(run)
    csv = tmp_path / "admissions.csv"
    csv.write_text(
        "ward,bed,mrn,name,birth_date\n"
        f"{ward},1,A{token()},Jean Dupont,1950-02-03\n"
        f'{ward},2,B{token()},"BEN SALAH, Amina",\n'
    )
    status, out, err = run("patient", "import", str(csv))
    assert status == 0, err
    lines = out.splitlines()
    assert [line.split(": ")[0] for line in lines] == ["line 2", "line 3"]
    assert all(line.split(": ")[1].startswith("p-") for line in lines)
    assert _admitted(owner_url, ward) == 2


@pytest.mark.integration
def test_every_bad_row_is_reported_and_nothing_is_admitted(
    run: Run, owner_url: str, tmp_path: Path
) -> None:
    ward, mrn = _ward(run), f"M{token()}"
    csv = tmp_path / "admissions.csv"
    csv.write_text(
        "ward,bed,mrn,name,birth_date\n"
        f"{ward},1,{mrn},Jean Dupont,1950-02-03\n"  # fine on its own
        f"{ward},2,X{token()},Ana Lima,03/02/1950\n"  # line 3: date
        f"{ward},9,Y{token()},Ana Lima,\n"  # line 4: no such bed
        f"{ward},3,{mrn},Jean Dupont,\n"  # line 5: the MRN of line 2
        f"{ward},1,Z{token()},Omar Haddad,\n"  # line 6: line 2's bed
        f"{ward},3,W{token()},Omar Haddad,,extra\n"  # line 7: a cell too many
    )
    status, out, err = run("patient", "import", str(csv))
    assert (status, out) == (2, "")  # a malformed value among them: a usage error
    assert "5 of 6 rows refused; nothing was imported" in err
    for line, message in [
        (3, "write YYYY-MM-DD"),
        (4, "has no bed '9'"),
        (5, f"MRN {mrn} is already admitted"),
        (6, "bed 1 of ward"),
        (7, "more cells than the header"),
    ]:
        assert message in err.split(f"line {line}: ")[1]
    assert _admitted(owner_url, ward) == 0
    # Only refusals (no malformed value): exit 1.
    csv.write_text(f"ward,bed,mrn,name\n{ward},1,{mrn},Jean Dupont\n{ward},1,Q{token()},A B\n")
    status, _, err = run("patient", "import", str(csv))
    assert status == 1
    assert "line 3: bed 1 of ward" in err
    assert _admitted(owner_url, ward) == 0


@pytest.mark.integration
def test_devices_are_imported_all_or_nothing(run: Run, tmp_path: Path) -> None:
    a, b = f"hr-{token()}", f"ox-{token()}"
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "id,kind,address,serial\n"
        f"{a},heart_rate_strap,c0:ff:ee:{token()[:2]}:{token()[:2]}:01,SN1\n"
        f"{b},pulse_oximeter,not-an-address,\n"
    )
    status, out, err = run("device", "import", str(csv))
    assert (status, out) == (2, "")
    assert "line 3: address 'not-an-address' is not a Bluetooth address" in err
    assert run("device", "show", a)[0] == 1  # nothing registered
    csv.write_text(csv.read_text().replace("not-an-address", f"c0:ff:ee:00:{token()[:2]}:02"))
    status, out, _ = run("device", "import", str(csv))
    assert (status, out) == (0, f"line 2: {a} added\nline 3: {b} added\n")
    status, out, _ = run("device", "import", str(csv))  # a retry of the whole file
    assert (status, out) == (0, f"line 2: {a} unchanged\nline 3: {b} unchanged\n")
    status, _, err = run("device", "import", str(tmp_path / "missing.csv"))
    assert status == 2
    assert "cannot read" in err
