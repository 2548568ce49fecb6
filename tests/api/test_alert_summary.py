"""Due-soon counts per queue: `GET /api/alerts/summary` for the triage unit (issue 6, item 4)."""

from typing import Any

import pytest

from tests.api.flows import offered, ok
from tests.support import Api, FakeClock
from triage.config import Settings
from triage.deadlines.sweeps import (
    mark_vcop_breaches,
    remind_uncontacted,
    warn_vcop_due_soon,
)
from triage.rule_sources import RuleSources

QUEUES = ["received", "contacting", "assessing", "awaiting_provider", "in_support"]
KINDS = [
    "contact_overdue",
    "offer_expired",
    "vcop_due_soon",
    "vcop_breached",
    "escalation",
    "hate_crime_spike",
    "returned_to_unit",
]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlast the days these tests move the clock through."""
    return Settings(database_url=database_url, scheduler=False, token_hours=24 * 365)


def summary(caller: Api) -> dict[str, Any]:
    return ok(caller.get("/api/alerts/summary"))


def counts(body: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Each queue's (overdue, due_soon), keyed by state."""
    return {q["state"]: (q["overdue"], q["due_soon"]) for q in body["queues"]}


def only(**queues: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """Every queue at (0, 0) except those named."""
    return {state: queues.get(state, (0, 0)) for state in QUEUES}


class TestWhoMayAsk:
    def test_the_triage_unit_and_admins_may_read_the_summary(self, triage: Api, sign_in) -> None:
        assert summary(triage)["queues"]
        assert summary(sign_in("admin"))["queues"]

    @pytest.mark.parametrize("role", ["commissioner", "intake"])
    def test_other_roles_are_refused(self, sign_in, role: str) -> None:
        assert sign_in(role).get("/api/alerts/summary").status_code == 403

    def test_a_provider_is_refused(self, sign_in) -> None:
        worker = sign_in("provider", provider="core-general")
        assert worker.get("/api/alerts/summary").status_code == 403

    def test_no_token_is_401(self, client) -> None:
        assert client.get("/api/alerts/summary").status_code == 401


class TestNothingDue:
    def test_every_queue_and_every_kind_is_listed_with_zero(
        self, triage: Api, clock: FakeClock
    ) -> None:
        body = summary(triage)
        assert [q["state"] for q in body["queues"]] == QUEUES
        assert counts(body) == only()
        assert body["open_alerts"] == dict.fromkeys(KINDS, 0)
        assert body["window_hours"] == 24
        assert body["as_of"].replace("Z", "+00:00") == clock().isoformat()

    def test_a_referral_with_no_vcop_clock_is_due_for_first_contact_only(
        self, triage: Api, clock: FakeClock
    ) -> None:
        triage.create(crime_reported_at=None)  # unreported: no Victims' Code clock starts
        assert counts(summary(triage)) == only(received=(0, 1))  # contact within 24 hours
        clock.advance(hours=25)
        assert counts(summary(triage)) == only(received=(1, 0))


class TestCountsAsTheClockMoves:
    def test_a_right_is_due_soon_then_overdue_in_its_queue(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings, rules: RuleSources
    ) -> None:
        # Reported Monday 23 November, enhanced: R3 falls due at the end of Tuesday; it is
        # Tuesday 10:00, inside the 24-hour window. A burglary's R3 has five working days,
        # and first contact is due at 10:00 tomorrow for both.
        domestic = triage.create(crime_type="domestic_abuse")
        triage.create(crime_type="burglary")
        assert counts(summary(triage)) == only(received=(0, 2))
        clock.advance(hours=15)  # Wednesday 01:00: R3 is past due, contact not yet
        assert counts(summary(triage)) == only(received=(1, 1))
        mark_vcop_breaches(session_factory, now=clock(), rules=rules, settings=settings)
        assert counts(summary(triage)) == only(received=(1, 1))  # breached is still overdue
        listed = ok(triage.get("/api/referrals", params={"overdue": "true"}))
        assert [item["id"] for item in listed["items"]] == [domestic["id"]]

    def test_an_open_offer_is_due_soon_then_overdue_while_awaiting_the_provider(
        self, triage: Api, clock: FakeClock
    ) -> None:
        offered(triage, "core-general", crime_reported_at=None)  # 48 hours to answer
        assert counts(summary(triage)) == only()
        clock.advance(hours=25)
        assert counts(summary(triage)) == only(awaiting_provider=(0, 1))
        clock.advance(hours=24)
        assert counts(summary(triage)) == only(awaiting_provider=(1, 0))

    def test_overdue_counts_match_the_overdue_list(self, triage: Api, clock: FakeClock) -> None:
        triage.create(crime_type="domestic_abuse")
        triage.create(crime_type="sexual_offence")
        offered(triage, "core-general")
        clock.advance(days=3)
        by_state = counts(summary(triage))
        for state in QUEUES:
            listed = ok(triage.get("/api/referrals", params={"state": state, "overdue": "true"}))
            assert by_state[state][0] == listed["total"], state

    def test_a_closed_referral_is_in_no_queue(self, triage: Api, clock: FakeClock) -> None:
        ref = triage.create(crime_type="domestic_abuse")
        ok(triage.event(ref["id"], "close", ref["version"], reason="duplicate"))
        assert counts(summary(triage)) == only()
        clock.advance(days=3)
        assert counts(summary(triage)) == only()


class TestOpenAlerts:
    def test_unacknowledged_alerts_are_counted_by_kind(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings
    ) -> None:
        triage.create(crime_type="domestic_abuse")
        triage.create(crime_type="domestic_abuse")
        warn_vcop_due_soon(session_factory, now=clock(), settings=settings)
        clock.advance(hours=25)
        remind_uncontacted(session_factory, now=clock(), settings=settings)
        body = summary(triage)
        assert body["open_alerts"] == {
            **dict.fromkeys(KINDS, 0),
            "vcop_due_soon": 2,
            "contact_overdue": 2,
        }
        first = next(a for a in ok(triage.get("/api/alerts"))["items"])
        ok(triage.post(f"/api/alerts/{first['id']}/acknowledge"))
        after = summary(triage)["open_alerts"]
        assert after[first["kind"]] == body["open_alerts"][first["kind"]] - 1
