"""The access report (DESIGN 11, issue 16 item 6): who read or changed a referral, or what one
user read or changed, over a period, as JSON or CSV; for admins only, naming no victim and
showing no audit detail, and itself audited."""

import csv
import io
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.api.flows import names_field, ok
from tests.conftest import SignIn
from tests.support import PASSWORD, Api, FakeClock, victim
from tests.web.browser import new_username
from triage.audit.models import AuditEvent

NAME = "Philippa Quennell-Ashby"  # the victim: a name no other test uses
REASON = "the victim's brother works in the triage unit"
PATH = "/api/audit/access"
HEADER = ["at", "user", "role", "action", "kind", "referral", "reference"]


class Story:
    """Alex (triage) logs a referral and reads it; Sam (triage) makes contact with the
    victim; Alex logs a second referral. An admin asks."""

    def __init__(self, sign_in: SignIn, clock: FakeClock) -> None:
        self.alex_name, self.sam_name = new_username("alex"), new_username("sam")
        self.alex = sign_in("triage", username=self.alex_name)
        self.sam = sign_in("triage", username=self.sam_name)
        self.admin_name = new_username("admin")
        self.admin = sign_in("admin", username=self.admin_name)
        self.clock = clock
        first = self.alex.create(victim=victim(full_name=NAME))
        self.id, self.reference = first["id"], first["reference"]
        clock.advance(minutes=5)
        ok(self.alex.get(f"/api/referrals/{self.id}"))
        clock.advance(minutes=5)
        self.version = ok(self.sam.event(self.id, "contact_made", first["version"],
                                         channel="phone"))["version"]  # fmt: skip
        clock.advance(minutes=5)
        self.second = self.alex.create(victim=victim(full_name=NAME))

    def report(self, **params: Any) -> dict[str, Any]:
        return ok(self.admin.get(PATH, params=params))

    def later(self, **delta: float) -> None:
        """Move the clock on, and sign Sam and the admin in again (tokens last 8 hours)."""
        self.clock.advance(**delta)
        self.sam, self.admin = (signed_in(self.sam.client, name)
                                for name in (self.sam_name, self.admin_name))  # fmt: skip


def signed_in(client: TestClient, username: str) -> Api:
    answer = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    return Api(client, ok(answer)["access_token"])


@pytest.fixture
def story(sign_in: SignIn, clock: FakeClock) -> Story:
    return Story(sign_in, clock)


def lines(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(item["user"], item["action"], item["kind"]) for item in report["items"]]


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


class TestByReferral:
    def test_it_lists_who_read_and_changed_it_oldest_first(self, story: Story) -> None:
        report = story.report(referral=story.id)
        assert lines(report) == [
            (story.alex_name, "create", "change"),
            (story.alex_name, "read", "read"),
            (story.sam_name, "contact_made", "change"),
        ]
        assert {item["referral"] for item in report["items"]} == {story.id}
        assert {item["reference"] for item in report["items"]} == {story.reference}
        assert [item["role"] for item in report["items"]] == ["triage"] * 3
        assert report["total"] == 3 and (report["limit"], report["offset"]) == (200, 0)
        assert (report["referral"], report["reference"]) == (story.id, story.reference)
        assert "user" not in report

    def test_its_reference_names_it_too_in_any_case(self, story: Story) -> None:
        by_id = story.report(referral=story.id)
        by_reference = story.report(referral=story.reference.lower())
        assert by_reference["referral"] == story.id
        # a report is not among its own lines, but the next one shows it
        assert by_reference["items"][:-1] == by_id["items"]
        assert lines(by_reference)[-1] == (story.admin_name, "access_report", "read")

    def test_a_locked_down_referral_is_still_reported(self, story: Story) -> None:
        ok(story.alex.put(f"/api/referrals/{story.id}/lockdown",
                          {"version": story.version, "users": [story.sam_name],
                           "reason": REASON}))  # fmt: skip
        answer = story.admin.get(PATH, params={"referral": story.id})
        assert (story.alex_name, "lockdown", "change") in lines(ok(answer))
        assert REASON not in answer.text  # a line's detail is never shown

    def test_pages_through_the_lines(self, story: Story) -> None:
        first = story.report(referral=story.id, limit=2)
        rest = story.report(referral=story.id, limit=2, offset=2)
        assert (first["total"], len(first["items"]), rest["total"]) == (3, 2, 4)
        assert lines(rest) == [(story.sam_name, "contact_made", "change"),
                               (story.admin_name, "access_report", "read")]  # fmt: skip


class TestByUser:
    def test_it_lists_what_the_user_read_and_changed_across_referrals(self, story: Story) -> None:
        report = story.report(user=story.alex_name)
        assert lines(report) == [
            (story.alex_name, "create", "change"),
            (story.alex_name, "read", "read"),
            (story.alex_name, "create", "change"),
        ]
        assert [item["reference"] for item in report["items"]] == [
            story.reference, story.reference, story.second["reference"]]  # fmt: skip
        assert report["user"] == story.alex_name and "referral" not in report

    def test_the_other_user_sees_only_their_own(self, story: Story) -> None:
        assert lines(story.report(user=story.sam_name)) == [
            (story.sam_name, "contact_made", "change")
        ]


class TestThePeriod:
    def test_by_default_the_last_30_days_today_included(self, story: Story) -> None:
        report = story.report(referral=story.id)
        assert (report["from"], report["to"]) == ("2026-10-26", "2026-11-24")
        story.later(days=30)  # the lines' day is now 30 days ago: outside
        ok(story.sam.get(f"/api/referrals/{story.id}"))
        later = story.report(referral=story.id)
        assert (later["from"], later["to"]) == ("2026-11-25", "2026-12-24")
        assert lines(later) == [(story.sam_name, "read", "read")]

    def test_from_and_to_are_whole_days_both_included(self, story: Story) -> None:
        story.later(days=2)
        ok(story.sam.get(f"/api/referrals/{story.id}"))
        on_the_day = story.report(referral=story.id, **{"from": "2026-11-24", "to": "2026-11-24"})
        assert len(on_the_day["items"]) == 3
        after = story.report(referral=story.id, **{"from": "2026-11-25"})
        assert lines(after) == [(story.sam_name, "read", "read"),
                                (story.admin_name, "access_report", "read")]  # fmt: skip
        before = story.report(referral=story.id, to="2026-11-23")
        assert before["items"] == [] and before["total"] == 0
        assert before["from"] == "2026-10-25"  # 30 days up to `to`


class TestRefusals:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({}, "referral"),
            ({"referral": "x", "user": "y"}, "user"),
            ({"user": "y", "from": "2026-13-01"}, "from"),
            ({"user": "y", "to": "yesterday"}, "to"),
            ({"user": "y", "from": "1850-01-01"}, "from"),
            ({"user": "y", "limit": "0"}, "limit"),
            ({"user": "y", "limit": "1001"}, "limit"),
            ({"user": "y", "format": "xlsx"}, "format"),
            ({"user": "y", "since": "2026-11-01"}, "since"),
            ({"referral": "not-an-id"}, "referral"),
            ({"user": "a\x00b"}, "user"),
        ],
    )
    def test_bad_input_is_a_422_naming_the_parameter(
        self, sign_in: SignIn, params: dict[str, str], field: str
    ) -> None:
        assert names_field(sign_in("admin").get(PATH, params=params), field)

    def test_from_after_to_is_a_422_naming_from(self, story: Story) -> None:
        answer = story.admin.get(PATH, params={"referral": story.id, "from": "2026-11-24",
                                               "to": "2026-11-23"})  # fmt: skip
        assert names_field(answer, "from")

    @pytest.mark.parametrize(
        "params",
        [{"referral": str(uuid.uuid4())}, {"referral": "VR-26-ZZZZZZZZ"}, {"user": "nobody-here"}],
    )
    def test_an_unknown_referral_or_user_is_a_404(
        self, sign_in: SignIn, params: dict[str, str]
    ) -> None:
        assert sign_in("admin").get(PATH, params=params).status_code == 404

    @pytest.mark.parametrize("role", ["triage", "provider", "commissioner", "intake"])
    def test_only_admins_may_ask(self, sign_in: SignIn, role: str) -> None:
        caller: Api = sign_in(role, provider="core-general" if role == "provider" else None)
        answer = caller.get(PATH, params={"user": "someone", "from": "nonsense"})
        assert answer.status_code == 403, answer.text  # before the 422

    def test_without_a_token_it_is_a_401(self, story: Story) -> None:
        assert story.admin.client.get(PATH, params={"referral": story.id}).status_code == 401


class TestTheFile:
    def test_the_csv_has_the_header_and_the_same_rows(self, story: Story) -> None:
        answer = story.admin.get(PATH, params={"user": story.alex_name, "format": "csv"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="access-{story.alex_name}-20261026-20261124.csv"'
        )
        assert answer.text.splitlines()[0] == ",".join(HEADER)
        expected = story.report(user=story.alex_name)["items"]
        assert len(expected) == 3
        assert rows_of(answer.text) == [
            {key: "" if item[key] is None else str(item[key]) for key in HEADER}
            for item in expected
        ]

    def test_by_referral_the_file_is_named_by_its_reference(self, story: Story) -> None:
        answer = story.admin.get(PATH, params={"referral": story.id, "format": "csv"})
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="access-{story.reference}-20261026-20261124.csv"'
        )
        assert [row["action"] for row in rows_of(answer.text)] == [
            "create", "read", "contact_made"]  # fmt: skip

    def test_a_cell_that_starts_like_a_formula_is_text(self, story: Story, sign_in: SignIn) -> None:
        formula = '=HYPERLINK("http://example.org","x")'
        mallory = sign_in("triage", username=formula)
        ok(mallory.get(f"/api/referrals/{story.id}"))
        answer = story.admin.get(PATH, params={"referral": story.id, "format": "csv"})
        assert rows_of(answer.text)[-1]["user"] == "'" + formula
        by_user = story.admin.get(PATH, params={"user": formula, "format": "csv"})
        assert rows_of(by_user.text)[0]["user"] == "'" + formula
        assert 'filename="access-_HYPERLINK' in by_user.headers["content-disposition"]


class TestItsOwnAudit:
    def test_producing_it_is_audited_without_personal_data(
        self, story: Story, session_factory: sessionmaker[Session]
    ) -> None:
        story.report(referral=story.id, **{"from": "2026-11-01"})
        story.report(user=story.sam_name)
        with session_factory() as session:
            found = list(session.scalars(select(AuditEvent).where(
                AuditEvent.action == "access_report").order_by(AuditEvent.id)))  # fmt: skip
        assert [(line.referral_id, line.detail) for line in found] == [
            (uuid.UUID(story.id), {"user": None, "from": "2026-11-01", "to": "2026-11-24"}),
            (None, {"user": story.sam_name, "from": "2026-10-26", "to": "2026-11-24"}),
        ]
        assert {line.actor_role for line in found} == {"admin"}

    def test_a_later_report_shows_the_earlier_one_as_a_read(self, story: Story) -> None:
        story.report(referral=story.id)
        again = story.report(referral=story.id)
        assert again["items"][-1]["action"] == "access_report"
        assert again["items"][-1]["kind"] == "read"

    def test_no_victim_data_in_the_json_or_the_csv(self, story: Story) -> None:
        for params in ({"referral": story.id}, {"user": story.alex_name}):
            for fmt in ("json", "csv"):
                answer = story.admin.get(PATH, params={**params, "format": fmt})
                assert answer.status_code == 200, answer.text
                for held in (NAME, "07700 900123", "Friar Gate", "DE1 1BX", "detail"):
                    assert held.lower() not in answer.text.lower(), (params, fmt, held)
