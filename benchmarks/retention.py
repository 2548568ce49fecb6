"""Retention at scale (issue 16): anonymise 100,000 due referrals among 5,000,000 on
PostgreSQL, in batches that never hold their locks for more than a second.

1. A database filled as the reports benchmark fills it (`triage demo --referrals N`: a
   year of synthetic history, folded), or one filled before (`--reuse`).
2. The baseline, in the same run: the same number of due referrals claimed in the same
   batches (FOR UPDATE SKIP LOCKED, oldest closure first) and given a no-op UPDATE of their
   own row, each batch its own transaction: the least any anonymisation costs.
3. `run_retention` as the scheduled job runs it, one batch a transaction (`--batch`), until
   `--due` referrals are anonymised, timed whole; each batch timed (its `on_batch`) from its
   claim to its commit, which is how long it held its locks.
Prints each figure and the verdicts; the results are recorded in benchmarks/README.md.
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, func, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reports import fill  # noqa: E402

from triage.config import Settings  # noqa: E402
from triage.db import make_engine, make_session_factory, transaction  # noqa: E402
from triage.referrals.models import Referral  # noqa: E402
from triage.referrals.privacy import due_condition, run_retention  # noqa: E402
from triage.rule_sources import RuleSources  # noqa: E402

TARGET_SECONDS, LOCK_SECONDS = 60.0, 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--referrals", type=int, default=5_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--database", default="triage_bench_retention")
    parser.add_argument("--reuse", action="store_true", help="use an already filled database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    host = args.pg_admin_url.split("://", 1)[1].rsplit("/", 1)[0]
    url = f"postgresql+psycopg://{host}/{args.database}"
    try:
        if not args.reuse:
            fill(args.pg_admin_url, args.database, url, args.referrals)
        return measure(url, args.due, args.batch)
    finally:
        if not (args.keep or args.reuse):
            with psycopg.connect(args.pg_admin_url, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


def measure(url: str, wanted: int, batch: int) -> int:
    settings = Settings(database_url=url)
    factory = make_session_factory(make_engine(url))
    retention = RuleSources.from_settings(settings).retention
    now = datetime.now(UTC)
    due = due_condition(retention, now)
    with factory() as session:
        total = session.scalar(select(func.count()).select_from(Referral)) or 0
        waiting = (
            session.scalar(
                select(func.count()).where(
                    Referral.closed_at.is_not(None), Referral.anonymised_at.is_(None), due
                )  # fmt: skip
            )
            or 0
        )
    print(f"referrals {total:,}; due today under retention {retention.version}: "
          f"{waiting:,}; measuring {wanted:,} in batches of {batch}")  # fmt: skip
    if waiting < wanted:
        print(f"fewer than {wanted:,} due: fill more referrals")
        return 1

    base = bare_claims(factory, due, wanted, batch)
    print(f"baseline (claim and a no-op UPDATE of each row, batches of {batch}): "
          f"{sum(base):.1f} s, longest batch {max(base) * 1000:.0f} ms")  # fmt: skip

    times: list[float] = []
    started = time.perf_counter()
    report = run_retention(factory, retention=retention, as_of=now, now=now, batch=batch,
                           limit=wanted, on_batch=lambda _, took: times.append(took))  # fmt: skip
    spent = time.perf_counter() - started
    anonymised = report.anonymised
    p99 = statistics.quantiles(times, n=100)[98] if len(times) >= 2 else times[0]
    print(f"retention: {anonymised:,} anonymised in {spent:.1f} s "
          f"({anonymised / spent:,.0f}/s, {spent / max(sum(base), 1e-9):.2f}x the baseline); "
          f"batches {len(times)}: median {statistics.median(times) * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms, longest {max(times) * 1000:.0f} ms")  # fmt: skip
    with factory() as session:
        still = (Referral.closed_at.is_not(None), Referral.anonymised_at.is_(None), due)
        left = session.scalar(select(func.count()).where(*still)) or 0
    print(f"still due afterwards: {left:,} (was {waiting:,})")
    fast, short = spent < TARGET_SECONDS, max(times) <= LOCK_SECONDS
    print(f"target < {TARGET_SECONDS:.0f} s: {'met' if fast else 'MISSED'}; no batch "
          f"holding locks > {LOCK_SECONDS:.0f} s: {'met' if short else 'MISSED'}")  # fmt: skip
    return 0 if fast and short and anonymised == wanted else 1


def bare_claims(
    factory: sessionmaker[Session], due: ColumnElement[bool], wanted: int, batch: int
) -> list[float]:
    """Claim `wanted` due referrals in batches, oldest closure first, and UPDATE each row to
    itself, each batch committed as retention's are. The rows stay due (a no-op update
    changes nothing, though it writes the tuples as anonymising does); a cursor on
    (closed_at, id) moves the claims on."""
    times: list[float] = []
    after: tuple[Any, Any] | None = None
    done = 0
    while done < wanted:
        started = time.perf_counter()
        with transaction(factory) as session:
            query = select(Referral.id, Referral.closed_at).where(
                Referral.closed_at.is_not(None), Referral.anonymised_at.is_(None), due
            )
            if after is not None:
                query = query.where(tuple_(Referral.closed_at, Referral.id) > after)
            rows = session.execute(
                query.order_by(Referral.closed_at, Referral.id).limit(batch)
                .with_for_update(skip_locked=True, of=Referral)
            ).all()  # fmt: skip
            session.execute(
                update(Referral).where(Referral.id.in_([r.id for r in rows]))
                .values(notes=Referral.notes).execution_options(synchronize_session=False)
            )  # fmt: skip
        times.append(time.perf_counter() - started)
        if not rows:
            break
        after = (rows[-1].closed_at, rows[-1].id)
        done += len(rows)
    return times


if __name__ == "__main__":
    raise SystemExit(main())
