"""Deadline sweeps: offers expire once, Victims' Code breaches are marked once, in parallel too."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from tests.api.flows import assessing, ok
from tests.db.test_sweep_processes import overdue_offers
from tests.support import Api, FakeClock
from triage.audit.models import AuditEvent
from triage.config import Settings
from triage.deadlines.sweeps import (
    alert_returned,
    detect_hate_crime_spikes,
    expire_overdue_offers,
    mark_vcop_breaches,
    remind_uncontacted,
    warn_vcop_due_soon,
)
from triage.rule_sources import RuleSources
from triage.vcop.models import EntitlementCheck

DA_HIGH = {"crime_type": "domestic_abuse"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlast the days these tests move the clock through."""
    return Settings(database_url=database_url, scheduler=False, token_hours=24 * 365)


HIGH_RISK = {"risk": {"dash_score": 16, "professional_judgement": None}}


def count(session_factory, *conditions) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions))


class TestOfferExpiry:
    def test_an_unanswered_offer_expires_to_the_next_candidate_once(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings, rules: RuleSources
    ) -> None:
        ref = ok(
            triage.event(
                (r := assessing(triage, assessment=HIGH_RISK, **DA_HIGH))["id"],
                "route",
                r["version"],
            )
        )
        assert (
            expire_overdue_offers(session_factory, now=clock(), rules=rules, settings=settings) == 0
        )
        clock.advance(hours=25)  # the IDVA service answers within 24 hours
        assert (
            expire_overdue_offers(session_factory, now=clock(), rules=rules, settings=settings) == 1
        )
        detail = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert detail["state"] == "awaiting_provider"
        assert [(o["provider"], o["answer"]) for o in detail["offers"]] == [
            ("da-idva", "expired"),
            ("core-general", None),
        ]
        assert (
            expire_overdue_offers(session_factory, now=clock(), rules=rules, settings=settings) == 0
        )
        assert (
            count(session_factory, AuditEvent.action == "expire", AuditEvent.actor_role == "system")
            == 1
        )

    def test_with_no_candidate_left_the_referral_returns_to_the_unit(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings, rules: RuleSources
    ) -> None:
        ref = ok(triage.event((r := assessing(triage))["id"], "route", r["version"]))
        clock.advance(hours=49)
        assert (
            expire_overdue_offers(session_factory, now=clock(), rules=rules, settings=settings) == 1
        )
        detail = ok(triage.get(f"/api/referrals/{ref['id']}"))
        assert detail["state"] == "assessing"
        why = ok(triage.get(f"/api/referrals/{ref['id']}/routing"))
        assert why["no_route_reason"] == "all_candidates_skipped"
        assert why["skipped"][0]["reason"] == "expired"

    def test_two_sweeps_at_once_expire_every_offer_exactly_once(
        self,
        triage: Api,
        clock: FakeClock,
        session_factory,
        settings: Settings,
        rules: RuleSources,
        database_url: str,
    ) -> None:
        if not database_url.startswith("postgresql"):
            pytest.skip("SKIP LOCKED between concurrent sweeps: PostgreSQL only")
        for _ in range(40):
            r = assessing(triage)
            ok(triage.event(r["id"], "route", r["version"]))
        clock.advance(hours=49)
        results: list[int] = []
        barrier = threading.Barrier(2)

        def sweep() -> None:
            barrier.wait()
            results.append(
                expire_overdue_offers(
                    session_factory, now=clock(), rules=rules, settings=settings, batch=5
                )
            )

        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(results) == 40
        assert count(session_factory, AuditEvent.action == "expire") == 40


class TestVcopBreaches:
    def test_a_right_past_due_is_marked_breached_once(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings, rules: RuleSources
    ) -> None:
        ref = triage.create(crime_type="domestic_abuse")  # enhanced: R3 due in one working day
        assert mark_vcop_breaches(session_factory, now=clock(), rules=rules, settings=settings) == 0
        clock.advance(days=4)
        assert mark_vcop_breaches(session_factory, now=clock(), rules=rules, settings=settings) == 1
        assert mark_vcop_breaches(session_factory, now=clock(), rules=rules, settings=settings) == 0
        r3 = next(
            r
            for r in ok(triage.get(f"/api/referrals/{ref['id']}/vcop"))["rights"]
            if r["right"] == "R3"
        )
        assert r3["status"] == "breached"
        assert [(c["trigger"], c["checked_by"]) for c in r3["checks"]][-1] == (
            "deadline_sweep",
            "system",
        )
        with session_factory() as session:
            breached = session.scalar(
                select(func.count())
                .select_from(EntitlementCheck)
                .where(EntitlementCheck.status == "breached")
            )
        assert breached == 1
        assert ok(triage.get(f"/api/referrals/{ref['id']}"))["entitlements"]["breached"] == ["R3"]

    def test_a_batch_of_breaches_leaves_one_current_check_per_right_of_each_referral(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings, rules: RuleSources
    ) -> None:
        """The batch's check lines are written together at its end: every referral's old
        lines stop being current before any new line is written, never after."""
        ids = [triage.create(crime_type="domestic_abuse")["id"] for _ in range(5)]
        clock.advance(days=4)
        assert mark_vcop_breaches(session_factory, now=clock(), rules=rules, settings=settings) == 5
        with session_factory() as session:
            current = session.execute(
                select(EntitlementCheck.referral_id, EntitlementCheck.right, func.count())
                .where(EntitlementCheck.current.is_(True))
                .group_by(EntitlementCheck.referral_id, EntitlementCheck.right)
            ).all()
            swept = session.scalar(
                select(func.count(func.distinct(EntitlementCheck.referral_id))).where(
                    EntitlementCheck.trigger == "deadline_sweep", EntitlementCheck.current.is_(True)
                )
            )
        assert {str(referral_id) for referral_id, _, _ in current} == set(ids)
        assert {n for _, _, n in current} == {1}
        assert swept == 5

    def test_what_fell_due_while_down_is_swept_by_the_first_run(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings, rules: RuleSources
    ) -> None:
        for _ in range(3):
            triage.create(crime_type="sexual_offence")
        clock.advance(days=30)
        assert (
            mark_vcop_breaches(
                session_factory, now=clock(), rules=rules, settings=settings, batch=2
            )
            == 3
        )


class TestScheduler:
    def test_one_job_sweeps_everything_coalesced_one_at_a_time_from_the_start(
        self, session_factory, settings: Settings, rules: RuleSources, clock: FakeClock
    ) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        from adapters.notifications.log import LogNotifier
        from triage.deadlines.scheduler import add_sweep_job

        scheduler = BackgroundScheduler(timezone="UTC")
        add_sweep_job(
            scheduler,
            factory=session_factory,
            rules=rules,
            settings=settings,
            clock=clock,
            notifier=LogNotifier(),
        )
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"deadline-sweep", "report-fold", "retention"}
        for job in jobs.values():
            assert (job.coalesce, job.max_instances) == (True, 1)
            every = settings.retention_hours * 3600 if job.id == "retention" else (
                settings.sweep_seconds)  # fmt: skip
            assert job.trigger.interval.total_seconds() == every
            assert job.next_run_time == clock()  # a restart sweeps (folds, retains) at once


class TestAlerts:
    def test_an_expired_offer_raises_one_alert_the_unit_can_acknowledge(
        self,
        triage: Api,
        clock: FakeClock,
        session_factory,
        settings: Settings,
        rules: RuleSources,
        sign_in,
    ) -> None:
        ref = ok(triage.event((r := assessing(triage))["id"], "route", r["version"]))
        clock.advance(hours=49)
        expire_overdue_offers(session_factory, now=clock(), rules=rules, settings=settings)
        expire_overdue_offers(session_factory, now=clock(), rules=rules, settings=settings)
        items = ok(triage.get("/api/alerts"))["items"]
        expired = [a for a in items if a["kind"] == "offer_expired"]
        assert len(expired) == 1 and expired[0]["referral"] == ref["id"]
        assert expired[0]["detail"] == {
            "provider": "core-general",
            "offered_to": None,
            "state": "assessing",
        }
        ok(triage.post(f"/api/alerts/{expired[0]['id']}/acknowledge"))
        assert triage.post(f"/api/alerts/{expired[0]['id']}/acknowledge").status_code == 409
        assert expired[0]["id"] not in [a["id"] for a in ok(triage.get("/api/alerts"))["items"]]
        assert sign_in("commissioner").get("/api/alerts").status_code == 403

    def test_a_breach_and_a_right_due_soon_each_raise_one_alert(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings, rules: RuleSources
    ) -> None:
        # Reported Monday 23 November, enhanced: R3 is due at the end of Tuesday; it is
        # Tuesday 10:00, inside the 24-hour warning window.
        triage.create(crime_type="domestic_abuse")
        warn_vcop_due_soon(session_factory, now=clock(), settings=settings)
        warn_vcop_due_soon(session_factory, now=clock(), settings=settings)
        clock.advance(days=4)
        mark_vcop_breaches(session_factory, now=clock(), rules=rules, settings=settings)
        kinds = [a["kind"] for a in ok(triage.get("/api/alerts"))["items"]]
        assert kinds.count("vcop_due_soon") == 1 and kinds.count("vcop_breached") == 1

    def test_an_uncontacted_referral_is_reminded_then_escalated_once(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings
    ) -> None:
        triage.create()
        clock.advance(hours=25)
        remind_uncontacted(session_factory, now=clock(), settings=settings)
        clock.advance(hours=48)
        remind_uncontacted(session_factory, now=clock(), settings=settings)
        remind_uncontacted(session_factory, now=clock(), settings=settings)
        kinds = [a["kind"] for a in ok(triage.get("/api/alerts"))["items"]]
        assert kinds.count("contact_overdue") == 1 and kinds.count("escalation") == 1


class TestOverdueFilter:
    def test_overdue_lists_referrals_with_a_late_offer_or_right(
        self, triage: Api, clock: FakeClock
    ) -> None:
        late = ok(triage.event((r := assessing(triage))["id"], "route", r["version"]))
        clock.advance(hours=49)
        fresh = triage.create(crime_reported_at=None)  # unreported: no clock runs yet
        ids = [
            i["id"] for i in ok(triage.get("/api/referrals", params={"overdue": "true"}))["items"]
        ]
        assert late["id"] in ids and fresh["id"] not in ids
        others = ok(triage.get("/api/referrals", params={"overdue": "false"}))["items"]
        assert fresh["id"] in [i["id"] for i in others]

    def test_a_closed_referral_is_never_overdue(self, triage: Api, clock: FakeClock) -> None:
        ref = triage.create(crime_type="domestic_abuse")
        ok(triage.event(ref["id"], "close", ref["version"], reason="victim_declined"))
        clock.advance(days=30)
        listed = ok(triage.get("/api/referrals", params={"overdue": "true"}))
        assert ref["id"] not in [i["id"] for i in listed["items"]]

    def test_first_contact_past_its_standard_is_overdue(
        self, triage: Api, clock: FakeClock
    ) -> None:
        ref = triage.create(crime_reported_at=None)  # no Victims' Code clock
        clock.advance(hours=25)
        listed = ok(triage.get("/api/referrals", params={"overdue": "true"}))
        assert [i["id"] for i in listed["items"]] == [ref["id"]]


class TestReturnedToUnit:
    def test_a_decline_with_nobody_left_returns_it_first_in_line_with_one_alert(
        self, triage: Api, sign_in, clock: FakeClock, session_factory, settings: Settings
    ) -> None:
        general = sign_in("provider", provider="core-general")
        ref = ok(triage.event((r := assessing(triage))["id"], "route", r["version"]))
        clock.advance(minutes=5)
        ref = ok(
            general.event(ref["id"], "decline", ref["version"], reason="not_eligible_for_service")
        )
        assert ref["state"] == "assessing"
        item = ok(triage.get("/api/referrals", params={"reference": ref["reference"]}))["items"][0]
        assert item["returned_at"].replace("Z", "+00:00") == clock().isoformat()
        assert alert_returned(session_factory, now=clock(), settings=settings) == 1
        assert alert_returned(session_factory, now=clock(), settings=settings) == 1
        alerts = [
            a for a in ok(triage.get("/api/alerts"))["items"] if a["kind"] == "returned_to_unit"
        ]
        assert [(a["referral"], a["reference"]) for a in alerts] == [(ref["id"], ref["reference"])]
        ref = ok(triage.event(ref["id"], "route", ref["version"], provider="mental-health-hub"))
        item = ok(triage.get(f"/api/referrals/{ref['reference']}"))
        assert item["state"] == "awaiting_provider"
        listed = ok(triage.get("/api/referrals", params={"reference": ref["reference"]}))
        assert listed["items"][0]["returned_at"] is None


class TestHateCrimeSpikes:
    def referrals(self, triage: Api, clock: FakeClock, per_week: list[int], strand: str) -> None:
        """Hate crime referrals per week, oldest week first, ending at the clock's time."""
        start = clock()
        for week, count in enumerate(per_week):
            for number in range(count):
                clock.now = start + timedelta(weeks=week, hours=number + 1)
                triage.create(crime_type="public_order", hate_strands=[strand], area="derby_city")
        clock.now = start + timedelta(weeks=len(per_week) - 1, days=6, hours=23)

    def test_an_injected_spike_is_alerted_once_to_the_spoc(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings
    ) -> None:
        self.referrals(triage, clock, [2, 1, 2, 2, 1, 2, 2, 1, 12], "race")
        assert detect_hate_crime_spikes(session_factory, now=clock(), settings=settings) == 1
        clock.advance(hours=1)
        assert detect_hate_crime_spikes(session_factory, now=clock(), settings=settings) == 0
        (alert,) = [
            a for a in ok(triage.get("/api/alerts"))["items"] if a["kind"] == "hate_crime_spike"
        ]
        assert alert["referral"] is None
        assert {k: alert["detail"][k] for k in ("strand", "area", "count")} == {
            "strand": "race",
            "area": "derby_city",
            "count": 12,
        }
        assert alert["detail"]["baseline"] == 1.62

    def test_a_flat_series_raises_nothing(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings
    ) -> None:
        self.referrals(triage, clock, [2, 2, 1, 2, 2, 1, 2, 2, 2], "religion")
        assert detect_hate_crime_spikes(session_factory, now=clock(), settings=settings) == 0


class TestLoadWithinABatch:
    @pytest.mark.parametrize("batch", [200, 1], ids=["one batch", "a batch each"])
    def test_capacity_taken_earlier_in_the_same_sweep_counts(
        self,
        batch: int,
        triage: Api,
        clock: FakeClock,
        session_factory,
        settings: Settings,
        rules: RuleSources,
        sign_in,
    ) -> None:
        admin = sign_in("admin")
        ok(admin.put("/api/providers/core-general/capacity", {"accepting": True, "capacity": 1}))
        referrals = [
            ok(
                triage.event(
                    (r := assessing(triage, assessment=HIGH_RISK, **DA_HIGH))["id"],
                    "route",
                    r["version"],
                )
            )
            for _ in range(2)
        ]
        clock.advance(hours=25)  # both IDVA offers expire in one sweep; one general place left
        swept = expire_overdue_offers(
            session_factory, now=clock(), rules=rules, settings=settings, batch=batch
        )
        assert swept == 2
        states = sorted(ok(triage.get(f"/api/referrals/{r['id']}"))["state"] for r in referrals)
        assert states == ["assessing", "awaiting_provider"]


class TestStatementsPerExpiry:
    def test_a_batch_loads_its_referrals_and_raises_its_alerts_together(
        self, providers, session_factory, settings: Settings, rules: RuleSources, clock, engine
    ) -> None:
        """One statement per expired offer going back to the unit (its referral's UPDATE, which
        checks the version); its other rows are written with the batch's (`write_behind`)."""
        seen: list[str] = []

        def count(_connection, _cursor, statement: str, *_rest) -> None:
            seen.append(statement)

        def statements_to_sweep(offers: int, first: int) -> int:
            overdue_offers(session_factory, settings, clock, offers, first)
            seen.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                swept = expire_overdue_offers(
                    session_factory, now=clock(), rules=rules, settings=settings
                )
            finally:
                event.remove(engine, "before_cursor_execute", count)
            assert swept == offers
            return len(seen)

        few, more = statements_to_sweep(10, first=0), statements_to_sweep(30, first=10)
        assert (more - few) / 20 <= 1
