"""Victims' Code entitlements for one referral: who is enhanced, and each right's clock.

Pure: the facts and `now` come in, statuses come out. Status of a right (DESIGN 7):
`not_tracked` when this service never sees the event that meets it; `not_applicable` when it
does not apply (standard victim, crime type, crime not reported); `excluded` with a reason
(victim opted out, no consent, unsafe to contact); else `met` or `late` once its meeting
event has happened, `breached` when past due and unmet, `pending` before that.
"""

from dataclasses import dataclass
from datetime import datetime

from triage.vcop.calendar import WorkingCalendar
from triage.vcop.editions import Edition, Right

MET, LATE, BREACHED, PENDING = "met", "late", "breached", "pending"
NOT_APPLICABLE, EXCLUDED, NOT_TRACKED = "not_applicable", "excluded", "not_tracked"
# Why a right does not apply: a standard victim's enhanced right, another crime's right, a
# right of reported crimes when the crime was not reported.
NOT_APPLICABLE_REASONS = ("standard_victim", "crime_type", "crime_not_reported")


@dataclass(frozen=True, slots=True)
class VcopFacts:
    """What the Code's clocks need to know about a referral and its victim."""

    crime_type: str
    received_at: datetime
    crime_reported_at: datetime | None = None
    hate_crime: bool = False
    age: int | None = None
    vulnerability: frozenset[str] = frozenset()
    intimidated: bool = False
    persistently_targeted: bool = False
    bereaved: bool = False
    contact_made_at: datetime | None = None
    routed_at: datetime | None = None
    accepted_at: datetime | None = None
    opted_out: bool = False
    consent_missing: bool = False
    unsafe_to_contact: bool = False


@dataclass(frozen=True, slots=True)
class RightStatus:
    right: str
    title: str
    status: str
    due_at: datetime | None = None
    met_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    edition: str
    enhanced: bool
    enhanced_reasons: tuple[str, ...]
    rights: tuple[RightStatus, ...]


def enhanced_reasons(edition: Edition, facts: VcopFacts) -> tuple[str, ...]:
    """Every ground on which the victim is owed enhanced entitlements (may be several)."""
    rules = edition.enhanced
    reasons = []
    if facts.crime_type in rules.crime_types:
        reasons.append(facts.crime_type)
    if rules.hate_crime and facts.hate_crime:
        reasons.append("hate_crime")
    if facts.age is not None and facts.age < rules.under_age:
        reasons.append(f"under_{rules.under_age}")
    reasons += sorted(rules.vulnerability & facts.vulnerability)
    for ground in ("intimidated", "persistently_targeted", "bereaved"):
        if getattr(rules, ground) and getattr(facts, ground):
            reasons.append(ground)
    return tuple(dict.fromkeys(reasons))


def evaluate(
    edition: Edition, facts: VcopFacts, *, now: datetime, calendar: WorkingCalendar
) -> Evaluation:
    """Each right of the edition with its status, due time and meeting time."""
    reasons = enhanced_reasons(edition, facts)
    enhanced = bool(reasons)
    return Evaluation(
        edition=edition.edition,
        enhanced=enhanced,
        enhanced_reasons=reasons,
        rights=tuple(
            right_status(right, facts, enhanced=enhanced, now=now, calendar=calendar)
            for right in edition.rights
        ),
    )


def right_status(
    right: Right, facts: VcopFacts, *, enhanced: bool, now: datetime, calendar: WorkingCalendar
) -> RightStatus:
    def status(name: str, reason: str | None = None, **times: datetime | None) -> RightStatus:
        return RightStatus(right.id, right.title, name, reason=reason, **times)

    if not right.tracked:
        return status(NOT_TRACKED)
    if right.applies_to == "enhanced" and not enhanced:
        return status(NOT_APPLICABLE, NOT_APPLICABLE_REASONS[0])
    if isinstance(right.applies_to, list) and facts.crime_type not in right.applies_to:
        return status(NOT_APPLICABLE, NOT_APPLICABLE_REASONS[1])
    if "crime_not_reported" in right.not_applicable_when and facts.crime_reported_at is None:
        return status(NOT_APPLICABLE, NOT_APPLICABLE_REASONS[2])
    for exclusion in right.excluded_when:
        if _excluded(exclusion, facts):
            return status(EXCLUDED, exclusion)
    started = _instant(right.start, facts)
    met_at = _instant(right.met_by, facts)
    if started is None:
        return status(PENDING, "clock_not_started", met_at=met_at)
    days = right.working_days if right.working_days is not None else 0
    if enhanced and right.enhanced_working_days is not None:
        days = right.enhanced_working_days
    due_at = calendar.due_at(started, days)
    if met_at is not None:
        return status(MET if met_at <= due_at else LATE, due_at=due_at, met_at=met_at)
    return status(BREACHED if now > due_at else PENDING, due_at=due_at)


def _excluded(exclusion: str, facts: VcopFacts) -> bool:
    return {
        "opted_out": facts.opted_out,
        "no_consent": facts.consent_missing,
        "unsafe_to_contact": facts.unsafe_to_contact,
    }[exclusion]


def _instant(event: str | None, facts: VcopFacts) -> datetime | None:
    return {
        "crime_reported": facts.crime_reported_at,
        "referral_received": facts.received_at,
        "contact_made": facts.contact_made_at,
        "routed": facts.routed_at,
        "accepted": facts.accepted_at,
        None: None,
    }[event]
