"""Filling a database with the demo history: chunks of simulated referrals written in this
process, or shared among worker processes on PostgreSQL, and their rollups added once.

Referral number n has external reference `DEMO-<n>`; a run adds the numbers after those
already there, so `--referrals N` means N in all and a second run adds nothing.
"""

import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.orm import Session, sessionmaker

import triage.models  # noqa: F401 (every table in Base.metadata)
from triage.caller import Caller
from triage.config import Settings
from triage.db import Base, transaction
from triage.demo import deferred, repository, tables
from triage.demo.rows import COLUMNS, Rows
from triage.demo.world import DAYS, World, build_world
from triage.lifecycle.codes import Role
from triage.reports import facts as case_facts
from triage.reports import fold
from triage.reports import repository as reports_repository
from triage.rule_sources import RuleSources

CHUNK = 2000
SEED = 20261125
PARALLEL_FROM = 20_000  # fewer referrals than this are written by this process alone
# PostgreSQL: adding at least this many, and at least as many as there are already, the
# loaded tables' constraints (but primary keys) and plain indexes are built after the load
# (see `deferred`).
DEFER_FROM = 20_000
ROLLUP_LOAD = "report_count_load"  # the workers' rollup changes, until they are added


@dataclass(frozen=True)
class Plan:
    """What every process of a fill makes its world from (sent to each worker)."""

    rules: RuleSources
    settings: Settings
    now: datetime
    users: dict[str, Caller]
    provider_users: dict[str, Caller]
    provider_ids: dict[str, int]
    recent_share: float
    seed: int
    days: int = DAYS


@dataclass(frozen=True)
class Added:
    referrals: int
    rows: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.referrals / self.seconds if self.seconds else 0.0


Progress = Callable[[int], None]


def add_history(
    factory: sessionmaker[Session],
    *,
    rules: RuleSources,
    settings: Settings,
    count: int,
    now: datetime | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    note: deferred.Note | None = None,
    seed: int = SEED,
    chunk: int = CHUNK,
    parallel_from: int = PARALLEL_FROM,
    defer_from: int = DEFER_FROM,
    days: int = DAYS,
) -> Added:
    """Make `count` demo referrals in all (adding those missing), received over the last
    `days`; answers what was added. `note` hears what happens besides the referrals
    (building indexes afterwards)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    with transaction(factory) as session:
        plan = _plan(session, rules, settings, now, count, seed, days)
        existing = repository.demo_referral_count(session)
        everyone = repository.referral_count(session)
    first = existing + 1
    chunks = [range(a, min(a + chunk, count + 1)) for a in range(first, count + 1, chunk)]
    engine = factory.kw["bind"]
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        deferred.restore(engine, COLUMNS, note)  # what a killed run left out
    if not chunks:
        return Added(0, 0, time.perf_counter() - started)
    workers = workers or min(2, os.cpu_count() or 1)
    report = progress or (lambda n: None)
    adding = count - first + 1
    defer = postgres and adding >= max(defer_from, everyone)
    with deferred.deferred(engine, COLUMNS, note) if defer else nullcontext():
        if postgres and workers > 1 and adding >= parallel_from:
            url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            rows = _in_workers(plan, url, chunks, workers, report)
        else:
            rows = _here(plan, factory, chunks, postgres, report)
    return Added(adding, rows, time.perf_counter() - started)


def _plan(
    session: Session,
    rules: RuleSources,
    settings: Settings,
    now: datetime,
    count: int,
    seed: int,
    days: int,
) -> Plan:
    """The users the history names: the first triage and intake users, and each provider's
    first worker (a provider without one answers as its team)."""
    provider_ids = repository.provider_ids(session)
    codes = {i: code for code, i in provider_ids.items()}
    users: dict[str, Caller] = {}
    provider_users: dict[str, Caller] = {}
    for user_id, name, role, provider_id in repository.users(session):
        if role in (Role.triage, Role.intake):
            users.setdefault(role, Caller(user_id, name, Role(role)))
        elif role == Role.provider and provider_id in codes:
            provider_users.setdefault(codes[provider_id], Caller(user_id, name, Role.provider))
    if not users:
        raise SystemExit("demo referrals need a triage or intake user: run without --no-users")
    share = min(0.4, 10 / count)
    return Plan(rules, settings, now, users, provider_users, provider_ids, share, seed, days)


def _world(plan: Plan) -> World:
    return build_world(
        plan.rules,
        plan.settings,
        now=plan.now,
        users=plan.users,
        provider_users=plan.provider_users,
        provider_ids=plan.provider_ids,
        recent_share=plan.recent_share,
        seed=plan.seed,
        days=plan.days,
    )


def _chunk_seed(plan: Plan, chunk: range) -> int:
    return plan.seed * 1_000_003 + chunk.start


def _here(
    plan: Plan,
    factory: sessionmaker[Session],
    chunks: list[range],
    postgres: bool,
    report: Progress,
) -> int:
    world = _world(plan)
    summed: Counter[case_facts.Key] = Counter()
    written = 0
    engine = factory.kw["bind"]
    for chunk in chunks:
        rows = tables.generate(world, chunk, _chunk_seed(plan, chunk), summed)
        with engine.begin() as connection:
            if postgres:
                written += repository.copy_rows(connection.connection.driver_connection, rows)
            else:
                written += repository.insert_rows(connection, Base.metadata.tables, rows)
        report(len(chunk))
    delta = fold.to_delta(summed)
    with transaction(factory) as session:
        reports_repository.apply_delta(session, delta)  # on PostgreSQL by COPY and one upsert
    return written + len(delta)


def _in_workers(plan: Plan, url: str, chunks: list[range], workers: int, report: Progress) -> int:
    """The chunks shared among worker processes. Each worker COPYs its summed rollup
    changes into an unlogged table of their own (no index, so no worker waits on another);
    one upsert then adds them, summed by key, to the rollups."""
    with psycopg.connect(url, autocommit=True) as connection:
        reports_repository.create_count_load(connection, ROLLUP_LOAD)
    try:
        written = _run_workers(plan, url, chunks, workers, report)
        with psycopg.connect(url) as connection, connection.cursor() as cursor:
            written += reports_repository.merge_count_load(cursor, ROLLUP_LOAD)
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            reports_repository.drop_count_load(connection, ROLLUP_LOAD)
    return written


def _run_workers(plan: Plan, url: str, chunks: list[range], workers: int, report: Progress) -> int:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_work, args=(plan, url, chunks[i::workers], queue), daemon=True)
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    written, running = 0, workers
    try:
        while running:
            kind, value = queue.get(timeout=600)
            if kind == "chunk":
                report(value)
            elif kind == "rows":
                written += value
            elif kind == "done":
                running -= 1
            else:
                raise RuntimeError(f"a demo worker failed: {value}")
    finally:
        for process in processes:
            process.join(timeout=5 if running else None)
            if process.is_alive():
                process.terminate()
    return written


def _work(plan: Plan, url: str, chunks: Sequence[range], queue: Any) -> None:
    """One worker: its chunks, each COPYed in its own transaction by a writer thread while
    the next is made (the wait for the server overlaps the making), then its rollups."""
    try:
        world = _world(plan)
        summed: Counter[case_facts.Key] = Counter()
        with (
            psycopg.connect(url, autocommit=True) as connection,
            ThreadPoolExecutor(max_workers=1) as writer,
        ):

            def write(rows: Rows, made: int) -> None:
                with connection.transaction():
                    queue.put(("rows", repository.copy_rows(connection, rows)))
                queue.put(("chunk", made))

            writing: Future[None] | None = None
            for chunk in chunks:
                rows = tables.generate(world, chunk, _chunk_seed(plan, chunk), summed)
                if writing is not None:
                    writing.result()  # at most one chunk waits to be written
                writing = writer.submit(write, rows, len(chunk))
            if writing is not None:
                writing.result()
            with connection.transaction(), connection.cursor() as cursor:
                changes = fold.to_delta(summed)
                counts = ((*key, count) for key, count in changes.items() if count)
                reports_repository.copy_counts(cursor, ROLLUP_LOAD, counts)
        queue.put(("done", 0))
    except BaseException as error:  # reported to the parent, which stops the run
        queue.put(("failed", f"{type(error).__name__}: {error}"))
        print(f"demo worker failed: {error!r}", file=sys.stderr)
