"""Every cell of NEWS2 Chart 1 at both edges of its band, and Chart 3's risk rows.

The chart is transcribed below, cell for cell, and checked against the reference transcription
kept with the tests (tests/data/NEWS2.md, RCP 2017; provenance in tests/data/README.md), so a
typo in either shows up as a failure here.
"""

# ruff: noqa: RUF001, RUF002 - the chart writes ranges with en dashes; transcribed as written.

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nabd.analytics.news2 import score

REPO_ROOT = Path(__file__).parents[2]
NEWS2_MD = REPO_ROOT / "tests" / "data" / "NEWS2.md"

COLUMN_SCORES = (3, 2, 1, 0, 1, 2, 3)

# Chart 1, transcribed from NEWS2.md: row label -> the seven cells, score columns 3|2|1|0|1|2|3.
CHART_1: dict[str, tuple[str, ...]] = {
    "Respiration rate (/min)": ("≤8", "", "9–11", "12–20", "", "21–24", "≥25"),
    "SpO2 Scale 1 (%)": ("≤91", "92–93", "94–95", "≥96", "", "", ""),
    "SpO2 Scale 2 (%)": (
        "≤83",
        "84–85",
        "86–87",
        "88–92, or ≥93 on air",
        "93–94 on oxygen",
        "95–96 on oxygen",
        "≥97 on oxygen",
    ),
    "Air or oxygen?": ("", "Oxygen", "", "Air", "", "", ""),
    "Systolic BP (mmHg)": ("≤90", "91–100", "101–110", "111–219", "", "", "≥220"),
    "Pulse (/min)": ("≤40", "", "41–50", "51–90", "91–110", "111–130", "≥131"),
    "Consciousness": ("", "", "", "Alert", "", "", "CVPU"),
    "Temperature (°C)": ("≤35.0", "", "35.1–36.0", "36.1–38.0", "38.1–39.0", "≥39.1", ""),
}

# Chart 3, transcribed: the "NEWS2" cell -> clinical risk as this module names it.
CHART_3: dict[str, str] = {
    "0": "low",
    "aggregate 1–4": "low",
    "3 in any single parameter (aggregate < 5)": "low-medium",
    "aggregate 5–6": "medium",
    "aggregate ≥7": "high",
}

# Row label -> (keyword of score(), far values used for the open ends "≤x" and "≥x").
NUMERIC_ROWS: dict[str, tuple[str, float, float]] = {
    "Respiration rate (/min)": ("respiration_rate", 0, 60),
    "SpO2 Scale 1 (%)": ("spo2", 0, 100),
    "SpO2 Scale 2 (%)": ("spo2", 0, 100),
    "Systolic BP (mmHg)": ("systolic_bp", 0, 300),
    "Pulse (/min)": ("heart_rate", 0, 250),
    "Temperature (°C)": ("temperature", 20.0, 45.0),
}

NORMAL: dict[str, Any] = {
    "respiration_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "temperature": 37.0,
    "systolic_bp": 120,
    "heart_rate": 70,
    "consciousness": "A",
}


@dataclass(frozen=True)
class Case:
    """One patient, normal except for one parameter, and the sub-score the chart gives it."""

    row: str
    cell: str
    changes: dict[str, Any]
    field: str
    expected: int

    @property
    def id(self) -> str:
        shown = ",".join(f"{k}={v}" for k, v in self.changes.items())
        return f"{self.row.split(' (')[0]}|{self.cell}|{shown}"


_BAND = re.compile(r"^(?P<op>[≤≥])?(?P<low>\d+(?:\.\d+)?)(?:–(?P<high>\d+(?:\.\d+)?))?$")


def band_edges(cell: str, far_low: float, far_high: float) -> tuple[float, float]:
    """Both edges of a band written like the chart ("≤8", "9–11", "≥25", "35.1–36.0")."""
    match = _BAND.match(cell)
    assert match is not None, f"not a chart band: {cell!r}"
    low = float(match["low"])
    if match["op"] == "≤":
        return far_low, low
    if match["op"] == "≥":
        return low, far_high
    return low, float(match["high"] or low)


def numeric_cases(row: str, cells: tuple[str, ...]) -> list[Case]:
    name, far_low, far_high = NUMERIC_ROWS[row]
    scale2 = row.startswith("SpO2 Scale 2")
    cases = []
    for cell, expected in zip(cells, COLUMN_SCORES, strict=True):
        for part in filter(None, cell.split(", or ")):
            band, _, condition = part.partition(" on ")
            oxygen_states = {"air": [False], "oxygen": [True], "": [False, True]}[condition]
            if not row.startswith("SpO2"):
                oxygen_states = [False]
            for value in band_edges(band, far_low, far_high):
                for on_oxygen in oxygen_states:
                    changes: dict[str, Any] = {name: value}
                    if row.startswith("SpO2"):
                        changes |= {"on_oxygen": on_oxygen, "scale2": scale2}
                    cases.append(Case(row, cell, changes, name, expected))
    return cases


def categorical_cases() -> list[Case]:
    oxygen = {"Oxygen": True, "Air": False}
    cases = [
        Case("Air or oxygen?", cell, {"on_oxygen": oxygen[cell]}, "air_or_oxygen", points)
        for cell, points in zip(CHART_1["Air or oxygen?"], COLUMN_SCORES, strict=True)
        if cell
    ]
    for cell, points in zip(CHART_1["Consciousness"], COLUMN_SCORES, strict=True):
        letters = {"Alert": "A"}.get(cell, cell)
        cases += [
            Case("Consciousness", cell, {"consciousness": letter}, "consciousness", points)
            for letter in letters
        ]
    return cases


CASES = [
    case
    for row, cells in CHART_1.items()
    if row in NUMERIC_ROWS
    for case in numeric_cases(row, cells)
] + categorical_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_every_chart_cell_at_both_edges(case: Case) -> None:
    result = score(**(NORMAL | case.changes))
    assert int(getattr(result, case.field)) == case.expected
    oxygen_points = (
        2 if case.changes.get("on_oxygen", False) and case.field != "air_or_oxygen" else 0
    )
    assert int(result.total) == case.expected + oxygen_points
    assert bool(result.complete)


def test_every_cell_is_tested_at_two_values() -> None:
    values: dict[tuple[str, str], set[str]] = {}
    for case in CASES:
        values.setdefault((case.row, case.cell), set()).add(repr(case.changes))
    expected = {(row, cell) for row, cells in CHART_1.items() for cell in cells if cell}
    assert set(values) == expected
    single_valued = {key for key, seen in values.items() if len(seen) < 2}
    assert single_valued == {("Air or oxygen?", "Oxygen"), ("Air or oxygen?", "Air"),
                             ("Consciousness", "Alert")}  # fmt: skip


def test_chart_bands_tile_the_line_without_gaps() -> None:
    """The transcription itself is contiguous at the chart's resolution (no value left unscored)."""
    for row, (_, far_low, far_high) in NUMERIC_ROWS.items():
        step = 0.1 if row.startswith("Temperature") else 1.0
        bands = sorted(
            band_edges(part.partition(" on ")[0], far_low, far_high)
            for cell in CHART_1[row]
            for part in filter(None, cell.split(", or "))
            if not part.endswith("on air")
        )
        for (_, high), (low, _) in itertools.pairwise(bands):
            assert math.isclose(low - high, step), (row, high, low)


# ---- The transcription against the reference file. --------------------------------------------


@pytest.fixture(scope="module")
def news2_md() -> str:
    if not NEWS2_MD.is_file():
        pytest.fail(f"NEWS2 reference missing: expected {NEWS2_MD} (see tests/data/README.md)")
    return NEWS2_MD.read_text(encoding="utf-8")


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """Body rows (cells stripped) of the first table under the heading starting with `heading`."""
    section = markdown.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_chart_1_transcription_matches_reference(news2_md: str) -> None:
    rows = {cells[0]: tuple(cells[1:]) for cells in table_rows(news2_md, "Chart 1")}
    assert rows == CHART_1


def test_chart_1_header_is_3_2_1_0_1_2_3(news2_md: str) -> None:
    section = news2_md.split("\n## Chart 1", 1)[1]
    header = next(line for line in section.splitlines() if line.startswith("| Parameter"))
    assert tuple(int(c) for c in header.strip("|").split("|")[1:]) == COLUMN_SCORES


def test_chart_3_transcription_matches_reference(news2_md: str) -> None:
    def plain(text: str) -> str:
        return re.sub(r"\s*\(.*\)$", "", text.replace("**", "")).lower().replace("–", "-")

    rows = table_rows(news2_md, "Chart 3")
    trigger = {row[0].replace("**", ""): plain(row[1]) for row in rows}
    assert trigger == CHART_3


def patient(**changes: Any) -> dict[str, Any]:
    return NORMAL | changes


# Chart 3 row -> patients (with their aggregate) at both ends of the row's range.
CHART_3_PATIENTS: dict[str, list[tuple[int, dict[str, Any]]]] = {
    "0": [(0, patient())],
    "aggregate 1–4": [
        (1, patient(respiration_rate=10)),
        (4, patient(respiration_rate=10, heart_rate=45, systolic_bp=105, spo2=95)),
    ],
    "3 in any single parameter (aggregate < 5)": [
        (3, patient(respiration_rate=30)),
        (4, patient(consciousness="C", spo2=95)),
    ],
    "aggregate 5–6": [
        (5, patient(respiration_rate=22, heart_rate=120, temperature=38.5)),
        (5, patient(respiration_rate=30, heart_rate=120)),  # a single 3, but aggregate wins
        (6, patient(respiration_rate=22, heart_rate=120, systolic_bp=95)),
    ],
    "aggregate ≥7": [
        (7, patient(respiration_rate=22, heart_rate=120, systolic_bp=95, spo2=95)),
        (
            20,
            patient(
                respiration_rate=5,
                spo2=80,
                on_oxygen=True,
                temperature=34.0,
                systolic_bp=80,
                heart_rate=30,
                consciousness="U",
            ),
        ),
    ],
}


@pytest.mark.parametrize(("cell", "risk"), CHART_3.items())
def test_chart_3_rows(cell: str, risk: str) -> None:
    for total, vitals in CHART_3_PATIENTS[cell]:
        result = score(**vitals)
        assert (int(result.total), str(result.risk)) == (total, risk)
        assert bool(result.complete)
