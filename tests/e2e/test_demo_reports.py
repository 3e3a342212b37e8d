"""`make demo` (scripts/demo.py) end to end: every report it says it wrote holds the run it names,
one file per run, and the export's page is written beside its JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scripts import demo


def test_demo_writes_each_runs_report_where_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "REPORTS", tmp_path / "reports")
    for key in (
        "ARM_ENDPOINT",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "SAS_SEALING_KEY",
        "REQUESTS_CA_BUNDLE",
        "REPORT_CONTAINER_URL",
    ):
        monkeypatch.setenv(key, "")  # the demo sets them; the test's environment gets them back
    monkeypatch.setenv("EXPORT_SCHEDULE", "0 0 2 * * *")
    assert demo.main() == 0
    shown = capsys.readouterr().out
    recap = shown[shown.index("Reports written, one file per run") :]
    said = re.findall(r"run (exp-[0-9a-f]{20}): (report|page) (\S+)", recap)
    assert [Path(path) for _, _, path in said] == [
        tmp_path / "reports" / name
        for name in (
            "demo-1-dry-run.json",
            "demo-report.json",
            "demo-report.html",
            "demo-3-paused.json",
            "demo-backup-report.json",
        )
    ]
    assert len({run for run, _, _ in said}) == 4  # four runs, each in its own file
    for run_id, kind, path in said:
        text = Path(path).read_text(encoding="utf-8")
        if kind == "page":
            assert f"<title>{run_id}:" in text and "<svg" in text
        else:
            assert json.loads(text)["runId"] == run_id
    # the export's summary names each failed server with ARM's code
    assert re.search(
        r"Failed or timed out \(\d+\):\n  billing-db \(ProdGroup\) Failed: Authoriz", shown
    )
    assert "e+" not in shown.replace("e+0", "")  # no 1.2e+11 bytes
    # the export named containers, not a SAS: the blobs the service wrote through the SAS minted
    # per export, and the run's report files, are listed from storage (Azurite)
    export_id = said[1][0]
    stored = shown[shown.index("In storage (Azurite)") :]
    listed = re.search(
        r"\n(\d+) blobs in https://127\.0\.0\.1:\d+/devstoreaccount1/mysql-backups:", stored
    )
    assert listed is not None and int(listed.group(1)) >= 2 * 20  # a data part and a manifest each
    assert re.search(r"\n  inventory-db/inventory-db-\d{12}/manifest\.json\n", stored)
    assert re.search(r"\n  inventory-db/inventory-db-\d{12}/data/part-0001-of-0001\n", stored)
    assert f"\n  ... and {int(listed.group(1)) - 8} more\n" in stored
    for name in ("report.json", "servers.csv", "report.html"):
        assert f"\n  {export_id}/{name}\n" in stored
    assert "sig=" not in shown
