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
            step if isinstance(step, RightStatus) else step.status(facts, enhanced, now, calendar)
            for step in _steps_of(edition)
        ),
    )


# Each event and exclusion of an edition, as the fact that holds it.
_FACT_OF_EVENT = {
    "crime_reported": "crime_reported_at",
    "referral_received": "received_at",
    "contact_made": "contact_made_at",
    "routed": "routed_at",
    "accepted": "accepted_at",
}
_FACT_OF_EXCLUSION = {
    "opted_out": "opted_out",
    "no_consent": "consent_missing",
    "unsafe_to_contact": "unsafe_to_contact",
}


@dataclass(frozen=True, slots=True)
class _Clock:
    """A tracked right worked out once per edition: its tests in order, the facts they
    read, and every answer that does not depend on a date made in advance."""

    id: str
    title: str
    enhanced_only: bool
    crime_types: frozenset[str] | None
    when_reported: bool
    exclusions: tuple[tuple[str, RightStatus], ...]  # (fact, the answer when it is true)
    start: str
    met_by: str
    days: int
    enhanced_days: int
    not_enhanced: RightStatus
    other_crime: RightStatus
    not_reported: RightStatus

    @classmethod
    def of(cls, right: Right) -> "_Clock":
        def answer(status: str, reason: str) -> RightStatus:
            return RightStatus(right.id, right.title, status, reason=reason)

        days = right.working_days if right.working_days is not None else 0
        return cls(
            id=right.id,
            title=right.title,
            enhanced_only=right.applies_to == "enhanced",
            crime_types=frozenset(right.applies_to) if isinstance(right.applies_to, list) else None,
            when_reported="crime_not_reported" in right.not_applicable_when,
            exclusions=tuple(
                (_FACT_OF_EXCLUSION[e], answer(EXCLUDED, e)) for e in right.excluded_when
            ),
            start=_FACT_OF_EVENT[str(right.start)],
            met_by=_FACT_OF_EVENT[str(right.met_by)],
            days=days,
            enhanced_days=days
            if right.enhanced_working_days is None
            else right.enhanced_working_days,
            not_enhanced=answer(NOT_APPLICABLE, NOT_APPLICABLE_REASONS[0]),
            other_crime=answer(NOT_APPLICABLE, NOT_APPLICABLE_REASONS[1]),
            not_reported=answer(NOT_APPLICABLE, NOT_APPLICABLE_REASONS[2]),
        )

    def status(
        self, facts: VcopFacts, enhanced: bool, now: datetime, calendar: WorkingCalendar
    ) -> RightStatus:
        if self.enhanced_only and not enhanced:
            return self.not_enhanced
        if self.crime_types is not None and facts.crime_type not in self.crime_types:
            return self.other_crime
        if self.when_reported and facts.crime_reported_at is None:
            return self.not_reported
        for fact, excluded in self.exclusions:
            if getattr(facts, fact):
                return excluded
        started: datetime | None = getattr(facts, self.start)
        met_at: datetime | None = getattr(facts, self.met_by)
        if started is None:
            return RightStatus(self.id, self.title, PENDING, None, met_at, "clock_not_started")
        due_at = calendar.due_at(started, self.enhanced_days if enhanced else self.days)
        if met_at is not None:
            return RightStatus(
                self.id, self.title, MET if met_at <= due_at else LATE, due_at, met_at
            )
        return RightStatus(self.id, self.title, BREACHED if now > due_at else PENDING, due_at)


# Editions worked out, by identity (a pydantic model holding lists cannot be hashed); the
# few editions a process loads stay here with their steps.
_steps: dict[int, tuple[Edition, tuple[RightStatus | _Clock, ...]]] = {}


def _steps_of(edition: Edition) -> tuple[RightStatus | _Clock, ...]:
    known = _steps.get(id(edition))
    if known is not None and known[0] is edition:
        return known[1]
    if len(_steps) >= 64:  # rule sets reloaded many times (tests): start again
        _steps.clear()
    steps = tuple(
        _Clock.of(right) if right.tracked else RightStatus(right.id, right.title, NOT_TRACKED)
        for right in edition.rights
    )
    _steps[id(edition)] = (edition, steps)
    return steps
