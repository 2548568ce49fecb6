"""The APScheduler 3 side of the deadlines: one interval job that runs every sweep, one
that folds changed referrals into the reports' rollups (ADR 9), and retention's, which
anonymises what is past its period (DESIGN 11).

In-memory job store, `coalesce=True`, `max_instances=1`, first run at start so whatever fell
due while the service was down is swept at once. `TRIAGE_SCHEDULER=false` turns it off for a
replica that only serves HTTP; `triage worker` runs it alone.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.orm import Session, sessionmaker

from triage.config import Settings
from triage.deadlines.sweeps import sweep_all
from triage.notifications.protocol import Notifier
from triage.notifications.service import dispatch
from triage.referrals.privacy import run_retention
from triage.reports.fold import fold_pending
from triage.rule_sources import RuleSources

log = logging.getLogger("triage.deadlines")


def add_sweep_job(
    scheduler: BaseScheduler,
    *,
    factory: sessionmaker[Session],
    rules: RuleSources,
    settings: Settings,
    clock: Callable[[], datetime],
    notifier: Notifier,
) -> None:
    def tick() -> None:
        swept = sweep_all(factory, now=clock(), rules=rules, settings=settings)
        swept["messages_sent"] = dispatch(factory, notifier, now=clock())
        if any(swept.values()):
            log.info("deadline sweep: %s", swept)

    def fold() -> None:
        folded = fold_pending(factory, now=clock(), settings=settings)
        if folded:
            log.info("report fold: %s referrals", folded)

    def retain() -> None:
        now = clock()
        report = run_retention(factory, retention=rules.retention, as_of=now, now=now)
        if report.anonymised:
            log.info("retention: %s referrals anonymised %s", report.anonymised,
                     dict(report.by_period))  # fmt: skip

    for job, name in ((tick, "deadline-sweep"), (fold, "report-fold")):
        scheduler.add_job(
            job,
            "interval",
            seconds=settings.sweep_seconds,
            id=name,
            coalesce=True,
            max_instances=1,
            next_run_time=clock(),
            replace_existing=True,
        )
    # Claimed with SKIP LOCKED in batches, like the sweeps: safe in every replica.
    scheduler.add_job(
        retain,
        "interval",
        seconds=settings.retention_hours * 3600,
        id="retention",
        coalesce=True,
        max_instances=1,
        next_run_time=clock(),
        replace_existing=True,
    )
