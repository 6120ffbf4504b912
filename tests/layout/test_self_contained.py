"""The repository carries what its tests, simulators and benchmarks read.

A clone from a public forge has nothing beside it: no file may reach for a sibling folder (the
development machines once kept the PhysioNet records and the NEWS2 transcription in a ``shared``
folder next to the checkout). The bundled data must also reach the wheel, which hatch builds from
the files git does not ignore.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS: tuple[str, ...] = tuple(
    tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"][
        "dev-mode-dirs"
    ]
)
SCANNED = (*SOURCE_ROOTS, "tests", "bench", "scripts", "docs", "deploy")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".sh", ".sql", ".yaml", ".yml", ".json", ".cfg", ".txt", ""}
SIBLING = re.compile(
    r"\.\./shared\b"  # ../shared
    r"|\bshared/(?:data|reference)\b"  # shared/data/physio, shared/reference/NEWS2.md
    r"|/work/shared\b"
    r"|/\s*[\"']shared[\"']|[\"']shared[\"']\s*/"  # a path component: parent / "shared"
    r"|Path\(\s*[\"'](?:\.\./)?shared\b"
    r"|shared_dir|shared-dir"
)
PHYSIO = REPO / "simulators" / "nabd" / "simulators" / "data" / "physio"


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *SCANNED],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [
        REPO / name
        for name in listed
        if Path(name).suffix in TEXT_SUFFIXES and (REPO / name).is_file()
    ]


def test_nothing_reads_a_folder_beside_the_repository() -> None:
    assert {"simulators", "analytics", "app"} <= set(SOURCE_ROOTS)
    this = Path(__file__).resolve()
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _tracked_text_files()
        if path != this
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if SIBLING.search(line)
    ]
    assert not found, "paths outside the repository:\n" + "\n".join(found)


def test_the_scan_catches_each_way_of_naming_the_sibling() -> None:
    for line in (
        'AFDB = REPO.parent / "shared" / "data"',
        "read ../shared/reference/NEWS2.md",
        "see shared/data/README.md",
        "replay_afdb(record, shared_dir=path)",
    ):
        assert SIBLING.search(line), line
    assert SIBLING.search('Path("shared") / "data"')
    assert not SIBLING.search("topics.shared(INGEST_SHARE_GROUP, ALL_OBSERVATIONS)")
    assert not SIBLING.search('__all__ = ["shared", "topic"]')
    assert not SIBLING.search("the shared subscription; shared buffers")


def test_the_bundled_data_is_not_ignored_by_git_so_the_wheel_gets_it() -> None:
    for path in (PHYSIO / "afdb" / "qrs08455.txt.gz", REPO / "tests" / "data" / "NEWS2.md"):
        assert path.is_file(), f"{path} missing"
        assert not _ignored(path), (
            f"{path} is ignored by git: hatch would leave it out of the wheel"
        )


def _ignored(path: Path) -> bool:
    done = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPO, check=False)
    return done.returncode == 0


def test_what_the_demo_and_the_load_run_write_by_default_is_ignored() -> None:
    from nabd.app.demo.settings import DemoOptions  # noqa: PLC0415  (app, not a layout module)

    export_dir = DemoOptions.model_fields["export_dir"].default
    assert _ignored(REPO / export_dir / "ward-overview.json")
    assert _ignored(REPO / "load-20260301T094117Z.sqlite")
    assert not _ignored(REPO / "docs" / "demo.md")
