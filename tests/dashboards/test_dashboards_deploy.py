"""``deploy`` through grafana-client, against a real local HTTP server that keeps what it is sent
and records every request (our own seam: Grafana cannot be installed here), and against a real
Grafana when ``NABD_TEST_GRAFANA_URL`` and ``NABD_TEST_GRAFANA_TOKEN`` are set."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nabd.app.cli import main
from nabd.dashboards.deploy import connect, deploy
from nabd.dashboards.errors import DeployError
from nabd.dashboards.registry import BUILDERS, FOLDER_UID, build_all

BOARDS = build_all()


@dataclass
class Grafana:
    """What the fake Grafana holds, and every request it got: (method, path, body)."""

    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    auth: set[str] = field(default_factory=set)
    status: int | None = None
    """When set, every request is answered with this status (an unhappy Grafana)."""

    def writes(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if r[0] != "GET"]


def _handler(state: Grafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append((method, self.path, body))
            state.auth.add(self.headers.get("Authorization", ""))
            if state.status is not None:
                self._reply(state.status, {"message": "unhappy"})
                return
            self._reply(*_route(state, method, self.path, body))

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

    return Handler


def _route(state: Grafana, method: str, path: str, body: Any) -> tuple[int, object]:
    """The few endpoints deploy uses, as Grafana's HTTP API documents them."""
    uid = path.rsplit("/", 1)[1]
    if path.startswith("/api/folders"):
        return _folders(state, method, uid, body)
    if path.startswith("/api/dashboards/"):
        return _dashboards(state, method, uid, body)
    if method == "GET" and path.startswith("/api/datasources/uid/") and uid in state.datasources:
        return 200, {"uid": uid}
    return 404, {"message": "not found"}


def _folders(state: Grafana, method: str, uid: str, body: Any) -> tuple[int, object]:
    if method == "POST":
        state.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": 1}
        return 200, state.folders[body["uid"]]
    if uid not in state.folders:
        return 404, {"message": "folder not found"}
    if method == "PUT":
        state.folders[uid]["title"] = body["title"]
    return 200, state.folders[uid]


def _dashboards(state: Grafana, method: str, uid: str, body: Any) -> tuple[int, object]:
    if method == "GET":
        stored = state.dashboards.get(uid)
        return (200, stored) if stored else (404, {"message": "Dashboard not found"})
    board = dict(body["dashboard"])
    old = state.dashboards.get(board["uid"], {}).get("dashboard", {})
    board.update(id=7, version=old.get("version", 0) + 1)
    state.dashboards[board["uid"]] = {"dashboard": board, "meta": {"folderUid": body["folderUid"]}}
    return 200, {"status": "success", "uid": board["uid"], "version": board["version"]}


@pytest.fixture
def grafana() -> Iterator[tuple[Grafana, str]]:
    state = Grafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_first_deploy_creates_the_folder_and_every_dashboard(
    grafana: tuple[Grafana, str],
) -> None:
    state, url = grafana
    report = deploy(connect(url, "tok"), BOARDS)
    assert report.folder_created
    assert sorted(report.written) == sorted(b.uid for b in BOARDS)
    assert report.unchanged == ()
    assert not report.datasource_found
    assert state.auth == {"Bearer tok"}
    posts = [r for r in state.writes() if r[1] == "/api/dashboards/db"]
    assert len(posts) == len(BOARDS)
    for _, _, body in posts:
        assert body["folderUid"] == FOLDER_UID
        assert body["overwrite"] is True
        assert body["dashboard"]["id"] is None
    assert state.folders == {FOLDER_UID: {"uid": FOLDER_UID, "title": "Nabd", "id": 1}}


def test_deploying_again_changes_nothing(grafana: tuple[Grafana, str]) -> None:
    state, url = grafana
    state.datasources.add("nabd-timescaledb")
    deploy(connect(url, "tok"), BOARDS)
    first = len(state.requests)
    versions = {uid: d["dashboard"]["version"] for uid, d in state.dashboards.items()}
    report = deploy(connect(url, "tok"), BOARDS)
    second = state.requests[first:]
    assert report.written == ()
    assert not report.folder_created
    assert report.datasource_found
    assert {m for m, _, _ in second} == {"GET"}
    assert {uid: d["dashboard"]["version"] for uid, d in state.dashboards.items()} == versions


def test_only_a_dashboard_that_differs_is_written_again(grafana: tuple[Grafana, str]) -> None:
    state, url = grafana
    deploy(connect(url, "tok"), BOARDS)
    state.dashboards["nabd-ward-fr"]["dashboard"]["title"] = "edited in the browser"
    state.folders[FOLDER_UID]["title"] = "Renamed"
    mark = len(state.requests)
    report = deploy(connect(url, "tok"), BOARDS)
    assert report.written == ("nabd-ward-fr",)
    assert state.dashboards["nabd-ward-fr"]["dashboard"]["title"] == "Nabd · Vue du service"
    assert state.folders[FOLDER_UID]["title"] == "Nabd"
    assert [(m, p) for m, p, _ in state.requests[mark:] if m != "GET"] == [
        ("PUT", f"/api/folders/{FOLDER_UID}"),
        ("POST", "/api/dashboards/db"),
    ]


def test_refusals_and_unreachable_servers_are_deploy_errors(grafana: tuple[Grafana, str]) -> None:
    state, url = grafana
    state.status = 401
    with pytest.raises(DeployError, match="refused"):
        deploy(connect(url, "bad"), BOARDS)
    with pytest.raises(DeployError, match="reach"):
        deploy(connect("http://127.0.0.1:9", "tok"), BOARDS)
    with pytest.raises(DeployError):
        connect("grafana:3000", "tok")


def test_the_cli_deploys_with_the_token_from_the_environment(
    grafana: tuple[Grafana, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, url = grafana
    monkeypatch.setenv("NABD_GRAFANA_TOKEN", "from-env")
    assert main(["dashboards", "deploy", "--url", url, "--lang", "fr"]) == 0
    assert f"{len(BUILDERS)} dashboard(s) written" in capsys.readouterr().out
    assert state.auth == {"Bearer from-env"}
    assert set(state.dashboards) == {b.uid for b in BOARDS if b.lang == "fr"}
    state.status = 500
    assert main(["dashboards", "deploy", "--url", url]) == 1
    monkeypatch.delenv("NABD_GRAFANA_TOKEN")
    assert main(["dashboards", "deploy", "--url", url]) == 2  # usage: no token given


@pytest.mark.skipif(
    not (os.environ.get("NABD_TEST_GRAFANA_URL") and os.environ.get("NABD_TEST_GRAFANA_TOKEN")),
    reason="no Grafana server on this machine",
)
def test_deploy_to_a_real_grafana_is_idempotent() -> None:
    api: Any = connect(os.environ["NABD_TEST_GRAFANA_URL"], os.environ["NABD_TEST_GRAFANA_TOKEN"])
    deploy(api, BOARDS)
    versions = {b.uid: api.dashboard.get_dashboard(b.uid)["dashboard"]["version"] for b in BOARDS}
    report = deploy(api, BOARDS)
    assert report.written == ()
    for board in BOARDS:
        stored = api.dashboard.get_dashboard(board.uid)
        assert stored["meta"]["folderUid"] == FOLDER_UID
        assert stored["dashboard"]["version"] == versions[board.uid]
