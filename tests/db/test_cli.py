"""The `triage` command line against a fresh database: rules check and load, users."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def triage(*args: str, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from triage.cli import main; main()", *args],
        env={**os.environ, "TRIAGE_DATABASE_URL": url, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'cli.db'}"
    assert triage("db", "upgrade", url=url).returncode == 0
    return url


class TestRulesCommands:
    def test_check_passes_on_the_shipped_rules_and_prints_the_hash(self, url: str) -> None:
        done = triage("rules", "check", url=url)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("ok: derbyshire@") and "hash" in done.stdout

    def test_check_fails_naming_the_problem(self, url: str, tmp_path: Path) -> None:
        broken = tmp_path / "derbyshire"
        shutil.copytree(ROOT / "routing_rules" / "derbyshire", broken)
        routing = broken / "routing.toml"
        routing.write_text(routing.read_text().replace('"da-idva"]', '"da-nowhere"]'))
        done = triage("rules", "check", str(broken), url=url)
        assert done.returncode == 1
        assert "unknown provider 'da-nowhere'" in done.stderr

    def test_load_reports_what_it_added_then_that_nothing_changed(self, url: str) -> None:
        first = triage("rules", "load", url=url)
        assert first.returncode == 0 and "10 added" in first.stdout, first.stdout + first.stderr
        again = triage("rules", "load", url=url)
        assert "0 added" in again.stdout and "10 unchanged" in again.stdout


class TestUserAdd:
    def test_a_provider_user_needs_an_existing_provider(self, url: str) -> None:
        triage("rules", "load", url=url)
        ok = triage(
            "user",
            "add",
            "sv-1",
            "--role",
            "provider",
            "--provider",
            "sv-adult",
            url=url,
            TRIAGE_PASSWORD="long-enough-1",
        )
        assert ok.returncode == 0, ok.stderr
        bad = triage(
            "user",
            "add",
            "sv-2",
            "--role",
            "provider",
            "--provider",
            "nope",
            url=url,
            TRIAGE_PASSWORD="long-enough-1",
        )
        assert bad.returncode == 2 and "no provider with code 'nope'" in bad.stderr
