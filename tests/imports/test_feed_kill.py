"""`triage import police-feed` cut off by SIGKILL at a random batch and run again ends with
the database one clean run gives, table by table; a second import creates nothing."""

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.types import Uuid

from tests.conftest import PG_ADMIN_URL, _postgres_url
from triage.db import Base, make_engine
from triage.demo.feed import Plan, write_feed
from triage.migrations import upgrade
from triage.referrals.models import Referral

ROOT = Path(__file__).resolve().parents[2]
# Differ from run to run by design: drawn (ids, references, secrets, the rollups' generation
# token of ADR 20) or the time of the run.
DRAWN = {"id", "reference", "password_hash", "request_hash", "csrf_token", "token_hash", "token"}


def feed_import(url: str, feed: Path, rejects: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from triage.cli import main; main()", "import", "police-feed",
         str(feed), "--rejects", str(rejects)],
        env={**os.environ, "TRIAGE_DATABASE_URL": url}, cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """A database of its own, migrated, dropped after: the run's shared one may hold rows
    other tests left."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        yield url
        return
    name = f"triage_feed_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(_postgres_url(PG_ADMIN_URL, name))
        yield _postgres_url(PG_ADMIN_URL, name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def contents(engine: Engine) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every table's rows as a multiset, without what differs by design (drawn values and
    times); a referral named by its crime reference."""
    refs: dict[Any, Any] = {}
    tables: dict[str, Counter[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        refs = dict(connection.execute(select(Referral.id, Referral.external_ref)).all())
        for table in Base.metadata.sorted_tables:
            kept = [c for c in table.columns if c.name not in DRAWN
                    and not isinstance(c.type, Uuid) and "DateTime" not in repr(c.type)
                    and c.name != "urgent_at"]  # fmt: skip
            named = [c for c in table.columns if c.name == "referral_id"]
            if not kept and not named:  # nothing comparable but how many
                rows = [()] * (connection.scalar(select(func.count()).select_from(table)) or 0)
            else:
                rows = list(connection.execute(select(*kept, *named)).all())
            tables[table.name] = Counter(
                tuple(_plain(v) for v in row[: len(kept)])
                + tuple(refs.get(v) for v in row[len(kept) :])
                for row in rows
            )
    return tables


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return repr(sorted((k, _plain(v)) for k, v in value.items()))
    if isinstance(value, list):
        return repr([_plain(v) for v in value])
    return value


def referrals_in(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(Referral)) or 0
    finally:
        engine.dispose()


def import_killed_then_again(url: str, feed: Path, tmp: Path, plan: Plan, seed: int) -> str:
    """SIGKILL once 1 or 2 batches (2,000 rows each) of 6 or more have committed, then run to
    the end."""
    wanted = random.Random(seed).choice([1, 2])
    child = feed_import(url, feed, tmp / "killed.rejects.csv")
    deadline = time.monotonic() + 120
    while referrals_in(url) < min(plan.created, 1800 * wanted) and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    killed = child.poll() is None
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert killed, "the import ended before it could be cut off"
    assert 0 < referrals_in(url) < plan.created
    again = feed_import(url, feed, tmp / "again.rejects.csv")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 3, err  # 3: some rows rejected, the rest imported
    return out


SIZES = [pytest.param(12_000, id="12k"), pytest.param(100_000, id="100k", marks=pytest.mark.slow)]


@pytest.mark.parametrize("rows", SIZES)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_and_run_again_equals_one_clean_run(backend: str, tmp_path: Path, rows: int) -> None:
    with (
        fresh_database(backend, tmp_path) as killed_url,
        fresh_database(backend, tmp_path) as clean_url,
    ):
        killed_and_clean(killed_url, clean_url, tmp_path, rows)


def killed_and_clean(database_url: str, fresh_url: str, tmp_path: Path, rows: int) -> None:
    feed = tmp_path / "feed.csv"
    plan = write_feed(feed, rows, bad_share=0.01, repeat_share=0.05, seed=rows,
                      today=date.today())  # fmt: skip
    import_killed_then_again(database_url, feed, tmp_path, plan, seed=rows)

    clean = feed_import(fresh_url, feed, tmp_path / "clean.rejects.csv")
    out, err = clean.communicate(timeout=600)
    assert clean.returncode == 3, err
    assert out.startswith(
        f"read {plan.rows:,}, created {plan.created:,}, already present "
        f"{plan.already_present:,}, rejected {plan.rejected:,} "
    ), out
    rejects = (tmp_path / "clean.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == "row,external_ref,field,reason"
    assert {int(line.split(",", 1)[0]) for line in rejects[1:]} == set(plan.rejects)

    killed_engine, clean_engine = make_engine(database_url), make_engine(fresh_url)
    try:
        assert contents(killed_engine) == contents(clean_engine)
        with clean_engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM referrals")) == plan.created
    finally:
        killed_engine.dispose()
        clean_engine.dispose()

    twice = feed_import(fresh_url, feed, tmp_path / "twice.rejects.csv")
    out, _ = twice.communicate(timeout=600)
    assert f"created 0, already present {plan.created + plan.already_present:,}," in out
