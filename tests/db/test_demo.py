"""The demo's bulk synthetic history (`triage demo --referrals N`): consistent rows, folded facts
equal to a fold of the audit events written, rollups equal to a rebuild, and the command."""

import importlib.util
import random
import subprocess
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.schema import DropConstraint, DropIndex

from tests.conftest import PG_ADMIN_URL, _postgres_url
from tests.db.test_cli import triage
from triage.assessment.models import Assessment
from triage.audit.models import AuditEvent
from triage.auth.service import add_user
from triage.caller import Caller
from triage.config import Settings
from triage.db import transaction
from triage.demo import add_history, deferred, tables
from triage.demo.rows import COLUMNS
from triage.demo.world import build_world
from triage.lifecycle.codes import CLOSURE_REASONS_BEFORE_SUPPORT, CLOSURE_REASONS_IN_SUPPORT, Role
from triage.providers.models import Provider
from triage.referrals.models import Offer, Referral
from triage.reports import facts as case_facts
from triage.reports import fold
from triage.reports.models import ReportCase, ReportCount
from triage.rule_sources import RuleSources
from triage.vcop.models import EntitlementCheck

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# Each event's (from, to) as ReferralFlow allows it (DESIGN 3).
MOVES = {
    "log_contact_attempt": {("received", "contacting"), ("contacting", "contacting")},
    "contact_made": {("received", "assessing"), ("contacting", "assessing")},
    "assessment": {("assessing", "assessing")},
    "route": {("assessing", "awaiting_provider")},
    "accept": {("awaiting_provider", "in_support")},
    "decline": {("awaiting_provider", "awaiting_provider"), ("awaiting_provider", "assessing")},
    "expire": {("awaiting_provider", "awaiting_provider"), ("awaiting_provider", "assessing")},
    "hand_back": {("in_support", "assessing")},
    "close": {(s, "closed") for s in ("received", "contacting", "assessing",
                                      "awaiting_provider", "in_support")},
}  # fmt: skip

Test = TypeVar("Test", bound=Callable[..., None])


def postgresql_only(reason: str) -> Callable[[Test], Test]:
    """A test of what PostgreSQL alone does: on SQLite its history is not written, and it is
    skipped for the reason given."""

    def mark(test: Test) -> Test:
        test.postgresql_only = reason  # type: ignore[attr-defined]
        return test

    return mark


@pytest.fixture(params=["one process", "workers"])
def history(
    request: pytest.FixtureRequest,
    session_factory: sessionmaker[Session],
    settings: Settings,
    rules: RuleSources,
    providers: list[str],
) -> sessionmaker[Session]:
    """300 referrals. On PostgreSQL the load runs with the foreign keys and plain indexes
    built afterwards (as a large fill does), and either in this process or shared among two
    worker processes in chunks of 50 (as a large fill is), so each check covers both."""
    workers = request.param == "workers"
    if workers and settings.database_url.startswith("sqlite"):
        pytest.skip("worker processes write to PostgreSQL only")
    only = getattr(request.function, "postgresql_only", None)
    if only and settings.database_url.startswith("sqlite"):
        pytest.skip(only)
    with transaction(session_factory) as session:
        for name, role in (("h-triage", Role.triage), ("h-intake", Role.intake)):
            add_user(
                session,
                username=name,
                password="long-enough-1",
                role=role,
                provider_code=None,
                now=NOW,
            )
    added = add_history(
        session_factory,
        rules=rules,
        settings=settings,
        count=300,
        now=NOW,
        workers=2,
        chunk=50,
        parallel_from=100 if workers else 1000,
        defer_from=100,
    )
    assert added.referrals == 300
    return session_factory


def test_rows_are_consistent_with_the_lifecycle(history: sessionmaker[Session]) -> None:
    with transaction(history) as session:
        referrals = session.scalars(select(Referral)).all()
        events = defaultdict(list)
        for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
            events[event.referral_id].append(event)
        offers = defaultdict(list)
        for offer in session.scalars(select(Offer).order_by(Offer.id)):
            offers[offer.referral_id].append(offer)
        provider_ids = set(session.scalars(select(Provider.id)))
        assessed = set(session.scalars(select(Assessment.referral_id)))
        folded = set(session.scalars(select(ReportCase.referral_id)))
    assert len(referrals) == 300 and len({r.reference for r in referrals}) == 300
    for r in referrals:
        timeline = events[r.id]
        assert timeline[0].action == "create" and timeline[0].version == 1
        state, version = "received", 1
        for event in timeline[1:]:
            if event.action == "vcop_enhanced":
                assert event.version == version
                continue
            assert (event.from_state, event.to_state) in MOVES[event.action], event.action
            assert event.from_state == state and event.version == version + 1
            assert event.at >= timeline[0].at and event.at <= NOW
            state, version = event.to_state, event.version
        assert (r.state, r.version, r.reported_version) == (state, version, version)
        if r.state == "closed":
            close = timeline[-1]
            allowed = (
                CLOSURE_REASONS_IN_SUPPORT
                if close.from_state == "in_support"
                else CLOSURE_REASONS_BEFORE_SUPPORT
            )
            assert r.closure_reason in allowed and r.closed_at == close.at
            assert close.detail["reason"] == r.closure_reason
            assert bool(r.outcomes) == (r.closure_reason == "support_completed")
        else:
            assert r.closure_reason is None and r.closed_at is None
        open_offers = [o for o in offers[r.id] if o.answer is None]
        assert len(open_offers) == (r.state == "awaiting_provider")
        assert all(o.provider_id in provider_ids for o in offers[r.id])
        assert (r.holder_provider_id is not None) == (
            r.state == "in_support" or (r.state == "closed" and close.from_state == "in_support")
        )
        assert (r.id in assessed) == any(e.action == "assessment" for e in timeline)
        assert r.id in folded
    states = Counter(r.state for r in referrals)
    assert states["closed"] > 200 and len(states) >= 3, states  # recent ones stay open


def test_folded_facts_and_rollups_equal_a_fold_and_a_rebuild_of_what_was_written(
    history: sessionmaker[Session], settings: Settings
) -> None:
    with transaction(history) as session:
        specialisms = fold.provider_specialisms(session)
        ids = random.Random(7).sample(sorted(session.scalars(select(Referral.id))), 60)
        for referral_id in ids:
            timeline = session.execute(
                select(AuditEvent.action, AuditEvent.at, AuditEvent.from_state, AuditEvent.detail)
                .where(AuditEvent.referral_id == referral_id)
                .order_by(AuditEvent.id)
            ).mappings()
            checks = session.execute(
                select(EntitlementCheck).where(
                    EntitlementCheck.referral_id == referral_id, EntitlementCheck.current
                )
            ).scalars()
            lines = [
                {k: getattr(c, k) for k in ("right", "edition", "status", "due_at", "met_at",
                                            "reason")}
                for c in checks
            ]  # fmt: skip
            facts = case_facts.fold(timeline, specialisms=specialisms)
            assert facts is not None
            facts = case_facts.rights(facts, lines, settings.timezone)
            stored = session.get(ReportCase, referral_id)
            assert stored is not None
            assert case_facts.from_json(stored.facts) == facts
        written = _counts(session)
    assert written
    fold.rebuild(history, now=NOW, settings=settings)
    with transaction(history) as session:
        assert _counts(session) == written


def _counts(session: Session) -> dict[tuple, int]:
    return {
        (c.measure, c.period, c.period_start, c.key, c.subkey): c.count
        for c in session.scalars(select(ReportCount))
        if c.count
    }


def test_conversion_falls_in_the_range_comparable_units_report() -> None:
    settings = Settings()
    rules = RuleSources.from_settings(settings)
    ids = {p.code: i for i, p in enumerate(rules.rule_set.directory.providers, start=1)}
    world = build_world(
        rules,
        settings,
        now=NOW,
        users={"triage": Caller(1, "t", Role.triage), "intake": Caller(2, "i", Role.intake)},
        provider_users={},
        provider_ids=ids,
        recent_share=0.0,
        seed=3,
    )
    rows = tables.generate(world, range(1, 4001), 11, Counter())
    facts = [case_facts.from_json(row[2]) for row in rows["report_cases"]]
    counted = [f for f in facts if not f.excluded]
    supported = sum(f.supported_at is not None for f in counted) / len(counted)
    assert 0.11 <= supported <= 0.36, supported
    crimes = Counter(f.crime_type for f in facts)
    assert crimes.most_common(1)[0][0] in ("violence", "domestic_abuse")
    assert 0.05 <= sum(bool(f.hate_strands) for f in facts) / len(facts) <= 0.11
    assert {f.source for f in facts} >= {"police", "self_referral", "partner_agency"}


def _cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    """The `triage` command, run in this process (tests/db/test_cli.py)."""
    return triage(*args, url=url, TRIAGE_PASSWORD="long-enough-1")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_demo_command_writes_a_history_once(backend: str, tmp_path: Path) -> None:
    name = f"triage_test_cli_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'demo.db'}"
    else:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = _postgres_url(PG_ADMIN_URL, name)
    try:
        assert _cli("db", "upgrade", url=url).returncode == 0
        done = _cli("demo", "--referrals", "200", url=url)
        assert done.returncode == 0, done.stderr
        assert "demo referrals: 200 added (0 were already there)" in done.stdout
        assert "demo history" in done.stderr  # the progress bar
        again = _cli("demo", "--referrals", "200", url=url)
        assert "demo referrals: 0 added (200 were already there)" in again.stdout, again.stderr
    finally:
        if backend == "postgresql":
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


CATALOG = text(
    "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) "
    "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
    "UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1"
)


def _catalog(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(CATALOG))


@postgresql_only("indexes and keys are deferred on PostgreSQL only")
def test_a_deferred_load_leaves_every_index_and_key_as_the_migrations_made_them(
    history: sessionmaker[Session], engine: Engine, settings: Settings, rules: RuleSources
) -> None:
    indexes, keys = deferred.deferrable(COLUMNS)
    assert {k.name for k in keys} >= {"fk_audit_events_referral_id_referrals"}
    assert "ix_audit_events_referral_id_id" in {i.name for i in indexes}
    made = _catalog(engine)
    assert all(any(f" {k.name} " in line for line in made) for k in keys)
    # A load killed half-way: the next run builds what it left out, before it adds anything.
    with engine.begin() as connection:
        connection.execute(DropConstraint(keys[0]))
        connection.execute(DropIndex(indexes[0]))
    assert _catalog(engine) != made
    again = add_history(history, rules=rules, settings=settings, count=300, now=NOW, defer_from=100)
    assert again.referrals == 0
    assert _catalog(engine) == made
    # A load that fails still gets them back.
    with pytest.raises(RuntimeError), deferred.deferred(engine, COLUMNS):
        assert _catalog(engine) != made
        raise RuntimeError("the load failed")
    assert _catalog(engine) == made


# Rows that break a constraint while it is deferred, and how to take them out again.
BREAKS = {
    "fk_report_cases_referral_id_referrals": (  # a row without its referral
        [
            "INSERT INTO report_cases (referral_id, version, facts, folded_at) "
            "VALUES (gen_random_uuid(), 1, '{}', now())"
        ],
        "DELETE FROM report_cases WHERE facts::text = '{}'",
    ),
    "uq_referrals_reference": (  # a second referral with the same reference
        [
            "CREATE TEMPORARY TABLE twin ON COMMIT DROP AS SELECT * FROM referrals LIMIT 1",
            "UPDATE twin SET id = gen_random_uuid(), external_ref = external_ref || '-twin'",
            "INSERT INTO referrals SELECT * FROM twin",
        ],
        "DELETE FROM referrals WHERE external_ref LIKE '%-twin'",
    ),
}


@postgresql_only("indexes and keys are deferred on PostgreSQL only")
@pytest.mark.parametrize("constraint", sorted(BREAKS))
def test_rows_that_break_a_constraint_fail_the_deferred_load(
    constraint: str, history: sessionmaker[Session], engine: Engine
) -> None:
    made = _catalog(engine)
    breaking, repair = BREAKS[constraint]
    with (
        pytest.raises(RuntimeError, match=f"not built: {constraint}"),
        deferred.deferred(engine, COLUMNS),
        engine.begin() as connection,
    ):
        for statement in breaking:
            connection.execute(text(statement))
    missing = [line for line in made if line not in _catalog(engine)]
    assert missing == [line for line in made if f" {constraint} " in line]  # the rest built
    with engine.begin() as connection:
        connection.execute(text(repair))
    assert deferred.restore(engine, COLUMNS) == 1
    assert _catalog(engine) == made


@postgresql_only("worker processes write to PostgreSQL only")
def test_workers_add_to_rollups_already_there_as_a_rebuild_would(
    request: pytest.FixtureRequest,
    history: sessionmaker[Session],
    engine: Engine,
    settings: Settings,
    rules: RuleSources,
) -> None:
    made = _catalog(engine)
    pk = "report_counts pk_report_counts PRIMARY KEY (measure, period, period_start, key, subkey)"
    assert pk in made  # built again after a fill into empty rollups
    if request.node.callspec.params["history"] == "workers":
        _assert_rollups_stored_in_key_order(engine)
    more = add_history(
        history,
        rules=rules,
        settings=settings,
        count=400,
        now=NOW,
        workers=2,
        chunk=50,
        parallel_from=50,
    )
    assert more.referrals == 100
    with transaction(history) as session:
        written = _counts(session)
    fold.rebuild(history, now=NOW, settings=settings)
    with transaction(history) as session:
        assert _counts(session) == written
    assert _catalog(engine) == made


def _assert_rollups_stored_in_key_order(engine: Engine) -> None:
    """A fresh fill's rollup rows lie in key order (as good as: the server may take pages
    a little out of turn), so a report reads few pages of them; stored in hash order, the
    correlation is about 0."""
    correlation = text(
        "SELECT correlation FROM pg_stats WHERE schemaname = current_schema() "
        "AND tablename = 'report_counts' AND attname = 'measure'"
    )
    with engine.begin() as connection:
        connection.execute(text("ANALYZE report_counts"))
        assert connection.scalar(correlation) > 0.95


def test_the_migrations_backfill_of_urgent_at_equals_what_the_service_keeps(
    history: sessionmaker[Session], engine: Engine
) -> None:
    """Migration 0011 computes each open referral's next due time in SQL from stored rows;
    the demo writes what the service computes (referrals/urgency.py): the two agree."""
    path = ROOT / "triage/migrations/versions/2026_12_04_0011_urgency_and_returns.py"
    spec = importlib.util.spec_from_file_location("urgency_migration", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with transaction(history) as session:
        kept = dict(session.execute(select(Referral.id, Referral.urgent_at)).all())
    assert sum(at is not None for at in kept.values()) >= 3  # the recent, still open ones
    with engine.begin() as connection:
        connection.execute(text("UPDATE referrals SET urgent_at = NULL"))
        connection.execute(text(migration.BACKFILL[engine.dialect.name]))
    with transaction(history) as session:
        assert dict(session.execute(select(Referral.id, Referral.urgent_at)).all()) == kept
