"""Links to the nurse station: only when its URL is given (then on every ``patient`` column of
the ward overview and the open alerts), byte-identical exports otherwise, bad URLs refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nabd.app.cli import main
from nabd.dashboards.errors import ExportError
from nabd.dashboards.registry import build_all
from nabd.dashboards.station_links import PATIENT_COLUMN


def _patient_links(model: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The ``links`` of each table override of the ``patient`` column."""
    found = []
    for panel in model.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            for override in inner.get("fieldConfig", {}).get("overrides", []):
                if override["matcher"] == {"id": "byName", "options": PATIENT_COLUMN}:
                    links = [p["value"] for p in override["properties"] if p["id"] == "links"]
                    found.append(links[0] if links else [])
    return found


def test_without_the_setting_the_dashboards_do_not_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NABD_DASHBOARDS_STATION_URL", raising=False)
    plain = [b.to_json() for b in build_all()]
    assert plain == [b.to_json() for b in build_all(station_url=None)]
    assert "/patients/" not in "".join(plain)
    assert main(["dashboards", "export", str(tmp_path / "a")]) == 0
    monkeypatch.setenv("NABD_DASHBOARDS_STATION_URL", "https://station.example.org/")
    assert main(["dashboards", "export", str(tmp_path / "b")]) == 0
    a = sorted((tmp_path / "a").rglob("*.json"))
    b = sorted((tmp_path / "b").rglob("*.json"))
    assert [p.name for p in a] == [p.name for p in b]
    assert any(x.read_bytes() != y.read_bytes() for x, y in zip(a, b, strict=True))
    assert "https://station.example.org/patients/${__value.raw}" in "".join(
        p.read_text(encoding="utf-8") for p in b
    )


def test_patient_rows_and_alert_rows_link_to_the_station() -> None:
    built = {(b.slug, b.lang.value): b.model
             for b in build_all(station_url="https://station.example.org:8443/")}  # fmt: skip
    for slug in ("ward", "alerts"):
        for lang, title in (
            ("en", "Open in the nurse station"),
            ("fr", "Ouvrir au poste de soins"),
        ):
            columns = _patient_links(built[(slug, lang)])
            assert columns, f"{slug} has no patient column"
            for links in columns:
                station = [link for link in links if "/patients/" in link["url"]]
                assert station == [{
                    "title": title, "targetBlank": True,
                    "url": "https://station.example.org:8443/patients/${__value.raw}",
                }]  # fmt: skip
    ward = _patient_links(built[("ward", "en")])
    assert any(len(links) == 2 for links in ward), "the patient-detail link is kept"


@pytest.mark.parametrize(
    "url", ["station.example.org", "ftp://station", "https://", "https://s/?q=1", "javascript:x"]
)
def test_a_station_url_that_is_no_base_url_is_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="station URL"):
        build_all(station_url=url)
    assert main(["dashboards", "export", str(tmp_path), "--station-url", url]) != 0
    assert not (tmp_path / "dashboards").exists()
