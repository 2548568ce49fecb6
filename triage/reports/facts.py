"""What the reports know of one referral, folded from its audit events and check log (pure).

`fold` reads a referral's audit events in order and answers its `CaseFacts`: when it reached
each stage of the funnel (DESIGN 5), its offers and their answers, its support spell and how
it closed. `rights` adds the current line of each Victims' Code right from the check log.
`contribution_keys` turns facts into the counts they add to the rollups, so a report is a
sum of contributions and a change of facts is the old contribution taken away and the new
added.
Nothing here reads a clock or a database.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from triage.assessment.rules import assessment_gaps

STAGES = ("received", "contacted", "assessed", "referred", "accepted", "supported")
TRANSITIONS = tuple(zip(STAGES, STAGES[1:], strict=False))
EXCLUDED_REASONS = ("duplicate", "out_of_area")
DIMENSIONS = ("crime_type", "hate_strand", "provider", "area", "source", "enhanced", "month")
NONE_KEY = "none"
# The slices a report can be narrowed to (the dashboard's area and crime type filters): an
# area, a crime type, or both (one rollup group per pair, its key `area|crime_type`).
SLICES = ("area", "crime_type", "area_crime_type")

# One rollup count: (measure, day, key, subkey).
Key = tuple[str, date, str, str]


@dataclass(frozen=True, slots=True)
class OfferFact:
    provider: str
    offered_at: datetime
    answer: str | None = None  # accepted | declined | expired | withdrawn; None while open
    answered_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RightFact:
    right: str
    edition: str
    status: str
    due_at: datetime | None
    met_at: datetime | None
    reason: str | None
    started_on: date  # the referral's received day, where an undated right is counted


@dataclass(frozen=True, slots=True)
class CaseFacts:
    received_at: datetime
    source: str
    crime_type: str
    area: str
    hate_strands: tuple[str, ...]
    enhanced: bool
    contacted_at: datetime | None = None
    assessed_at: datetime | None = None
    referred_at: datetime | None = None
    accepted_at: datetime | None = None
    closed_at: datetime | None = None
    closure_reason: str | None = None
    closed_from: str | None = None
    outcomes: tuple[str, ...] = ()
    offers: tuple[OfferFact, ...] = ()
    hand_backs: tuple[tuple[str, datetime, str], ...] = ()  # provider, at, reason
    support_started_at: datetime | None = None
    support_ended_at: datetime | None = None
    holder: str | None = None  # the provider that last accepted it
    specialisms: dict[str, str] = field(default_factory=dict)  # provider -> its specialism
    rights: tuple[RightFact, ...] = ()

    @property
    def excluded(self) -> str | None:
        return self.closure_reason if self.closure_reason in EXCLUDED_REASONS else None

    @property
    def supported_at(self) -> datetime | None:
        return self.closed_at if self.closure_reason == "support_completed" else None

    def stage_times(self) -> dict[str, datetime | None]:
        return {
            "received": self.received_at,
            "contacted": self.contacted_at,
            "assessed": self.assessed_at,
            "referred": self.referred_at,
            "accepted": self.accepted_at,
            "supported": self.supported_at,
        }

    @property
    def provider(self) -> str:
        """The provider a referral is grouped under: the last one offered it, else none."""
        return self.offers[-1].provider if self.offers else NONE_KEY

    def specialism(self, provider: str | None) -> str:
        return self.specialisms.get(provider or "", NONE_KEY)


ANSWERS = {
    "accept": "accepted",
    "decline": "declined",
    "expire": "expired",
    "consent_withdrawn": "withdrawn",
    "close": "withdrawn",
}


class _Draft:
    """CaseFacts while the events are read: changed in place, frozen once at the end (a
    `replace` per event cost more than the rest of the fold)."""

    def __init__(self, at: datetime, detail: Mapping[str, Any]) -> None:
        self.values: dict[str, Any] = {
            "received_at": at,
            "source": detail["source"],
            "crime_type": detail["crime_type"],
            "area": detail["area"],
            "hate_strands": tuple(sorted(detail.get("hate_strands") or ())),
            "enhanced": bool(detail.get("enhanced")),
        }
        self.offers: list[OfferFact] = []
        self.hand_backs: list[tuple[str, datetime, str]] = []

    def first(self, name: str, at: datetime) -> None:
        self.values.setdefault(name, at)

    def facts(self, specialisms: Mapping[str, str]) -> CaseFacts:
        used = sorted({o.provider for o in self.offers})
        return CaseFacts(
            **self.values,
            offers=tuple(self.offers),
            hand_backs=tuple(self.hand_backs),
            specialisms={p: specialisms.get(p, NONE_KEY) for p in used},
        )


def fold(
    events: Iterable[Mapping[str, Any]], *, specialisms: Mapping[str, str]
) -> CaseFacts | None:
    """A referral's facts from its audit events (`action`, `at`, `from_state`, `detail`),
    oldest first; None before its `create` event."""
    draft: _Draft | None = None
    for event in events:
        action, at, detail = event["action"], event["at"], event.get("detail") or {}
        if action == "create":
            draft = _Draft(at, detail)
        elif draft is not None:
            _apply(draft, action, at, event.get("from_state"), detail)
    return draft.facts(specialisms) if draft is not None else None


def _apply(
    draft: _Draft, action: str, at: datetime, from_state: str | None, detail: dict[str, Any]
) -> None:
    values = draft.values
    match action:
        case "vcop_enhanced":
            values["enhanced"] = bool(detail.get("enhanced"))
        case "contact_made":
            draft.first("contacted_at", at)
        case "assessment" if "assessed_at" not in values and _complete(
            values["crime_type"], detail.get("after")
        ):
            values["assessed_at"] = at
        case "route" | "decline" | "expire" | "accept" | "consent_withdrawn" | "close":
            _offer_event(draft, action, at, from_state, detail)
        case "hand_back":
            holder = values.get("holder") or NONE_KEY
            draft.hand_backs.append((holder, at, detail["reason"]))
            values["support_ended_at"] = at


def _complete(crime_type: str, after: dict[str, Any] | None) -> bool:
    if after is None:
        return False
    gaps = assessment_gaps(
        crime_type,
        assessed=True,
        dash_score=after.get("dash_score"),
        judgement=after.get("professional_judgement"),
    )
    return not gaps


def _offer_event(
    draft: _Draft, action: str, at: datetime, from_state: str | None, detail: dict[str, Any]
) -> None:
    offers, values = draft.offers, draft.values
    answer = ANSWERS.get(action)
    if answer and offers and offers[-1].answer is None:
        reason = detail.get("reason") if action in ("decline", "expire") else None
        offers[-1] = replace(offers[-1], answer=answer, answered_at=at, reason=reason)
    if detail.get("offered_to"):
        offers.append(OfferFact(provider=detail["offered_to"], offered_at=at))
        if action == "route":
            draft.first("referred_at", at)
    if action == "accept":
        draft.first("accepted_at", at)
        draft.first("support_started_at", at)
        values["support_ended_at"] = None
        values["holder"] = offers[-1].provider
    elif action == "close":
        values["closed_at"] = at
        values["closure_reason"] = detail.get("reason")
        values["closed_from"] = from_state
        values["outcomes"] = tuple(
            sorted(k for k, v in (detail.get("outcomes") or {}).items() if v)
        )
        if from_state == "in_support":
            values["support_ended_at"] = at


def rights(facts: CaseFacts, checks: Iterable[Mapping[str, Any]], timezone: str) -> CaseFacts:
    """Add the current check-log line of each tracked right (`right`, `edition`, ...)."""
    started = local_day(facts.received_at, timezone)
    lines = tuple(
        RightFact(
            right=c["right"],
            edition=c["edition"],
            status=c["status"],
            due_at=c["due_at"],
            met_at=c["met_at"],
            reason=c["reason"],
            started_on=started,
        )
        for c in sorted(checks, key=lambda c: c["right"])
    )
    return replace(facts, rights=lines)


def local_day(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def hours_bucket(seconds: float) -> int:
    """Durations are kept at the resolution reports show them, in whole hours: to the hour
    below two days, to the day below sixty days, to the week beyond."""
    hours = max(int(seconds // 3600), 0)
    if hours < 48:
        return hours
    if hours < 60 * 24:
        return hours // 24 * 24
    return hours // 168 * 168


def group_keys(facts: CaseFacts, dimension: str, timezone: str) -> tuple[str, ...]:
    """The groups a referral falls in: one each, except hate strands (one per strand)."""
    match dimension:
        case "all":
            return ("all",)
        case "crime_type":
            return (facts.crime_type,)
        case "hate_strand":
            return facts.hate_strands or (NONE_KEY,)
        case "provider":
            return (facts.provider,)
        case "area":
            return (facts.area,)
        case "area_crime_type":
            return (slice_key(facts.area, facts.crime_type),)
        case "source":
            return (facts.source,)
        case "enhanced":
            return ("enhanced" if facts.enhanced else "standard",)
        case "month":
            return (local_day(facts.received_at, timezone).strftime("%Y-%m"),)
    raise ValueError(f"unknown dimension {dimension!r}")


def slice_of(area: str | None, crime_type: str | None) -> tuple[str, str] | None:
    """The slice (dimension, group key) for an area and/or crime type; None for neither."""
    if area and crime_type:
        return "area_crime_type", slice_key(area, crime_type)
    if area:
        return "area", area
    if crime_type:
        return "crime_type", crime_type
    return None


def slice_key(area: str, crime_type: str) -> str:
    return f"{area}|{crime_type}"


def contribution_keys(facts: CaseFacts, timezone: str) -> list[Key]:
    """Every count this referral adds to the rollups, as a list holding each key once per
    count (in the order they are counted), for summing many referrals in one `Counter`."""
    keys: list[Key] = []
    _conversion(keys, facts, timezone)
    _activity(keys, facts, timezone)
    _offers(keys, facts, timezone)
    _vcop(keys, facts, timezone)
    return keys


# Month is read from the 'all' rows' days; area_crime_type is a slice, not a grouping.
CONVERSION_DIMENSIONS = ("all", *DIMENSIONS[:-1], "area_crime_type")
STAGE_MEASURES = {d: f"stage:{d}" for d in CONVERSION_DIMENSIONS}
EXCLUDED_MEASURES = {d: f"excluded:{d}" for d in CONVERSION_DIMENSIONS}
HOURS_MEASURES = {
    d: {later: f"hours:{d}:{later}" for _, later in TRANSITIONS} for d in CONVERSION_DIMENSIONS
}


def _conversion(keys: list[Key], facts: CaseFacts, timezone: str) -> None:
    received = local_day(facts.received_at, timezone)
    groups = [(d, k) for d in CONVERSION_DIMENSIONS for k in group_keys(facts, d, timezone)]
    if facts.excluded:
        for dimension, key in groups:
            keys.append((EXCLUDED_MEASURES[dimension], received, key, facts.excluded))
        return
    times = facts.stage_times()
    reached = [stage for stage, at in times.items() if at is not None]
    durations = []
    for earlier, later in TRANSITIONS:
        start, end = times[earlier], times[later]
        if start is not None and end is not None:
            durations.append((later, str(hours_bucket((end - start).total_seconds()))))
    for dimension, key in groups:
        measure = STAGE_MEASURES[dimension]
        keys += [(measure, received, key, stage) for stage in reached]
        hours = HOURS_MEASURES[dimension]
        keys += [(hours[later], received, key, bucket) for later, bucket in durations]


def _activity(keys: list[Key], facts: CaseFacts, timezone: str) -> None:
    """What happened on which day, for the quarter's return (activity, not a cohort)."""

    def on(at: datetime) -> date:
        return local_day(at, timezone)

    received = on(facts.received_at)
    enhanced = "enhanced" if facts.enhanced else "standard"
    keys.append(("received", received, "source", facts.source))
    keys.append(("received", received, "crime_type", facts.crime_type))
    keys.append(("received", received, "enhanced", enhanced))
    if facts.referred_at is not None:
        first = facts.specialism(facts.offers[0].provider) if facts.offers else NONE_KEY
        referred = on(facts.referred_at)
        keys.append(("referred", referred, "crime_type", facts.crime_type))
        keys.append(("referred", referred, "specialism", first))
    if facts.support_started_at is not None:
        specialism = facts.specialism(facts.holder)
        for edge, at in (("started", facts.support_started_at), ("ended", facts.support_ended_at)):
            if at is not None:
                day, measure = on(at), f"support_{edge}"
                keys.append((measure, day, "crime_type", facts.crime_type))
                keys.append((measure, day, "specialism", specialism))
                keys.append((measure, day, "enhanced", enhanced))
    if facts.closed_at is not None:
        closed = on(facts.closed_at)
        keys.append(("closed", closed, "reason", facts.closure_reason or NONE_KEY))
        if facts.closed_from == "in_support":
            keys.append(("closed_from_support", closed, "all", "cases"))
            for outcome in facts.outcomes:
                keys.append(("closed_from_support", closed, "outcome", outcome))


def _offers(keys: list[Key], facts: CaseFacts, timezone: str) -> None:
    """Each offer on the day it was made, and its answer on the day it was answered."""
    for offer in facts.offers:
        keys.append(("offer", local_day(offer.offered_at, timezone), offer.provider, "made"))
        if offer.answer is None or offer.answered_at is None:
            continue
        answered = local_day(offer.answered_at, timezone)
        keys.append(("offer", answered, offer.provider, offer.answer))
        if offer.answer in ("accepted", "declined"):
            bucket = hours_bucket((offer.answered_at - offer.offered_at).total_seconds())
            keys.append(("offer_hours", answered, offer.provider, str(bucket)))
        if offer.answer == "declined":
            keys.append(("decline", answered, offer.provider, offer.reason or NONE_KEY))
    for provider, at, reason in facts.hand_backs:
        keys.append(("hand_back", local_day(at, timezone), provider, reason))


def _vcop(keys: list[Key], facts: CaseFacts, timezone: str) -> None:
    """Each tracked right on the day it fell due (undated ones on the day received); again
    under each slice the referral falls in (measure `vcop:<slice>`, key `<group>#<right>`)."""
    lines: list[Key] = []
    for line in facts.rights:
        key = f"{line.right}@{line.edition}"
        if line.due_at is None:
            outcome = f"{line.status}:{line.reason or NONE_KEY}"
            lines.append(("vcop", line.started_on, key, outcome))
            continue
        if line.met_at is None:
            outcome = "unmet"
        elif line.met_at <= line.due_at:
            outcome = "met_in_time"
        else:
            outcome = "met_late"
        lines.append(("vcop", local_day(line.due_at, timezone), key, outcome))
    keys += lines
    for dimension in SLICES:
        (group,) = group_keys(facts, dimension, timezone)
        keys += [(f"vcop:{dimension}", day, f"{group}#{key}", out) for _, day, key, out in lines]


def to_json(facts: CaseFacts) -> dict[str, Any]:
    """Facts as JSON-ready data, kept beside the rollups so a change can be taken back."""
    f = facts
    return {
        "received_at": f.received_at.isoformat(),
        "source": f.source,
        "crime_type": f.crime_type,
        "area": f.area,
        "hate_strands": list(f.hate_strands),
        "enhanced": f.enhanced,
        **{name: _iso(getattr(f, name)) for name in _TIMES[1:]},
        "closure_reason": f.closure_reason,
        "closed_from": f.closed_from,
        "outcomes": list(f.outcomes),
        "offers": [
            {
                "provider": o.provider,
                "offered_at": o.offered_at.isoformat(),
                "answer": o.answer,
                "answered_at": _iso(o.answered_at),
                "reason": o.reason,
            }
            for o in f.offers
        ],
        "hand_backs": [[p, at.isoformat(), reason] for p, at, reason in f.hand_backs],
        "holder": f.holder,
        "specialisms": dict(f.specialisms),
        "rights": [
            {
                "right": r.right,
                "edition": r.edition,
                "status": r.status,
                "due_at": _iso(r.due_at),
                "met_at": _iso(r.met_at),
                "reason": r.reason,
                "started_on": r.started_on.isoformat(),
            }
            for r in f.rights
        ],
    }


_TIMES = (
    "received_at", "contacted_at", "assessed_at", "referred_at", "accepted_at", "closed_at",
    "support_started_at", "support_ended_at",
)  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def from_json(data: Mapping[str, Any]) -> CaseFacts:
    """The inverse of `to_json`."""

    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    values = dict(data)
    for name in _TIMES:
        values[name] = when(values[name])
    values["hate_strands"] = tuple(values["hate_strands"])
    values["outcomes"] = tuple(values["outcomes"])
    values["offers"] = tuple(
        OfferFact(
            provider=o["provider"],
            offered_at=datetime.fromisoformat(o["offered_at"]),
            answer=o["answer"],
            answered_at=when(o["answered_at"]),
            reason=o["reason"],
        )
        for o in values["offers"]
    )
    values["hand_backs"] = tuple(
        (p, datetime.fromisoformat(at), reason) for p, at, reason in values["hand_backs"]
    )
    values["rights"] = tuple(
        RightFact(
            right=r["right"],
            edition=r["edition"],
            status=r["status"],
            due_at=when(r["due_at"]),
            met_at=when(r["met_at"]),
            reason=r["reason"],
            started_on=date.fromisoformat(r["started_on"]),
        )
        for r in values["rights"]
    )
    return CaseFacts(**values)
