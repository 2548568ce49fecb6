"""The Victims' Code evaluation, worked out once per edition for speed, answers exactly as
the rules read plainly: the reference below is the edition's text turned into code, right
by right, with nothing worked out in advance (issue 17)."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from triage.lifecycle.codes import CrimeType
from triage.rule_sources import load_editions
from triage.vcop.calendar import WorkingCalendar
from triage.vcop.editions import Edition, Right
from triage.vcop.rights import (
    BREACHED,
    EXCLUDED,
    LATE,
    MET,
    NOT_APPLICABLE,
    NOT_TRACKED,
    PENDING,
    RightStatus,
    VcopFacts,
    enhanced_reasons,
    evaluate,
)

EDITIONS = load_editions(Path(__file__).resolve().parents[2] / "routing_rules" / "vcop")
CALENDAR = WorkingCalendar()
EVENTS = {
    "crime_reported": "crime_reported_at",
    "referral_received": "received_at",
    "contact_made": "contact_made_at",
    "routed": "routed_at",
    "accepted": "accepted_at",
}
EXCLUSIONS = {
    "opted_out": "opted_out",
    "no_consent": "consent_missing",
    "unsafe_to_contact": "unsafe_to_contact",
}


def reference(right: Right, facts: VcopFacts, enhanced: bool, now: datetime) -> RightStatus:
    def status(name: str, reason: str | None = None, **times: datetime | None) -> RightStatus:
        return RightStatus(right.id, right.title, name, reason=reason, **times)

    if not right.tracked:
        return status(NOT_TRACKED)
    if right.applies_to == "enhanced" and not enhanced:
        return status(NOT_APPLICABLE, "standard_victim")
    if isinstance(right.applies_to, list) and facts.crime_type not in right.applies_to:
        return status(NOT_APPLICABLE, "crime_type")
    if "crime_not_reported" in right.not_applicable_when and facts.crime_reported_at is None:
        return status(NOT_APPLICABLE, "crime_not_reported")
    for exclusion in right.excluded_when:
        if getattr(facts, EXCLUSIONS[exclusion]):
            return status(EXCLUDED, exclusion)
    started = getattr(facts, EVENTS[str(right.start)])
    met_at = getattr(facts, EVENTS[str(right.met_by)])
    if started is None:
        return status(PENDING, "clock_not_started", met_at=met_at)
    days = right.working_days or 0
    if enhanced and right.enhanced_working_days is not None:
        days = right.enhanced_working_days
    due_at = CALENDAR.end_of(CALENDAR.add_working_days(CALENDAR.start_day(started), days))
    if met_at is not None:
        return status(MET if met_at <= due_at else LATE, due_at=due_at, met_at=met_at)
    return status(BREACHED if now > due_at else PENDING, due_at=due_at)


instants = st.datetimes(
    min_value=datetime(2014, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
maybe = st.none() | instants


@st.composite
def all_facts(draw: st.DrawFn) -> VcopFacts:
    return VcopFacts(
        crime_type=draw(st.sampled_from([c.value for c in CrimeType])),
        received_at=draw(instants),
        crime_reported_at=draw(maybe),
        hate_crime=draw(st.booleans()),
        age=draw(st.none() | st.integers(0, 100)),
        vulnerability=frozenset(
            draw(st.sets(st.sampled_from(["mental_disorder", "physical_disability"])))
        ),
        intimidated=draw(st.booleans()),
        persistently_targeted=draw(st.booleans()),
        bereaved=draw(st.booleans()),
        contact_made_at=draw(maybe),
        routed_at=draw(maybe),
        accepted_at=draw(maybe),
        opted_out=draw(st.booleans()),
        consent_missing=draw(st.booleans()),
        unsafe_to_contact=draw(st.booleans()),
    )


@given(st.sampled_from(EDITIONS), all_facts(), instants)
@settings(max_examples=400)
def test_every_right_answers_as_the_plain_reading(
    edition: Edition, facts: VcopFacts, now: datetime
) -> None:
    evaluation = evaluate(edition, facts, now=now, calendar=WorkingCalendar())
    enhanced = bool(enhanced_reasons(edition, facts))
    assert evaluation.enhanced == enhanced
    assert evaluation.rights == tuple(
        reference(right, facts, enhanced, now) for right in edition.rights
    )


def test_an_edition_loaded_again_is_worked_out_again() -> None:
    """Steps are kept by the edition object: a reloaded rule set with other days counts."""
    first = EDITIONS[-1]
    longer = first.model_copy(
        update={
            "rights": [
                r.model_copy(update={"working_days": 20, "enhanced_working_days": 20})
                if r.tracked
                else r
                for r in first.rights
            ]
        }
    )
    reported = datetime(2026, 11, 2, 9, tzinfo=UTC)
    facts = VcopFacts(crime_type="burglary", received_at=reported, crime_reported_at=reported)
    for edition in (first, longer, first):
        due = [
            r.due_at
            for r in evaluate(edition, facts, now=reported, calendar=CALENDAR).rights
            if r.due_at is not None
        ]
        expected_day = date(2026, 11, 30) if edition is longer else None
        if expected_day:
            assert all(d.date() == expected_day for d in due)
        else:
            assert all(d - reported < timedelta(days=10) for d in due)
