"""The `triage` command line against a fresh database: rules check and load, users.

Each command runs in this process, as the command line runs it (Click's test runner: the
arguments parsed, the exit status, standard output and error kept apart); a separate process
spends a second or more importing the service before it does anything, so only a few tests
run the real `triage` in one (`triage_process`)."""

import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from triage import db
from triage.cli import app
from triage.config import get_settings
from triage.db import make_engine as db_make_engine

ROOT = Path(__file__).resolve().parents[2]


def triage(*args: str, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`triage ARGS` with TRIAGE_DATABASE_URL=url (and env), run in this process: answers as
    `triage_process` does. An exception the command let through is printed to standard error
    with its traceback, as the process would print it (the runner keeps it aside); the
    engines the command opened are closed after it, as they would be when its process ends."""
    engines: list[Engine] = []

    def make_engine(*args: Any, **kwargs: Any) -> Engine:
        engines.append(db_make_engine(*args, **kwargs))
        return engines[-1]

    get_settings.cache_clear()  # the settings are read once a process: read them for this run
    try:
        with patch.object(db, "make_engine", make_engine):
            done = CliRunner().invoke(
                app, list(args), env={"TRIAGE_DATABASE_URL": url, **env}, prog_name="triage"
            )
    finally:
        get_settings.cache_clear()
        for engine in engines:
            engine.dispose()
    stderr = done.stderr
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        stderr += "".join(traceback.format_exception(done.exception))
    return subprocess.CompletedProcess(["triage", *args], done.exit_code, done.stdout, stderr)


def triage_process(*args: str, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`triage ARGS` in a process of its own, through the command's entry point."""
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
        done = triage_process("rules", "check", url=url)  # the real command, in its own process
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

    @pytest.mark.parametrize(
        ("file", "old", "new", "named"),
        [
            (
                "retention.toml",
                "months = 6",
                "months = 0",
                "period 'not-for-this-service' field months",
            ),
            ("partners.toml", '"derby_city"', '"atlantis"', "atlantis"),
        ],
    )
    def test_check_names_a_problem_in_the_retention_or_partners_file(
        self, url: str, tmp_path: Path, file: str, old: str, new: str, named: str
    ) -> None:
        rules = tmp_path / "routing_rules"
        shutil.copytree(ROOT / "routing_rules", rules)
        path = rules / file
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new, 1))
        done = triage("rules", "check", url=url, TRIAGE_RULES_DIR=str(rules))
        assert done.returncode == 1, done.stdout
        assert str(path) in done.stderr and named in done.stderr, done.stderr

    def test_load_reports_what_it_added_then_that_nothing_changed(self, url: str) -> None:
        first = triage("rules", "load", url=url)
        assert first.returncode == 0 and "10 added" in first.stdout, first.stdout + first.stderr
        again = triage("rules", "load", url=url)
        assert "0 added" in again.stdout and "10 unchanged" in again.stdout


class TestRetentionRun:
    def test_a_dry_run_lists_then_a_run_anonymises(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'retention.db'}"
        assert triage("db", "upgrade", url=url).returncode == 0
        assert triage("demo", "--referrals", "300", "--days", "365", url=url).returncode == 0
        dry = triage("retention", "run", "--as-of", "2031-01-01", "--dry-run", url=url)
        assert dry.returncode == 0, dry.stderr
        listed = [line for line in dry.stdout.splitlines() if line.startswith("VR-")]
        assert (
            listed and f"would anonymise {len(listed):,} referrals as of 2031-01-01" in dry.stdout
        )
        done = triage("retention", "run", "--as-of", "2031-01-01", url=url)
        assert f"anonymised {len(listed):,} referrals as of 2031-01-01" in done.stdout
        again = triage("retention", "run", "--as-of", "2031-01-01", url=url)
        assert "anonymised 0 referrals" in again.stdout
        bad = triage("retention", "run", "--as-of", "next week", url=url)
        assert bad.returncode == 2 and "--as-of" in bad.stderr


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


class TestUserChanges:
    """`triage user list|reset-password|disable|enable`: the same services as the admin's
    pages, so a disabled user's token stops at once."""

    def test_list_disable_enable_and_reset(self, url: str) -> None:
        import asyncio
        from concurrent.futures import ThreadPoolExecutor
        from datetime import UTC, datetime, timedelta

        from sqlalchemy.orm import Session

        from triage.auth import service as auth_service
        from triage.auth.gate import SignInGate
        from triage.db import session_factory_for, transaction
        from triage.errors import NotAuthenticated

        assert triage("user", "add", "k.ward", "--role", "triage", url=url,
                      TRIAGE_PASSWORD="first-password").returncode == 0  # fmt: skip
        factory = session_factory_for(url)
        now = datetime.now(UTC)

        def sign_in(password: str) -> str:
            def issue(session: Session, found: auth_service.Found) -> str:
                return auth_service.issue_token(session, found, now=now,
                                                lifetime=timedelta(hours=1))  # fmt: skip

            attempt = auth_service.Attempt("k.ward", password, "test", now)
            with factory() as session:  # sign-in ends its own transactions
                # On a thread of its own: a worker that ran the browser tests has Playwright's
                # loop running in this one, and asyncio.run refuses to start beside it.
                signing_in = auth_service.sign_in(
                    session, attempt=attempt, gate=SignInGate(), open_=issue
                )
                with ThreadPoolExecutor(1) as thread:
                    token = thread.submit(asyncio.run, signing_in).result()
                session.commit()
            return token

        token = sign_in("first-password")
        listed = triage("user", "list", url=url)
        assert listed.returncode == 0
        assert any(line.split()[:2] == ["k.ward", "triage"] and line.endswith("active")
                   for line in listed.stdout.splitlines())  # fmt: skip

        disabled = triage("user", "disable", "k.ward", url=url)
        assert disabled.returncode == 0 and "disabled" in disabled.stdout
        with transaction(factory) as session, pytest.raises(NotAuthenticated):
            auth_service.authenticate(session, token=token, now=now)
        assert "disabled" in triage("user", "list", url=url).stdout
        assert triage("user", "enable", "k.ward", url=url).returncode == 0

        reset = triage("user", "reset-password", "k.ward", url=url,
                       TRIAGE_PASSWORD="second-password")  # fmt: skip
        assert reset.returncode == 0
        assert sign_in("second-password")

    def test_an_unknown_user_is_named(self, url: str) -> None:
        done = triage("user", "disable", "nobody-here", url=url)
        assert done.returncode != 0 and "nobody-here" in done.stderr


class TestCarelessUse:
    """Mistakes at the command line get a line that says what is wrong, never a traceback."""

    def test_an_unknown_revision_is_named(self, url: str) -> None:
        done = triage("db", "upgrade", "nonsense", url=url)
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        assert "unknown revision 'nonsense'" in done.stderr

    def test_a_bad_group_by_names_the_option_as_typed(self, url: str) -> None:
        done = triage("report", "conversion", "--group-by", "nonsense", url=url)
        assert done.returncode == 2
        assert "--group-by" in done.stderr and "--group_by" not in done.stderr

    def test_user_add_offers_only_the_roles_it_accepts(self, url: str) -> None:
        shown = triage("user", "add", "--help", url=url, COLUMNS="200")
        assert "system" not in shown.stdout
        refused = triage(
            "user", "add", "x", "--role", "system", url=url, TRIAGE_PASSWORD="pw-1-long-enough"
        )
        assert refused.returncode == 2 and "system" in refused.stderr
        assert "Traceback" not in refused.stderr


def test_the_roles_offered_are_every_role_but_the_service_itself() -> None:
    from triage.cli import PersonRole
    from triage.lifecycle.codes import Role

    assert {r.value for r in PersonRole} == {r.value for r in Role} - {"system"}
