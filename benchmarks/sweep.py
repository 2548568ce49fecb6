"""The expiry sweep at scale: 1,000,000 open referrals on PostgreSQL, of which 1,000 are due.

    .venv/bin/python benchmarks/sweep.py [--open 1000000] [--due 1000]

Creates a fresh database (dropped at the end), migrates it with the project's migrations,
loads the demo providers, and COPYs the open referrals with one open offer each (the due ones
past their respond-by time). Then, in the same run:
- the sweep's claim (`FOR UPDATE OF referrals SKIP LOCKED` over the join, as
  triage/deadlines/sweeps.py builds it), timed 5 times, with EXPLAIN (ANALYZE, BUFFERS);
- the baseline: a bare `SELECT id FROM offers ... FOR UPDATE SKIP LOCKED` claim of the same
  shape on one table;
- the whole sweep, firing `expire` and re-routing all the due referrals.
Targets (issue 6): the claim under 50 ms; the whole sweep under 5 s.
"""

import argparse
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import select, text

from triage.config import Settings
from triage.db import make_engine, make_session_factory, transaction
from triage.deadlines.sweeps import expire_overdue_offers
from triage.migrations import upgrade
from triage.providers.models import Provider
from triage.providers.service import load_directory
from triage.referrals.models import Offer, Referral
from triage.routing.service import current_engine

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
COLUMNS = (
    "id, reference, source, external_ref, request_hash, created_by, area, crime_type, "
    "hate_strands, crime_reported_at, received_at, victim_full_name, victim_name_key, "
    "safe_channels, state, version, vcop_edition, enhanced, enhanced_reasons, updated_at"
)


def fill(url: str, count: int, due: int, now: datetime, rule_set_hash: str) -> None:
    """COPY `count` awaiting referrals and their open offers; the first `due` are overdue."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        provider_id = session.scalar(select(Provider.id).where(Provider.code == "core-general"))
        user_id = session.execute(
            text(
                "INSERT INTO users (username, password_hash, role, active, created_at) "
                "VALUES ('bench', 'x', 'intake', true, now()) RETURNING id"
            )
        ).scalar_one()
    engine.dispose()
    received = (now - timedelta(days=2)).isoformat()
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        with connection.cursor() as cursor:
            referrals, offers = io.StringIO(), io.StringIO()
            for number in range(count):
                rid = uuid.uuid4()
                respond_by = (
                    now - timedelta(minutes=1 + number)
                    if number < due
                    else now + timedelta(hours=1 + number % 500)
                )
                referrals.write(
                    f"{rid}\tVR-26-{number:08d}\tpolice\tSWEEP-{number}\t\t{user_id}\tderby_city\t"
                    f"burglary\t[]\t{received}\t{received}\tSam Example\tsam example\t[]\t"
                    f"awaiting_provider\t1\t2021\tfalse\t[]\t{received}\n"
                )
                offers.write(
                    f"{rid}\t{provider_id}\t{received}\t{respond_by.isoformat()}\t{rule_set_hash}\n"
                )
            for table, columns, buffer in (
                ("referrals", COLUMNS, referrals),
                (
                    "offers",
                    "referral_id, provider_id, offered_at, respond_by, rule_set_hash",
                    offers,
                ),
            ):
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write(buffer.getvalue())
        connection.commit()
        connection.execute("ANALYZE referrals")
        connection.execute("ANALYZE offers")
        connection.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1_000)
    args = parser.parse_args()
    name = f"bench_sweep_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade(url)
        settings = Settings(database_url=url, scheduler=False)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        now = datetime.now(UTC)
        with transaction(factory) as session:
            load_directory(session, path=ROOT / "routing_rules/derbyshire/providers.toml", now=now)
        started = time.perf_counter()
        fill(url, args.open, args.due, now, current_engine(settings).hash)
        filled = time.perf_counter() - started
        print(f"filled {args.open:,} open referrals ({args.due:,} due) in {filled:.1f} s")
        claim = (
            select(Referral.id)
            .join(Offer, Offer.referral_id == Referral.id)
            .where(Offer.answer.is_(None), Offer.respond_by <= now)
            .order_by(Offer.respond_by)
            .limit(args.due)
            .with_for_update(of=Referral, skip_locked=True)
        )
        bare = text(
            "SELECT id FROM offers WHERE answer IS NULL AND respond_by <= :now "
            "ORDER BY respond_by LIMIT :n FOR UPDATE SKIP LOCKED"
        )
        timings: dict[str, list[float]] = {"claim": [], "bare": []}
        for _ in range(5):
            for label, run in (
                ("claim", lambda s: s.scalars(claim).all()),
                ("bare", lambda s: s.scalars(bare, {"now": now, "n": args.due}).all()),
            ):
                with factory() as session, session.begin():
                    started = time.perf_counter()
                    found = run(session)
                    timings[label].append((time.perf_counter() - started) * 1000)
                    assert len(found) == args.due, len(found)
                    session.rollback()
        with engine.connect() as connection:
            compiled = claim.compile(engine, compile_kwargs={"literal_binds": True})
            plan = (
                connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}").scalars().all()
            )
        print("EXPLAIN (ANALYZE, BUFFERS) of the claim:")
        print("\n".join("  " + line for line in plan))
        claim_ms, bare_ms = min(timings["claim"]), min(timings["bare"])
        runs = [round(t, 1) for t in timings["claim"]]
        print(f"claim {args.due:,} due of {args.open:,}: {claim_ms:.1f} ms (best of 5; {runs})")
        print(f"bare one-table claim, same shape: {bare_ms:.1f} ms (best of 5)")
        started = time.perf_counter()
        expired = expire_overdue_offers(factory, now=now, settings=settings)
        whole = time.perf_counter() - started
        each = whole / max(expired, 1) * 1000
        print(
            f"whole sweep: {expired:,} expired and re-routed in {whole:.2f} s ({each:.1f} ms each)"
        )
        ok = claim_ms < 50 and whole < 5
        print("PASS" if ok else "FAIL", "(targets: claim under 50 ms; whole sweep under 5 s)")
        engine.dispose()
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
