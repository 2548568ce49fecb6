"""`triage report …` on the command line: each report, each format, errors, rebuild.

The commands run in this process (tests/db/test_cli.py's `triage`); the JSON on standard
output is read from the real command, in a process of its own."""

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.db.test_cli import triage, triage_process


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('report-cli') / 'reports.db'}"
    assert triage("db", "upgrade", url=url).returncode == 0
    assert triage("rules", "load", url=url).returncode == 0
    return url


class TestReportCommands:
    def test_conversion_as_json_on_standard_output(self, url: str) -> None:
        done = triage_process("report", "conversion", "--from", "2026-01-01", "--to",
                              "2026-12-31", "--group-by", "crime_type", url=url)  # fmt: skip
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert (answer["from"], answer["to"], answer["group_by"]) == (
            "2026-01-01", "2026-12-31", "crime_type",
        )  # fmt: skip
        assert [s["stage"] for s in answer["stages"]][:2] == ["received", "contacted"]

    def test_each_report_writes_csv_to_a_file(self, url: str, tmp_path: Path) -> None:
        for kind, extra in [("vcop", []), ("moj", ["--quarter", "2026Q3"]), ("providers", [])]:
            out = tmp_path / f"{kind}.csv"
            done = triage("report", kind, *extra, "--format", "csv", "--output", str(out), url=url)
            assert done.returncode == 0, done.stderr
            assert f"written to {out}" in done.stderr
            if kind == "providers":
                rows = list(csv.DictReader(io.StringIO(out.read_text())))
                assert {r["provider"] for r in rows} >= {"core-general"}

    def test_a_spreadsheet_needs_a_file_and_opens(self, url: str, tmp_path: Path) -> None:
        refused = triage("report", "providers", "--format", "xlsx", url=url)
        assert refused.returncode != 0 and "--output" in refused.stderr
        out = tmp_path / "providers.xlsx"
        done = triage("report", "providers", "--format", "xlsx", "-o", str(out), url=url)
        assert done.returncode == 0, done.stderr
        header = next(load_workbook(out).active.iter_rows(values_only=True))
        assert header[0] == "provider"

    def test_bad_input_names_the_option(self, url: str) -> None:
        done = triage("report", "moj", "--quarter", "2026-3", url=url)
        assert done.returncode != 0 and "--quarter" in done.stderr
        done = triage("report", "conversion", "--from", "yesterday", url=url)
        assert done.returncode != 0 and "--from" in done.stderr

    def test_rebuild_and_fold_report_what_they_did(self, url: str) -> None:
        done = triage("report", "rebuild", url=url)
        assert done.returncode == 0 and "rebuilt the rollups from 0 referrals" in done.stdout
        done = triage("report", "fold", url=url)
        assert done.returncode == 0 and "folded 0 referrals" in done.stdout
