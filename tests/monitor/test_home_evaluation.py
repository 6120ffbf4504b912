"""``nabd evaluate --setting home``: 200 simulated patients for 30 days, every labelled scenario
found with at least 95 % sensitivity, few false alerts, in well under a minute."""

from __future__ import annotations

import csv
import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from nabd.app.cli import main
from nabd.app.home_evaluation import evaluate_home, home_alerts
from nabd.simulators.home import HomeCohort, HomeReadings, build_home


def test_two_hundred_patients_for_thirty_days() -> None:
    started = time.perf_counter()
    result = evaluate_home(build_home(200, days=30, seed=1))
    elapsed = time.perf_counter() - started
    outcome = result.outcome
    assert set(outcome.by_label) == {
        "heart_failure_decompensation", "nocturnal_hypoglycaemia", "hypertensive_episode",
        "copd_exacerbation", "non_adherence",
    }  # fmt: skip
    for name, entry in outcome.by_label.items():
        assert entry.labels >= 10, name
        assert entry.sensitivity >= 0.95, (name, entry.detected, entry.labels)
    false_per_patient_month = sum(outcome.false_by_alert.values()) / (outcome.patient_days / 30)
    assert false_per_patient_month < 0.2
    summary = result.summary
    in_range = summary.time_in_range[~np.isnan(summary.time_in_range)]
    assert in_range.size >= 40  # the diabetes programme's patients
    assert 0.8 < float(np.median(in_range)) <= 1.0
    assert 0.85 < summary.taken.sum() / summary.planned.sum() < 1.0  # some forget
    assert np.median(summary.days_with_data) >= 25
    assert sum(result.raised_by_rule.values()) == outcome.alerts
    assert elapsed < 60


def test_the_command_reports_per_scenario_and_per_patient_month(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["evaluate", "--setting", "home", "--patients", "20", "--days", "10"]) == 0
    out = capsys.readouterr().out
    assert "home: 20 patients x 10 d" in out
    assert "per patient-month" in out
    assert "sensitivity" in out


def test_ward_only_options_are_refused_at_home(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--setting", "home", "--hours", "3"]) == 2
    assert "--hours applies to --setting ward only" in capsys.readouterr().err
    assert main(["evaluate", "--setting", "home", "--tick", "2"]) == 2
    assert "--tick applies to --setting ward only" in capsys.readouterr().err
    assert main(["evaluate", "--days", "3"]) == 2
    assert main(["evaluate", "--setting", "home", "--days", "0"]) == 2


def _alone(cohort: HomeCohort, row: int) -> HomeCohort:
    """The cohort's patient ``row`` as a cohort of one."""
    readings = {
        metric: HomeReadings(
            row=np.zeros(int((r.row == row).sum()), np.int64),
            time=r.time[r.row == row],
            value=r.value[r.row == row],
        )
        for metric, r in cohort.readings.items()
    }
    return dataclasses.replace(
        cohort,
        patient_ids=(cohort.patient_ids[row],),
        plans=(cohort.plans[row],),
        scenarios=(cohort.scenarios[row],),
        readings=readings,
        labels=tuple(lb for lb in cohort.labels if lb.patient_id == cohort.patient_ids[row]),
    )


def test_patients_judged_together_get_what_each_gets_alone() -> None:
    """Vectorised over patients: another patient's readings (or their count) change nothing."""
    cohort = build_home(12, days=14, seed=7)
    together, _ = home_alerts(cohort)
    for row, pid in enumerate(cohort.patient_ids):
        alone, _ = home_alerts(_alone(cohort, row))
        assert alone == [a for a in together if a.patient_id == pid], pid


def test_the_adherence_summary_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "adherence.csv"
    args = ["evaluate", "--setting", "home", "--patients", "8", "--days", "30"]
    assert main([*args, "--summary-csv", str(target)]) == 0
    rows = list(csv.DictReader(target.read_text(encoding="utf-8").splitlines()))
    assert [r["patient_id"] for r in rows] == [f"h-{i:04d}" for i in range(1, 9)]
    for row in rows:
        assert row["days"] == "30"
        assert 0 <= int(row["days_with_data"]) <= 30
        assert 0 <= int(row["taken"]) <= int(row["planned"])
        assert (row["glucose_in_range"] != "") == (row["programmes"] == "diabetes")
    assert main([*args, "--summary-csv", str(tmp_path / "no" / "such.csv")]) == 1
    assert "cannot write" in capsys.readouterr().err
