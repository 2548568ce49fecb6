"""What routing and the Victims' Code's clocks may know of a referral (pure).

The referral aggregate builds both from its stored rows; intake builds the Code's facts from
the body it is creating; a routing preview builds routing's from a referral-shaped body; the
demo history from its simulated cases. All through these two functions.
"""

from collections.abc import Iterable
from datetime import datetime

from triage.assessment.answers import Answers
from triage.routing.engine import RoutingInput
from triage.vcop.rights import VcopFacts


def routing_input(
    *,
    crime_type: str,
    area: str,
    age: int | None,
    hate_strands: Iterable[str],
    answers: Answers | None,
) -> RoutingInput:
    """Routing's view of a referral and its assessment: no name, no contact details."""
    if answers is None:
        return RoutingInput(
            crime_type=crime_type, area=area, age=age, hate_strands=frozenset(hate_strands)
        )
    return RoutingInput(
        crime_type=crime_type,
        area=area,
        age=age,
        hate_strands=frozenset(hate_strands),
        care_leaver=answers.care_leaver,
        risk_level=answers.risk_level,
        vulnerability=answers.flags_set,
        restorative_justice_interest=answers.restorative_justice_interest,
        needs=frozenset(answers.needs),
    )


def vcop_facts(
    *,
    crime_type: str,
    received_at: datetime,
    crime_reported_at: datetime | None,
    hate_crime: bool,
    age: int | None,
    answers: Answers | None,
    consent_required: bool,
    contact_made_at: datetime | None = None,
    routed_at: datetime | None = None,
    accepted_at: datetime | None = None,
    unsafe_to_contact: bool = False,
) -> VcopFacts:
    """The Code's view: the grounds for enhanced rights, and when each clock's events came.

    Every vulnerability flag set goes in; the edition says which of them are grounds. A
    victim who said no to sharing opted out; one whose crime needs explicit consent and who
    has not given it is missing it.
    """
    consent = answers.consent_to_share if answers else None
    return VcopFacts(
        crime_type=crime_type,
        received_at=received_at,
        crime_reported_at=crime_reported_at,
        hate_crime=hate_crime,
        age=age,
        vulnerability=answers.flags_set if answers else frozenset(),
        intimidated=bool(answers and answers.flag("intimidated")),
        persistently_targeted=bool(answers and answers.flag("persistently_targeted")),
        bereaved=bool(answers and answers.flag("bereaved")),
        contact_made_at=contact_made_at,
        routed_at=routed_at,
        accepted_at=accepted_at,
        opted_out=consent is False,
        consent_missing=consent_required and consent is not True,
        unsafe_to_contact=unsafe_to_contact,
    )
