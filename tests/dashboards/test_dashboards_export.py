"""``nabd dashboards export``: provisioning files that parse as YAML/JSON, reference each other
(provider path -> dashboard files, dashboards -> data source uid), hold no secret, and are the
same bytes on every export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from nabd.app.cli import main
from nabd.dashboards.errors import ExportError
from nabd.dashboards.provisioning import ENVIRONMENT, export
from nabd.dashboards.registry import FOLDER_TITLE, FOLDER_UID, build_all


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _datasource_uids(model: Any) -> set[str]:
    if isinstance(model, dict):
        found = (
            {model["uid"]}
            if set(model) == {"type", "uid"} and model["type"] == "postgres"
            else set()
        )
        return found.union(*(_datasource_uids(v) for v in model.values()))
    if isinstance(model, list):
        return set().union(*(_datasource_uids(v) for v in model))
    return set()


def test_export_writes_files_that_reference_each_other(tmp_path: Path) -> None:
    assert main(["dashboards", "export", str(tmp_path), "--mount", "/grafana/prov"]) == 0
    datasource = _yaml(tmp_path / "datasources" / "nabd.yaml")["datasources"]
    provider = _yaml(tmp_path / "dashboards" / "nabd.yaml")["providers"]
    assert len(datasource) == 1
    assert len(provider) == 1
    source, files = datasource[0], provider[0]
    assert source["type"] == "postgres"
    assert source["jsonData"]["timescaledb"] is True
    assert (files["folder"], files["folderUid"], files["type"]) == (
        FOLDER_TITLE,
        FOLDER_UID,
        "file",
    )
    # The provider reads the folder where the JSON files are, as Grafana will see it.
    path = files["options"]["path"]
    assert path.startswith("/grafana/prov/")
    folder = tmp_path / path.removeprefix("/grafana/prov/")
    written = sorted(folder.glob("*.json"))
    assert [p.stem for p in written] == sorted(b.uid for b in build_all())
    for file in written:
        model = json.loads(file.read_text(encoding="utf-8"))
        assert model["uid"] == file.stem
        assert _datasource_uids(model) == {source["uid"]}


def test_the_datasource_holds_no_secret_only_environment_references(tmp_path: Path) -> None:
    export(tmp_path, build_all())
    text = (tmp_path / "datasources" / "nabd.yaml").read_text(encoding="utf-8")
    source = _yaml(tmp_path / "datasources" / "nabd.yaml")["datasources"][0]
    assert source["secureJsonData"] == {"password": "${NABD_DASHBOARDS_DB_PASSWORD}"}
    assert source["user"] == "${NABD_DASHBOARDS_DB_USER}"
    referenced = set(re.findall(r"\$\{(\w+)\}", text))
    assert referenced == set(ENVIRONMENT.values())


def test_export_is_stable_and_drops_what_is_no_longer_exported(tmp_path: Path) -> None:
    first = {p: p.read_bytes() for p in export(tmp_path, build_all())}
    second = {p: p.read_bytes() for p in export(tmp_path, build_all())}
    assert first == second
    assert main(["dashboards", "export", str(tmp_path), "--lang", "en"]) == 0
    names = {p.stem for p in (tmp_path / "dashboards" / "nabd").glob("*.json")}
    assert names == {b.uid for b in build_all() if b.lang == "en"}
    assert main(["dashboards", "export", str(tmp_path), "--lang", "ar"]) == 0
    arabic = {p.stem: p for p in (tmp_path / "dashboards" / "nabd").glob("*.json")}
    assert set(arabic) == {b.uid for b in build_all() if b.lang == "ar"}
    ward = json.loads(arabic["nabd-ward-ar"].read_text(encoding="utf-8"))
    assert ward["title"] == "Nabd · نظرة عامة على المصلحة"  # written as UTF-8, not \u escapes
    assert "نظرة عامة" in arabic["nabd-ward-ar"].read_text(encoding="utf-8")
    assert main(["dashboards", "export", str(tmp_path)]) == 0  # default: every language
    assert len(list((tmp_path / "dashboards" / "nabd").glob("*.json"))) == len(build_all())


def test_export_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="absolute"):
        export(tmp_path, build_all(), mount="relative/path")
    with pytest.raises(ExportError, match="nothing"):
        export(tmp_path, [])
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["dashboards", "export", str(blocker)]) == 1
    with pytest.raises(SystemExit):
        main(["dashboards", "export", str(tmp_path), "--lang", "de"])
