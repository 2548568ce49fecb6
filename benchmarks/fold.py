"""The report fold of newly received referrals: CPU per referral, as the server's scheduler
spends it beside intake.

    .venv/bin/python benchmarks/fold.py [--referrals 10000] [--rounds 3] [--profile]
                                        [--pg-admin-url URL]

A fresh PostgreSQL database (dropped at the end), set up with the `triage` command (`db
upgrade`, `demo --no-users`), then `--referrals` new referrals brought in by `triage import
police-feed` (the rows intake writes: the referral, its audit event, its check lines), not
yet folded. Each round folds them all with `fold_pending` (batches of 500, as the scheduler
does) and then marks them changed again, emptying the rollups, so the next round folds the
same work; it prints the wall time and this process's CPU per referral, and the best round.
The baseline, in the same run: reading the same referrals' rows with a bare Core query each
batch (what any fold must read), so the fold's own work is the difference.

Intake's benchmark (benchmarks/intake.py) profiles the real server at about a fifth of its
Python time in this fold (issue 17).
"""

import argparse
import cProfile
import importlib
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import (  # noqa: E402
    SetupError,
    cpu_model,
    drop_database,
    fresh_database,
    postgres_version,
    triage_command,
)

from triage.config import Settings  # noqa: E402
from triage.db import make_engine, make_session_factory  # noqa: E402
from triage.reports.fold import BATCH, fold_pending  # noqa: E402

# benchmarks/import.py: a module named after a keyword, so imported by name.
write_feed_apart = importlib.import_module("import").write_feed_apart

UNFOLD = (
    "DELETE FROM report_cases",
    "DELETE FROM report_counts",
    "UPDATE referrals SET reported_version = 0",
)
BARE = (
    "SELECT r.id, r.version, a.action, a.at, a.from_state, a.detail FROM referrals r "
    "JOIN audit_events a ON a.referral_id = r.id WHERE r.id = ANY(:ids) ORDER BY r.id, a.id"
)


def cpu() -> float:
    return sum(os.times()[:2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile the last round")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} CPU(s), {cpu_model()}, "
        f"PostgreSQL {postgres_version(args.pg_admin_url)}, Python {sys.version.split()[0]}"
    )
    name, url = fresh_database(args.pg_admin_url)
    try:
        env = {**os.environ, "TRIAGE_DATABASE_URL": url, "TRIAGE_SCHEDULER": "false"}
        env.pop("TRIAGE_RULE_SET", None)
        triage_command(["db", "upgrade"], env)
        triage_command(["demo", "--no-users"], env)
        with tempfile.TemporaryDirectory() as folder:
            feed = Path(folder) / "feed.csv"
            made = write_feed_apart(feed, args.referrals)
            triage_command(["import", "police-feed", str(feed)], env)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        settings = Settings(database_url=url, scheduler=False)
        with factory() as session:
            pending = session.scalar(
                text("SELECT count(*) FROM referrals WHERE reported_version != version")
            )
            ids = list(session.scalars(text("SELECT id FROM referrals")))
        print(f"{made:,} referrals imported, {pending:,} waiting to be folded")
        best_fold, best_bare = float("inf"), float("inf")
        for number in range(1, args.rounds + 1):
            with factory() as session, session.begin():
                for statement in UNFOLD:
                    session.execute(text(statement))
            profiler = cProfile.Profile() if args.profile and number == args.rounds else None
            started, used = time.perf_counter(), cpu()
            if profiler:
                profiler.enable()
            folded = fold_pending(factory, now=datetime.now(UTC), settings=settings)
            if profiler:
                profiler.disable()
            wall, own = time.perf_counter() - started, cpu() - used
            assert folded == pending, (folded, pending)
            started, used = time.perf_counter(), cpu()
            with factory() as session:
                for start in range(0, len(ids), BATCH):
                    session.execute(text(BARE), {"ids": ids[start : start + BATCH]}).all()
            bare_wall, bare_own = time.perf_counter() - started, cpu() - used
            each, bare_each = own / folded * 1e6, bare_own / folded * 1e6
            best_fold, best_bare = min(best_fold, each), min(best_bare, bare_each)
            print(
                f"round {number}: fold {folded:,} in {wall:.2f} s, {each:.0f} us CPU each; "
                f"bare read {bare_wall:.2f} s, {bare_each:.0f} us CPU each"
            )
            if profiler:
                print("the last round under cProfile (its times are the profiler's):")
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
        print(
            f"best: fold {best_fold:.0f} us CPU a referral, the bare read {best_bare:.0f} us "
            f"({best_fold / best_bare:.1f}x)"
        )
        engine.dispose()
        return 0
    except SetupError as error:
        print(f"setup failed: {error}", file=sys.stderr)
        return 3
    finally:
        drop_database(args.pg_admin_url, name)


if __name__ == "__main__":
    sys.exit(main())
