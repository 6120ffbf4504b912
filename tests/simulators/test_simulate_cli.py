"""``nabd simulate``: ward and replay files, virtual devices that end with their schedule, and a
load run against the session's stack."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest

from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from nabd.simulators.export import SERIES_COLUMNS
from nabd.simulators.labels import labels_from_csv, labels_from_json
from nabd.simulators.load_record import SentRecord
from nabd.simulators.replay import afdb_records, mimic_records
from nabd.simulators.ward import build_ward


def test_ward_files_are_complete_reproducible_and_labelled(tmp_path: Path) -> None:
    args = ["-q", "simulate", "ward", "--patients", "4", "--seed", "3", "--hours", "1"]
    assert main([*args, "--step", "10", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--step", "10", "--out", str(tmp_path / "b")]) == 0
    for name in ("series.csv", "beats.csv", "labels.csv", "labels.json", "run.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with (tmp_path / "a" / "series.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == SERIES_COLUMNS
    ward = build_ward(4, 3, duration_s=3600.0)
    assert [r["patient_id"] for r in rows[::360]] == [p.patient_id for p in ward.profiles]
    assert len(rows) == 4 * 360
    assert all(float(r["heart_rate"]) > 0 for r in rows if r["heart_rate"])
    labels = labels_from_csv((tmp_path / "a" / "labels.csv").read_text())
    assert labels == ward.labels
    assert labels_from_json((tmp_path / "a" / "labels.json").read_text()) == ward.labels
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["seed"] == 3
    assert set(run["patients"]) == {p.patient_id for p in ward.profiles}


def test_a_replay_is_written_like_a_ward(tmp_path: Path) -> None:
    record = afdb_records()[0]
    assert main(["-q", "simulate", "replay", "afdb", record, "--out", str(tmp_path)]) == 0
    beats = (tmp_path / "beats.csv").read_text().splitlines()
    assert beats[0] == "patient_id,beat_time,rr"
    assert len(beats) > 1000
    assert all(line.startswith(f"afdb-{record},") for line in beats[1:])
    labels = labels_from_csv((tmp_path / "labels.csv").read_text())
    assert {label.condition.value for label in labels} <= {"atrial_fibrillation"}


@pytest.mark.parametrize(("source", "count"), [("afdb", 25), ("mimic", 2)])
def test_replay_without_a_record_lists_the_bundled_ones(
    capsys: pytest.CaptureFixture[str], source: str, count: int
) -> None:
    assert main(["-q", "simulate", "replay", source]) == 0
    listed = capsys.readouterr().out.split()
    assert len(listed) == count, f"bundled {source} records missing: {listed}"
    assert listed == list(afdb_records() if source == "afdb" else mimic_records())


def test_replay_reads_another_data_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mimic2").mkdir()
    (tmp_path / "mimic2" / "x1_numerics_1perMin.csv").write_text("minute,HR [bpm]\n0,70\n")
    assert main(["-q", "simulate", "replay", "mimic", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == ["x1"]


def test_devices_play_their_schedule_and_describe_themselves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "devices.toml"
    code = main(
        [
            "-q",
            "simulate",
            "devices",
            "--hours",
            "0.01",
            "--speed",
            "200",
            "--device",
            "chest_strap",
            "--device",
            "pulse_oximeter",
            "--edge-devices",
            str(config),
        ]
    )
    assert code == 0
    listed = capsys.readouterr().out.splitlines()
    devices = tomllib.loads(config.read_text())["devices"]
    assert [d["id"] for d in devices] == [line.split()[0] for line in listed]
    assert [d["id"][:4] for d in devices] == ["hrs-", "plx-"]
    assert len({d["patient"] for d in devices}) == 1


def test_devices_refuse_more_devices_than_real_transports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["simulate", "devices", "--transport", "usb:7", "--hours", "0.01"])
    assert code == 1
    assert "7 devices need 7 transports" in capsys.readouterr().err


@pytest.mark.integration
def test_load_runs_against_the_local_stack_and_loss_reads_the_database(
    nabd_stack: RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "run.sqlite"
    args = ["--state-dir", str(nabd_stack.state_dir)]
    code = main(
        [
            "-q",
            "simulate",
            "load",
            "--gateways",
            "5",
            "--rate",
            "50",
            "--duration",
            "1",
            "--prefix",
            "cli-load",
            "--register",
            "--record",
            str(record),
            *args,
        ]
    )
    assert code == 0
    assert "gateways   5/5 connected" in capsys.readouterr().out
    with SentRecord.open(record) as sent:
        counts = sent.counts()
    assert counts["published"] == counts["pubacked"] >= 40
    # nobody ingests here: every reading is missing, and the command says so with exit code 3
    assert main(["simulate", "loss", str(record), *args]) == 3
    assert f"missing {counts['published'] * 4} " in capsys.readouterr().out
