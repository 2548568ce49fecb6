"""The report fold: changed referrals are folded once, and a change replaces its old counts."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.api.flows import ok
from tests.support import Api, FakeClock
from triage.config import Settings
from triage.reports.fold import fold_pending
from triage.reports.models import ReportCase, ReportCount


def received_today(factory: sessionmaker[Session], subkey: str = "received") -> int:
    with factory() as session:
        return session.scalar(
            select(func.coalesce(func.sum(ReportCount.count), 0)).where(
                ReportCount.measure == "stage:all",
                ReportCount.period == "d",
                ReportCount.subkey == subkey,
            )
        )


class TestFold:
    def test_folds_each_changed_referral_once(
        self, triage: Api, session_factory: Any, settings: Settings, clock: FakeClock
    ) -> None:
        for _ in range(3):
            triage.create()
        assert fold_pending(session_factory, now=clock(), settings=settings) == 3
        assert fold_pending(session_factory, now=clock(), settings=settings) == 0
        assert received_today(session_factory) == 3
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(ReportCase)) == 3

    def test_a_later_event_moves_the_referral_along_without_counting_it_twice(
        self, triage: Api, session_factory: Any, settings: Settings, clock: FakeClock
    ) -> None:
        ref = triage.create()
        fold_pending(session_factory, now=clock(), settings=settings)
        ok(triage.event(ref["id"], "contact_made", ref["version"], channel="phone"))
        assert fold_pending(session_factory, now=clock(), settings=settings) == 1
        assert received_today(session_factory) == 1
        assert received_today(session_factory, "contacted") == 1

    def test_batches_end_when_nothing_is_left(
        self, triage: Api, session_factory: Any, settings: Settings, clock: FakeClock
    ) -> None:
        for _ in range(5):
            triage.create()
        assert fold_pending(session_factory, now=clock(), settings=settings, batch=2) == 5
        assert received_today(session_factory) == 5
