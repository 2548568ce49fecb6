"""The expiry sweep at scale: 1,000,000 open referrals on PostgreSQL, of which 1,000 are due.

    .venv/bin/python benchmarks/sweep.py [--open 1000000] [--due 1000] [--keep]

Creates a fresh database (dropped at the end), migrates it with the project's migrations,
loads the demo providers, and COPYs the open referrals with one open offer each (the due ones
past their respond-by time). With `--keep` the filled database is kept as a template
(`bench_sweep_filled_<open>_<due>`) and each run measures a copy of it, so later runs with
`--keep` skip the fill (drop the template by hand, or run once with `--drop-kept`). The
sweep's clock is then the fill's, kept in the template. Then, in the same run:
- the sweep's claim (`FOR UPDATE OF referrals SKIP LOCKED` over the join, as
  triage/deadlines/repository.py builds it), timed 5 times, with EXPLAIN (ANALYZE, BUFFERS);
- the baseline: a bare `SELECT id FROM offers ... FOR UPDATE SKIP LOCKED` claim of the same
  shape on one table;
- the whole sweep, firing `expire` and re-routing all the due referrals.
Targets: the claim under 50 ms (issue 6); the whole sweep under 2 s (issue 17; 5 s in issue 6).
`--profile` runs the sweep under cProfile and prints where its time went.
"""

import argparse
import cProfile
import io
import os
import pstats
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from triage.config import Settings
from triage.db import make_engine, make_session_factory, transaction
from triage.deadlines import repository as deadlines
from triage.deadlines.sweeps import expire_overdue_offers
from triage.migrations import upgrade
from triage.providers.models import Provider
from triage.providers.service import sync_directory
from triage.referrals.models import Offer
from triage.rule_sources import RuleSources

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
COLUMNS = (
    "id, reference, source, external_ref, request_hash, created_by, area, crime_type, "
    "hate_strands, crime_reported_at, received_at, victim_full_name, victim_name_key, "
    "safe_channels, state, version, vcop_edition, enhanced, enhanced_reasons, updated_at"
)


def fill(
    url: str,
    count: int,
    due: int,
    now: datetime,
    rule_set_hash: str,
    offered_to: str = "core-general",
) -> None:
    """COPY `count` awaiting referrals and their open offers to `offered_to`; the first `due`
    are overdue."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        provider_id = session.scalar(select(Provider.id).where(Provider.code == offered_to))
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


def url_of(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def prepare(name: str, args: argparse.Namespace) -> datetime:
    """Migrate `name`, load the providers and fill it; answers the fill's clock."""
    url = url_of(name)
    upgrade(url)
    settings = Settings(database_url=url, scheduler=False)
    rules = RuleSources.from_settings(settings)
    engine = make_engine(url)
    now = datetime.now(UTC)
    with transaction(make_session_factory(engine)) as session:
        sync_directory(session, directory=rules.rule_set.directory, now=now)
        session.execute(text("CREATE TABLE bench_sweep_fill (filled_at timestamptz)"))
        session.execute(text("INSERT INTO bench_sweep_fill VALUES (:now)"), {"now": now})
    engine.dispose()
    started = time.perf_counter()
    fill(url, args.open, args.due, now, rules.engine.hash, args.offered_to)
    filled = time.perf_counter() - started
    print(f"filled {args.open:,} open referrals ({args.due:,} due) in {filled:.1f} s")
    return now


def kept_name(args: argparse.Namespace) -> str:
    return f"bench_sweep_filled_{args.open}_{args.due}_{args.offered_to.replace('-', '_')}"


def create_database(args: argparse.Namespace, name: str) -> datetime:
    """A filled database called `name`: filled now, or copied from the kept template."""
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        if not args.keep:
            admin.execute(f'CREATE DATABASE "{name}"')
            return prepare(name, args)
        template = kept_name(args)
        kept = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone()
        if not kept:
            admin.execute(f'CREATE DATABASE "{template}"')
            prepare(template, args)
        else:
            print(f"reusing the filled database {template} (kept by an earlier --keep run)")
        started = time.perf_counter()
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        print(f"copied {template} in {time.perf_counter() - started:.1f} s")
    with psycopg.connect(url_of(name).replace("+psycopg", "")) as connection:
        filled_at: datetime = connection.execute(
            "SELECT filled_at FROM bench_sweep_fill"
        ).fetchone()[0]
    return filled_at


def cpu_seconds(backends: list[int]) -> tuple[float, dict[int, float], float]:
    """CPU seconds used so far by this process, by each of `backends` (PostgreSQL processes),
    and by the whole machine."""
    tick = os.sysconf("SC_CLK_TCK")
    postgres = {}
    for pid in backends:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the backend ended meanwhile
        postgres[pid] = (int(fields[11]) + int(fields[12])) / tick
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split()[1:9]
    )
    return sum(os.times()[:2]), postgres, (user + nice + system + irq + softirq + steal) / tick


def backends_of(factory: sessionmaker[Session]) -> list[int]:
    """The PostgreSQL processes serving the benchmark's database."""
    with factory() as session:
        return list(
            session.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        )


def time_claims(engine: Engine, factory: sessionmaker[Session], now: datetime, due: int) -> float:
    """Time the sweep's claim and the bare one-table claim 5 times each; print the plan."""
    claim = deadlines.claiming(deadlines.due_offers(now), due)
    bare = text(
        "SELECT id FROM offers WHERE answer IS NULL AND respond_by <= :now "
        "ORDER BY respond_by LIMIT :n FOR UPDATE SKIP LOCKED"
    )
    timings: dict[str, list[float]] = {"claim": [], "bare": []}
    for _ in range(5):
        for label, run in (
            ("claim", lambda s: s.scalars(claim).all()),
            ("bare", lambda s: s.scalars(bare, {"now": now, "n": due}).all()),
        ):
            with factory() as session, session.begin():
                started = time.perf_counter()
                found = run(session)
                timings[label].append((time.perf_counter() - started) * 1000)
                assert len(found) == due, len(found)
                session.rollback()
    with engine.connect() as connection:
        compiled = claim.compile(engine, compile_kwargs={"literal_binds": True})
        plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}").scalars().all()
    print("EXPLAIN (ANALYZE, BUFFERS) of the claim:")
    print("\n".join("  " + line for line in plan))
    claim_ms, bare_ms = min(timings["claim"]), min(timings["bare"])
    runs = [round(t, 1) for t in timings["claim"]]
    print(f"claim {due:,} due: {claim_ms:.1f} ms (best of 5; {runs})")
    print(f"bare one-table claim, same shape: {bare_ms:.1f} ms (best of 5)")
    return claim_ms


def time_sweep(
    factory: sessionmaker[Session], now: datetime, settings: Settings, profile: bool = False
) -> float:
    """Run the whole expiry sweep once; print its time, CPU, and where the referrals went
    (with `profile`, under cProfile, and the functions that took the most time)."""
    rules = RuleSources.from_settings(settings)
    own, backends, machine = cpu_seconds(backends_of(factory))
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    expired = expire_overdue_offers(factory, now=now, rules=rules, settings=settings)
    if profiler:
        profiler.disable()
    whole = time.perf_counter() - started
    if profiler:
        print("the sweep under cProfile (its time is the profiler's, not the sweep's):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    own_after, backends_after, machine_after = cpu_seconds(backends_of(factory))
    own, machine = own_after - own, machine_after - machine
    postgres = sum(cpu - backends.get(pid, 0.0) for pid, cpu in backends_after.items())
    each = whole / max(expired, 1) * 1000
    print(f"whole sweep: {expired:,} expired and re-routed in {whole:.2f} s ({each:.1f} ms each)")
    print(
        f"  CPU: sweep {own:.2f} s, its PostgreSQL backends {postgres:.2f} s; "
        f"others kept {(machine - own - postgres) / whole:.2f} cores busy"
    )
    with factory() as session:
        reoffered = session.scalar(
            select(func.count()).select_from(Offer).where(Offer.offered_at == now)
        )
    print(
        f"  offered to the next candidate: {reoffered:,}; back to the unit: {expired - reoffered:,}"
    )
    return whole


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument(
        "--offered-to",
        default="core-general",
        help="the provider of every filled offer (core-general: an expired burglary has no "
        "other candidate and goes back to the unit; da-idva: it is offered to core-general)",
    )
    parser.add_argument("--keep", action="store_true", help="keep (or reuse) the filled database")
    parser.add_argument("--profile", action="store_true", help="run the sweep under cProfile")
    parser.add_argument("--drop-kept", action="store_true", help="drop the kept database and stop")
    args = parser.parse_args()
    if args.drop_kept:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{kept_name(args)}"')
        return
    name = f"bench_sweep_{uuid.uuid4().hex[:8]}"
    url = url_of(name)
    try:
        now = create_database(args, name)
        settings = Settings(database_url=url, scheduler=False)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        claim_ms = time_claims(engine, factory, now, args.due)
        print(f"load average before the sweep: {os.getloadavg()[0]:.2f}")
        whole = time_sweep(factory, now, settings, args.profile)
        ok = claim_ms < 50 and whole < 2
        print("PASS" if ok else "FAIL", "(targets: claim under 50 ms; whole sweep under 2 s)")
        engine.dispose()
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
