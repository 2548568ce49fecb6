"""Each tracked right for standard and enhanced victims on chosen dates (no database)."""

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from triage.rule_sources import load_editions
from triage.vcop.calendar import WorkingCalendar
from triage.vcop.editions import edition_in_force
from triage.vcop.rights import VcopFacts, enhanced_reasons, evaluate

EDITIONS = load_editions(Path(__file__).resolve().parents[2] / "routing_rules" / "vcop")
CODE_2021 = edition_in_force(EDITIONS, date(2026, 1, 1))
CODE_2015 = edition_in_force(EDITIONS, date(2020, 1, 1))
CALENDAR = WorkingCalendar()
LONDON = ZoneInfo("Europe/London")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def facts(**overrides) -> VcopFacts:
    reported = overrides.pop("reported", london(2026, 11, 27, 15, 0))  # a Friday afternoon
    return VcopFacts(
        crime_type=overrides.pop("crime_type", "burglary"),
        crime_reported_at=reported,
        received_at=overrides.pop("received_at", reported),
        age=overrides.pop("age", 40),
        **overrides,
    )


def right(evaluation, right_id: str):
    return next(r for r in evaluation.rights if r.right == right_id)


def run(f: VcopFacts, now: datetime, edition=CODE_2021):
    return evaluate(edition, f, now=now, calendar=CALENDAR)


class TestEnhanced:
    @pytest.mark.parametrize(
        ("overrides", "expected"),
        [
            ({}, ()),
            ({"crime_type": "domestic_abuse"}, ("domestic_abuse",)),
            ({"crime_type": "gbh_with_intent"}, ("gbh_with_intent",)),
            ({"hate_crime": True}, ("hate_crime",)),
            ({"age": 17}, ("under_18",)),
            ({"age": 18}, ()),
            ({"vulnerability": frozenset({"mental_disorder"})}, ("mental_disorder",)),
            (
                {"intimidated": True, "persistently_targeted": True},
                ("intimidated", "persistently_targeted"),
            ),
            (
                {"crime_type": "homicide_bereavement", "bereaved": True},
                ("homicide_bereavement", "bereaved"),
            ),
            ({"crime_type": "domestic_abuse", "age": 16}, ("domestic_abuse", "under_18")),
        ],
    )
    def test_every_ground_is_listed(self, overrides, expected):
        assert enhanced_reasons(CODE_2021, facts(**overrides)) == expected


class TestR3InformationWhenReporting:
    def test_standard_friday_afternoon_report_is_due_end_of_the_fifth_working_day(self):
        r3 = right(run(facts(), london(2026, 11, 27, 16)), "R3")
        assert r3.status == "pending"
        assert r3.due_at == london(2026, 12, 4, 23, 59, 59)

    def test_enhanced_friday_afternoon_report_is_due_monday_night(self):
        r3 = right(run(facts(crime_type="domestic_abuse"), london(2026, 11, 27, 16)), "R3")
        assert r3.due_at == london(2026, 11, 30, 23, 59, 59)

    def test_a_report_after_five_on_friday_starts_on_monday(self):
        r3 = right(
            run(
                facts(crime_type="domestic_abuse", reported=london(2026, 11, 27, 17, 30)),
                london(2026, 11, 28, 9),
            ),
            "R3",
        )
        assert r3.due_at == london(2026, 12, 1, 23, 59, 59)

    def test_contact_in_time_is_met_and_after_the_due_time_is_late(self):
        on_time = facts(crime_type="domestic_abuse", contact_made_at=london(2026, 11, 30, 12))
        assert right(run(on_time, london(2026, 12, 10)), "R3").status == "met"
        late = facts(crime_type="domestic_abuse", contact_made_at=london(2026, 12, 1, 9))
        assert right(run(late, london(2026, 12, 10)), "R3").status == "late"

    def test_past_due_without_contact_is_breached(self):
        r3 = right(run(facts(crime_type="domestic_abuse"), london(2026, 12, 1, 0, 0)), "R3")
        assert r3.status == "breached"

    def test_christmas_eve_enhanced_report_skips_to_the_29th(self):
        f = facts(crime_type="sexual_offence", reported=london(2026, 12, 24, 10))
        assert right(run(f, london(2026, 12, 24, 11)), "R3").due_at == london(
            2026, 12, 29, 23, 59, 59
        )

    def test_an_easter_report_skips_good_friday_and_easter_monday(self):
        f = facts(reported=london(2026, 4, 2, 18))  # Thursday evening before Good Friday
        # Day 0 is Tuesday 7 April; five working days on is Tuesday 14 April.
        assert right(run(f, london(2026, 4, 3)), "R3").due_at == london(2026, 4, 14, 23, 59, 59)

    def test_unsafe_contact_excludes_it(self):
        r3 = right(run(facts(unsafe_to_contact=True), london(2026, 12, 20)), "R3")
        assert (r3.status, r3.reason) == ("excluded", "unsafe_to_contact")

    def test_an_unreported_crime_makes_it_not_applicable(self):
        r3 = right(
            run(facts(reported=None, received_at=london(2026, 11, 27, 10)), london(2026, 12, 20)),
            "R3",
        )
        assert (r3.status, r3.reason) == ("not_applicable", "crime_not_reported")


class TestR4ReferralToSupport:
    def test_received_within_two_working_days_of_reporting_is_met(self):
        f = facts(received_at=london(2026, 12, 1, 12))
        r4 = right(run(f, london(2026, 12, 1, 12)), "R4")
        assert (r4.status, r4.due_at) == ("met", london(2026, 12, 1, 23, 59, 59))

    def test_received_later_is_late(self):
        f = facts(received_at=london(2026, 12, 2, 9))
        assert right(run(f, london(2026, 12, 2, 9)), "R4").status == "late"

    def test_a_victim_who_opted_out_is_excluded(self):
        r4 = right(run(facts(opted_out=True), london(2026, 12, 1)), "R4")
        assert (r4.status, r4.reason) == ("excluded", "opted_out")


class TestUntrackedRights:
    def test_rights_this_service_never_sees_met_are_not_tracked(self):
        statuses = {r.right: r.status for r in run(facts(), london(2026, 12, 1)).rights}
        assert statuses["R7"] == statuses["R12"] == "not_tracked"
        assert len(statuses) == 12


class TestThe2015Edition:
    def test_a_2020_report_is_judged_by_the_2015_code_with_its_own_ids(self):
        f = facts(
            reported=datetime(2020, 3, 6, 15, tzinfo=UTC),
            received_at=datetime(2020, 3, 6, 16, tzinfo=UTC),
        )
        evaluation = run(f, datetime(2020, 3, 20, tzinfo=UTC), edition=CODE_2015)
        assert evaluation.edition == "2015"
        contact = right(evaluation, "VS-CONTACT")
        assert (contact.status, contact.due_at) == ("breached", london(2020, 3, 13, 23, 59, 59))
        assert right(evaluation, "P-REFER").status == "met"
