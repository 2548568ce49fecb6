"""Random walks through the referral lifecycle over HTTP (DESIGN 3 and 4, issue 3).

A hypothesis `RuleBasedStateMachine` creates one referral per example and then fires random
events at it, legal and illegal, as the triage unit and as two providers' workers (so the
wrong provider is tried too), with stale and current versions, reasons that do and do not fit
the state, assessment PUTs (complete and incomplete) and consent PUTs (given and withdrawn).

After every step it checks, without any model (state and version read from the table):
- the state is one of the six states and `version` never goes down;
- a 200 changed the state only along an edge of the flow, and raised `version`;
- a 403, 404, 409 or 422 changed nothing (state and version as before);
- a closed referral never changes again (also checked for every earlier referral at the end
  of each example); nothing answers 500;
and after every change, and at the end of each example, that the audit timeline replays:
each transition starts where the previous one ended, every edge is one the flow has, the
last one ends in the current state, every change of the referral wrote exactly one audit
event (the versions of the change events are exactly 1..version), and the versions the
timeline records never go down.

It also keeps a small model written from DESIGN 3 and 4 (guards, reasons, scopes, the order
of answers) and checks each answer's status, the 409's `failed` codes and `allowed_events`,
the stored offers, holder and contact attempts, and what each provider may see.

The machine closes over the suite's fixtures: `test_lifecycle_*` receives them and runs the
machine with `run_state_machine_as_test`; every example creates a fresh referral.
"""

import itertools
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck
from hypothesis import event as tally
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support import Api, FakeClock, referral_body, victim
from triage.config import Settings
from triage.referrals.models import Referral

# --- the vocabulary and the flow, written out from DESIGN 3 and 4 -----------------------

STATES = (
    "received",
    "contacting",
    "assessing",
    "awaiting_provider",
    "in_support",
    "closed",
)
OPEN_STATES = STATES[:-1]
# Every event in the order `allowed_events` lists them, plus one the API does not know.
EVENTS = (
    "log_contact_attempt",
    "contact_made",
    "route",
    "accept",
    "decline",
    "expire",
    "hand_back",
    "close",
    "consent_withdrawn",
)
UNKNOWN_EVENT = "reopen"
TRIAGE_EVENTS = frozenset({"log_contact_attempt", "contact_made", "route", "close"})
PROVIDER_EVENTS = frozenset({"accept", "decline", "hand_back", "close"})

# Every edge of the flow: (from, event, to). decline and expire may stay awaiting a provider
# when there is a next candidate; `consent_withdrawn` is fired by the consent PUT.
FLOW_EDGES = frozenset(
    {
        ("received", "log_contact_attempt", "contacting"),
        ("contacting", "log_contact_attempt", "contacting"),
        ("received", "contact_made", "assessing"),
        ("contacting", "contact_made", "assessing"),
        ("assessing", "route", "awaiting_provider"),
        ("awaiting_provider", "accept", "in_support"),
        ("awaiting_provider", "decline", "awaiting_provider"),
        ("awaiting_provider", "decline", "assessing"),
        ("awaiting_provider", "expire", "awaiting_provider"),
        ("awaiting_provider", "expire", "assessing"),
        ("in_support", "hand_back", "assessing"),
        ("awaiting_provider", "consent_withdrawn", "assessing"),
        *((state, "close", "closed") for state in OPEN_STATES),
    }
)
# Where each event leads when it is allowed (a decline stays awaiting a provider instead when
# the routing rules have a next candidate: see ReferralModel.apply_event).
TARGET = {
    ("received", "log_contact_attempt"): "contacting",
    ("contacting", "log_contact_attempt"): "contacting",
    ("received", "contact_made"): "assessing",
    ("contacting", "contact_made"): "assessing",
    ("assessing", "route"): "awaiting_provider",
    ("awaiting_provider", "accept"): "in_support",
    ("awaiting_provider", "decline"): "assessing",
    ("in_support", "hand_back"): "assessing",
    **{(state, "close"): "closed" for state in OPEN_STATES},
}
# Actions of the audit log that change the referral (and raise its version); others, such
# as reads or a derived status being logged, record the version they saw.
CHANGE_ACTIONS = frozenset({"create", *EVENTS, "assessment", "consent"})

CLOSURE_BEFORE_SUPPORT = frozenset(
    {
        "victim_declined",
        "uncontactable",
        "unsafe_to_contact",
        "not_eligible",
        "duplicate",
        "withdrawn",
        "information_only",
        "out_of_area",
    }
)
CLOSURE_IN_SUPPORT = frozenset({"support_completed", "disengaged", "withdrawn", "moved_away"})
CLOSURE_REASONS = sorted(CLOSURE_BEFORE_SUPPORT | CLOSURE_IN_SUPPORT)
ANSWER_REASONS = (
    "no_capacity",
    "not_eligible_for_service",
    "outside_area",
    "victim_declined_provider",
    "unsafe_to_contact",
    "duplicate_of_open_case",
    "other",
)
OUTCOMES = ("better_able_to_cope", "feel_safer", "better_informed", "satisfied")
CHANNELS = ("phone", "sms", "email", "letter", "in_person")
ATTEMPT_OUTCOMES = ("no_answer", "voicemail_left", "message_sent", "wrong_number", "unsafe")
NEEDS = (
    "justice_system_information",
    "information_on_rights",
    "compensation",
    "trial_preparation",
    "emotional_support",
    "practical_financial",
    "repeat_victimisation_risk",
    "specialist_service",
)
VULNERABILITY_FLAGS = (
    "mental_disorder",
    "impaired_intelligence",
    "physical_disability",
    "intimidated",
    "persistently_targeted",
    "bereaved",
)
CONSENT_METHODS = ("verbal", "written", "electronic")
RISK_LEVELS = ("standard", "medium", "high")
CRIME_TYPES = ("burglary", "violence", "domestic_abuse", "sexual_offence", "harassment_stalking")
EXPLICIT_CONSENT_CRIMES = frozenset(
    {"sexual_offence", "child_sexual_exploitation", "domestic_abuse", "homicide_bereavement"}
)
RISK_ASSESSED_CRIMES = frozenset({"domestic_abuse", "harassment_stalking"})
MIN_CONTACT_ATTEMPTS = 3  # Settings.min_contact_attempts

# The two providers that have signed-in workers, one more that does not, and a code that
# names no provider at all.
WORKER_PROVIDERS = ("core-general", "da-idva")
KNOWN_PROVIDERS = frozenset({*WORKER_PROVIDERS, "hate-crime"})
ROUTE_PROVIDERS = (None, *WORKER_PROVIDERS, "hate-crime", "no-such-provider")
ACTORS = ("triage", *WORKER_PROVIDERS)
# Assessment and consent are the unit's: providers try them now and then (403).
PUT_ACTORS = ("triage", "triage", "triage", "triage", *WORKER_PROVIDERS)

LONDON = ZoneInfo("Europe/London")
BODY_KEYS = {
    "log_contact_attempt": {"version", "channel", "outcome", "at"},
    "contact_made": {"version", "channel"},
    "route": {"version", "provider"},
    "accept": {"version"},
    "decline": {"version", "reason", "note"},
    "hand_back": {"version", "reason", "note"},
    "close": {"version", "reason", "outcomes", "note"},
}


# --- the model ------------------------------------------------------------------------


@dataclass
class OfferModel:
    provider: str
    answer: str | None = None
    reason: str | None = None
    handed_back: bool = False


@dataclass(frozen=True)
class Expected:
    status: int
    failed: tuple[str, ...] = ()
    # `route` without a provider takes the routing rules' first candidate: the model leaves
    # to the rules whether there is one, so the same request may also find none.
    or_no_candidate: bool = False

    def allows(self, status: int, failed: tuple[str, ...]) -> bool:
        if (status, failed) == (self.status, self.failed):
            return True
        return self.or_no_candidate and (status, failed) == (409, (*self.failed, "no_candidate"))


@dataclass
class ReferralModel:
    """What DESIGN 3 and 4 say the service stores about one referral."""

    crime_type: str
    received_at: datetime
    state: str = "received"
    version: int = 1
    assessed: bool = False
    dash_score: int | None = None
    judgement: str | None = None
    bereaved: bool = False
    consent: bool | None = None
    attempts: list[datetime] = field(default_factory=list)
    offers: list[OfferModel] = field(default_factory=list)
    holder: str | None = None
    closure_reason: str | None = None

    # facts

    def open_offer(self) -> OfferModel | None:
        return next((o for o in self.offers if o.answer is None), None)

    def visible_to(self, provider: str) -> bool:
        offer = self.open_offer()
        return self.holder == provider or (offer is not None and offer.provider == provider)

    def provider_events(self, provider: str) -> frozenset[str]:
        events: set[str] = set()
        offer = self.open_offer()
        if offer is not None and offer.provider == provider:
            events |= {"accept", "decline"}
        if self.holder == provider:
            events |= {"hand_back", "close"}
        return frozenset(events)

    def gaps(self) -> list[str]:
        if not self.assessed:
            return ["assessment_incomplete"]
        if (
            self.crime_type in RISK_ASSESSED_CRIMES
            and self.dash_score is None
            and self.judgement is None
        ):
            return ["dash_score_required"]
        return []

    def consent_block(self) -> str | None:
        if self.consent is False:
            return "consent_refused"
        required = self.crime_type in EXPLICIT_CONSENT_CRIMES or self.bereaved
        if required and self.consent is not True:
            return "consent_required"
        return None

    def declined_providers(self) -> set[str]:
        return {
            o.provider for o in self.offers if o.answer in ("declined", "expired") or o.handed_back
        }

    def may_offer_again(self) -> set[str]:
        """Providers whose last ended offer was declined for want of capacity (every provider
        here takes cases): the unit may name them again by hand (issue 13)."""
        last: dict[str, bool] = {}
        for o in self.offers:
            if o.answer in ("declined", "expired") or o.handed_back:
                last[o.provider] = (
                    not o.handed_back and o.answer == "declined" and o.reason == "no_capacity"
                )
        return {provider for provider, capacity in last.items() if capacity}

    def enabled(self) -> set[str]:
        """Events the flow allows now whose guards on stored data pass."""
        match self.state:
            case "received" | "contacting":
                return {"log_contact_attempt", "contact_made", "close"}
            case "assessing":
                routable = not self.gaps() and self.consent_block() is None
                return {"close", "route"} if routable else {"close"}
            case "awaiting_provider":
                return {"accept", "decline", "expire", "consent_withdrawn", "close"}
            case "in_support":
                return {"hand_back", "close"}
        return set()

    def allowed_events(self, actor: str) -> list[str]:
        mine = TRIAGE_EVENTS if actor == "triage" else self.provider_events(actor)
        enabled = self.enabled()
        return [e for e in EVENTS if e in enabled and e in mine]

    # expectations, in the order of answers DESIGN 4 fixes

    def expect_event(self, actor: str, event: str, body: dict[str, Any], now: datetime) -> Expected:
        if event not in EVENTS:
            return Expected(422)
        if event not in (TRIAGE_EVENTS if actor == "triage" else PROVIDER_EVENTS):
            return Expected(403)
        if actor != "triage" and not self.visible_to(actor):
            return Expected(404)
        if body_malformed(event, body):
            return Expected(422)
        # a body that names what does not exist, or a time it cannot be, is bad input too
        if event == "route" and "provider" in body and body["provider"] not in KNOWN_PROVIDERS:
            return Expected(422)
        if event == "log_contact_attempt" and "at" in body:
            at = datetime.fromisoformat(body["at"])
            if at > now or at < self.received_at - timedelta(days=1):
                return Expected(422)
        if body["version"] != self.version:
            return Expected(409, ("stale_version",))
        if actor != "triage" and event not in self.provider_events(actor):
            return Expected(409, ("not_allowed_in_state",))
        if (self.state, event) not in TARGET:
            return Expected(409, ("not_allowed_in_state",))
        failed = tuple(self.failed_guards(event, body))
        by_rules = event == "route" and "provider" not in body
        if failed:
            return Expected(409, failed, or_no_candidate=by_rules)
        return Expected(200, or_no_candidate=by_rules)

    def failed_guards(self, event: str, body: dict[str, Any]) -> list[str]:
        failed: list[str] = []
        if event == "route":
            failed += self.gaps()[:1]
            if block := self.consent_block():
                failed.append(block)
            provider = body.get("provider")  # none: the rules' (see Expected)
            if provider in self.declined_providers() - self.may_offer_again():
                failed.append("already_declined")
        if event == "close":
            allowed = CLOSURE_IN_SUPPORT if self.state == "in_support" else CLOSURE_BEFORE_SUPPORT
            if body["reason"] not in allowed:
                failed.append("closure_reason_not_allowed")
            if body["reason"] == "uncontactable":
                days = {at.astimezone(LONDON).date() for at in self.attempts}
                if len(self.attempts) < MIN_CONTACT_ATTEMPTS or len(days) < 2:
                    failed.append("too_few_contact_attempts")
        return failed

    def expect_assessment(self, actor: str, body: dict[str, Any]) -> Expected:
        if actor != "triage":
            return Expected(403)
        if assessment_malformed(body):
            return Expected(422)
        return self._expect_open_referral(body)

    def expect_consent(self, actor: str, body: dict[str, Any]) -> Expected:
        if actor != "triage":
            return Expected(403)
        if consent_malformed(body):
            return Expected(422)
        expected = self._expect_open_referral(body)
        if expected.status == 200 and not self.assessed:
            return Expected(409, ("assessment_incomplete",))
        return expected

    def _expect_open_referral(self, body: dict[str, Any]) -> Expected:
        if body["version"] != self.version:
            return Expected(409, ("stale_version",))
        if self.state == "closed":
            return Expected(409, ("referral_closed",))
        return Expected(200)

    # changes, applied after a 200

    def apply_event(
        self, actor: str, event: str, body: dict[str, Any], now: datetime, view: dict[str, Any]
    ) -> None:
        """Apply a 200; `view` (the referral after it) says whom the routing rules chose."""
        offer = self.open_offer()
        target = TARGET[(self.state, event)]
        match event:
            case "log_contact_attempt":
                self.attempts.append(datetime.fromisoformat(body["at"]) if "at" in body else now)
            case "route":
                chosen = self.offered_next(view)
                assert chosen is not None, "route answered 200 but offered nobody"
                assert chosen == body.get("provider", chosen), (chosen, body)
                self.offers.append(OfferModel(chosen))
            case "accept":
                assert offer is not None
                offer.answer = "accepted"
                self.holder = actor
            case "decline":
                assert offer is not None
                offer.answer, offer.reason = "declined", body["reason"]
                # the rules' next candidate, if any, is offered at once (DESIGN 3)
                chosen = self.offered_next(view)
                if chosen is not None:
                    self.offers.append(OfferModel(chosen))
                    target = "awaiting_provider"
            case "hand_back":
                held = [o for o in self.offers if o.answer == "accepted"][-1]
                held.handed_back = True
                self.holder = None
            case "close":
                if offer is not None:
                    offer.answer = "withdrawn"
                self.closure_reason = body["reason"]
        self.state = target
        self.version += 1

    def offered_next(self, view: dict[str, Any]) -> str | None:
        """The provider of the one new offer in `view`, if there is one (never one that has
        declined or handed back this referral, unless it declined for want of capacity and
        was named again by hand)."""
        offers = view["offers"]
        if len(offers) == len(self.offers):
            return None
        assert len(offers) == len(self.offers) + 1, offers
        new = offers[-1]
        assert new["answer"] is None, new
        excluded = self.declined_providers() - self.may_offer_again()
        assert new["provider"] not in excluded, (new, self.offers)
        return str(new["provider"])

    def apply_assessment(self, body: dict[str, Any]) -> None:
        risk = body.get("risk") or {}
        self.assessed = True
        self.dash_score = risk.get("dash_score")
        self.judgement = risk.get("professional_judgement")
        self.bereaved = body["vulnerability"]["bereaved"]
        consent = body.get("consent")
        self.consent = None if consent is None else consent["share_with_provider"]
        self.version += 1
        self.stop_sharing_if_consent_fails()

    def stop_sharing_if_consent_fails(self) -> None:
        """DESIGN 7: an open offer is withdrawn once the consent gate no longer passes
        (`consent_withdrawn`), whichever PUT changed the answer; the unit has it again."""
        if self.state != "awaiting_provider" or self.consent_block() is None:
            return
        offer = self.open_offer()
        assert offer is not None
        offer.answer = "withdrawn"
        self.state = "assessing"
        self.version += 1

    def apply_consent(self, body: dict[str, Any]) -> None:
        self.consent = body["share_with_provider"]
        self.version += 1
        self.stop_sharing_if_consent_fails()


def body_malformed(event: str, body: dict[str, Any]) -> bool:
    if set(body) - BODY_KEYS[event] or body["version"] < 1:
        return True
    if event in ("decline", "hand_back"):
        return body["reason"] not in ANSWER_REASONS or (
            body["reason"] == "other" and not body.get("note")
        )
    if event == "close":
        completed = body["reason"] == "support_completed"
        return completed != bool(body.get("outcomes"))
    return False


def assessment_malformed(body: dict[str, Any]) -> bool:
    allowed = {
        "version",
        "needs",
        "risk",
        "vulnerability",
        "consent",
        "restorative_justice_interest",
        "care_leaver",
    }
    if set(body) - allowed or body["version"] < 1:
        return True
    dash = (body.get("risk") or {}).get("dash_score")
    if dash is not None and not 0 <= dash <= 24:
        return True
    consent = body.get("consent")
    return consent is not None and consent_malformed({"version": 1, **consent})


def consent_malformed(body: dict[str, Any]) -> bool:
    if set(body) - {"version", "share_with_provider", "method"} or body["version"] < 1:
        return True
    return body["share_with_provider"] and body.get("method") is None


# --- drawing request bodies -----------------------------------------------------------

_names = itertools.count(1)


def unique_name() -> str:
    """A victim name no other referral shares (so referrals are not linked to each other)."""
    number, letters = next(_names), []
    while number:
        number, digit = divmod(number, 26)
        letters.append(string.ascii_lowercase[digit])
    return "Victim " + "".join(letters).capitalize()


def draw_version(data: st.DataObject, current: int, *, fresh: bool = False) -> int:
    if fresh:
        return current
    stale = [current, current, current, current - 1, current + 1, 1, 0]
    return data.draw(st.sampled_from(stale), label="version")


def draw_event_fields(
    data: st.DataObject, event: str, now: datetime, *, valid: bool = False
) -> dict[str, Any]:
    """A body for `event` (without version): valid-shaped, sometimes not (unless `valid`)."""
    draw = data.draw
    fields: dict[str, Any] = {}
    match event:
        case "log_contact_attempt":
            fields["channel"] = draw(st.sampled_from(CHANNELS), label="channel")
            fields["outcome"] = draw(st.sampled_from(ATTEMPT_OUTCOMES), label="outcome")
            # valid: up to 12 hours ago (never before the referral was received, less a day);
            # otherwise anything from four days ago to an hour ahead.
            minutes = st.integers(-12 * 60, 0) if valid else st.integers(-4 * 24 * 60, 60)
            offset = draw(st.none() | minutes, label="at, minutes from now")
            if offset is not None:
                fields["at"] = (now + timedelta(minutes=offset)).isoformat()
        case "contact_made":
            fields["channel"] = draw(st.sampled_from(CHANNELS), label="channel")
        case "route":
            provider = draw(st.sampled_from(ROUTE_PROVIDERS), label="provider")
            if provider is not None:
                fields["provider"] = provider
        case "decline" | "hand_back":
            reasons = ANSWER_REASONS if valid else (*ANSWER_REASONS, "no_response")
            fields["reason"] = draw(st.sampled_from(reasons), label="reason")
            note = draw(st.sampled_from([None, "", "Victim asked for another service"]))
            if valid and fields["reason"] == "other":
                note = "Victim asked for another service"
            if note is not None:
                fields["note"] = note
        case "close":
            fields["reason"] = draw(st.sampled_from(CLOSURE_REASONS), label="reason")
            outcomes = draw(
                st.none() | st.dictionaries(st.sampled_from(OUTCOMES), st.booleans(), max_size=4),
                label="outcomes",
            )
            completed = fields["reason"] == "support_completed"
            if valid or draw(st.booleans(), label="outcomes fit the reason"):
                outcomes = (outcomes or {"feel_safer": True}) if completed else None
            if outcomes is not None:
                fields["outcomes"] = outcomes
    if not valid and draw(st.integers(0, 9), label="junk field") == 0:
        fields["unexpected"] = True
    return fields


def draw_assessment(data: st.DataObject, version: int) -> dict[str, Any]:
    draw = data.draw
    body: dict[str, Any] = {
        "version": version,
        "needs": draw(st.lists(st.sampled_from(NEEDS), unique=True, max_size=3), label="needs"),
        "vulnerability": {
            flag: draw(
                st.booleans() if flag != "bereaved" else st.sampled_from([False] * 3 + [True])
            )
            for flag in VULNERABILITY_FLAGS
        },
    }
    if draw(st.booleans(), label="risk given"):
        body["risk"] = {
            "dash_score": draw(st.none() | st.integers(0, 26), label="dash_score"),
            "professional_judgement": draw(st.sampled_from((None, *RISK_LEVELS)), label="pj"),
        }
    consent = draw(
        st.sampled_from(["omitted", "null", "given", "given", "refused", "no_method"]),
        label="consent",
    )
    if consent == "null":
        body["consent"] = None
    elif consent == "given":
        body["consent"] = {
            "share_with_provider": True,
            "method": draw(st.sampled_from(CONSENT_METHODS)),
        }
    elif consent == "refused":
        body["consent"] = {"share_with_provider": False}
    elif consent == "no_method":
        body["consent"] = {"share_with_provider": True, "method": None}
    if draw(st.integers(0, 14), label="junk field") == 0:
        body["unexpected"] = True
    return body


def complete_assessment(data: st.DataObject, model: ReferralModel) -> dict[str, Any]:
    """A complete assessment at the current version, with consent to share."""
    draw = data.draw
    body = draw_assessment(data, model.version)
    body.pop("unexpected", None)
    method = draw(st.sampled_from(CONSENT_METHODS), label="method")
    body["consent"] = {"share_with_provider": True, "method": method}
    if model.crime_type in RISK_ASSESSED_CRIMES:
        body["risk"] = {
            "dash_score": draw(st.integers(0, 24), label="dash"),
            "professional_judgement": None,
        }
    else:
        body.pop("risk", None)
    return body


# --- the machine ----------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """The referral as the triage unit read it after a step."""

    state: str
    version: int


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(
        self, callers: dict[str, Api], clock: FakeClock, sessions: sessionmaker[Session]
    ) -> None:
        super().__init__()
        self.callers = callers
        self.clock = clock
        self.sessions = sessions
        self.model: ReferralModel | None = None
        self.rid = ""
        self.seen = Seen("received", 1)
        self.closed: dict[str, Seen] = {}  # earlier referrals of this run, closed
        self.replayed: Seen | None = None  # the referral as the timeline was last replayed

    # helpers

    @property
    def triage(self) -> Api:
        return self.callers["triage"]

    def stored(self) -> Seen:
        """The referral's state and version as stored (not as any view shows them)."""
        with self.sessions() as session:
            row = session.execute(
                select(Referral.state, Referral.version).where(Referral.id == UUID(self.rid))
            ).one()
        return Seen(row.state, row.version)

    def read(self) -> dict[str, Any]:
        answer = self.triage.get(f"/api/referrals/{self.rid}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def check_answer(
        self,
        actor: str,
        action: str,
        answer: Any,
        expected: Expected,
        apply: Callable[[dict[str, Any]], None],
    ) -> None:
        """Model-free invariants of one step, then the model's expectations."""
        model = self.model
        assert model is not None
        status = answer.status_code
        assert status != 500, answer.text
        assert status in (200, 403, 404, 409, 422), (status, answer.text)
        before = self.seen
        after = self.stored()
        assert after.state in STATES
        assert after.version >= before.version, "version went down"
        if before.state == "closed":
            assert after == before, f"a closed referral changed: {before} -> {after}"
        if status == 200:
            assert after.version > before.version, "a 200 did not raise the version"
            body = answer.json()
            assert (body["state"], body["version"]) == (after.state, after.version)
            if action in EVENTS:
                assert (before.state, action, after.state) in FLOW_EDGES, (
                    f"{action} moved {before.state} -> {after.state}, not an edge of the flow"
                )
            else:  # assessment or consent: no move, except consent withdrawn while offered
                assert after.state == before.state or (
                    (before.state, "consent_withdrawn", after.state) in FLOW_EDGES
                )
        else:
            assert after == before, f"a {status} changed the referral: {before} -> {after}"
        self.seen = after

        tally(f"{action} -> {status}")
        tally(f"reached {after.state}")

        # the model
        failed = tuple(answer.json()["detail"]["failed"]) if status == 409 else ()
        assert expected.allows(status, failed), (
            f"{actor} {action}: expected {expected}, got {status}: {answer.text}"
        )
        if status == 409:
            detail = answer.json()["detail"]
            assert (detail["state"], detail["version"]) == (model.state, model.version), detail
            assert detail["allowed_events"] == model.allowed_events(actor), detail
        if status == 200:
            view = self.read()
            assert Seen(view["state"], view["version"]) == after
            apply(view)
            self.compare(view)
        else:
            assert after == Seen(model.state, model.version)

    def compare(self, view: dict[str, Any]) -> None:
        model = self.model
        assert model is not None
        assert (view["state"], view["version"]) == (model.state, model.version)
        assert view["allowed_events"] == model.allowed_events("triage")
        offers = [
            (o["provider"], o["answer"], o["handed_back_at"] is not None) for o in view["offers"]
        ]
        assert offers == [(o.provider, o.answer, o.handed_back) for o in model.offers]
        offered = model.open_offer()  # the provider holding it, or offered it now
        assert view["provider"] == (model.holder or (offered.provider if offered else None))
        assert view["closure_reason"] == model.closure_reason
        attempts = [a for a in view["contact_attempts"] if not a["made_contact"]]
        assert len(attempts) == len(model.attempts)
        if model.assessed:
            assessment = view["assessment"]
            assert assessment["consent"]["share_with_provider"] == model.consent
            # complete: no gaps, and the consent answer given where the crime needs one
            # (a refusal is an answer: it stops routing through the consent gate instead)
            answer_missing = model.consent_block() == "consent_required"
            assert assessment["complete"] == (not model.gaps() and not answer_missing)
        else:
            assert view["assessment"] is None

    def fire(self, actor: str, event: str, body: dict[str, Any]) -> None:
        model = self.model
        assert model is not None
        now = self.clock()
        expected = model.expect_event(actor, event, body, now)
        answer = self.callers[actor].post(f"/api/referrals/{self.rid}/events/{event}", body)
        self.check_answer(
            actor,
            event,
            answer,
            expected,
            lambda view: model.apply_event(actor, event, body, now, view),
        )

    # rules

    @initialize(crime_type=st.sampled_from(CRIME_TYPES))
    def create_referral(self, crime_type: str) -> None:
        self.start_referral(crime_type)

    @precondition(lambda self: self.model is not None and self.model.state == "closed")
    @rule(crime_type=st.sampled_from(CRIME_TYPES))
    def next_referral(self, crime_type: str) -> None:
        """Once the referral is closed (and has been tried a while), walk a new one."""
        self.closed[self.rid] = self.seen
        self.start_referral(crime_type)

    def start_referral(self, crime_type: str) -> None:
        body = referral_body(
            crime_type=crime_type, victim=victim(full_name=unique_name(), phone=None)
        )
        answer = self.triage.post("/api/referrals", body)
        assert answer.status_code == 201, answer.text
        created = answer.json()
        self.rid = created["id"]
        self.model = ReferralModel(crime_type=crime_type, received_at=self.clock())
        self.seen = Seen(created["state"], created["version"])
        self.replayed = None
        assert self.seen == Seen("received", 1)
        self.compare(created)

    @rule(
        actor=st.sampled_from(ACTORS),
        event=st.sampled_from((*EVENTS, UNKNOWN_EVENT)),
        data=st.data(),
    )
    def any_event(self, actor: str, event: str, data: st.DataObject) -> None:
        """Any event, by anyone, with any version and a body that may not fit."""
        assert self.model is not None
        body = {"version": draw_version(data, self.model.version)}
        body |= draw_event_fields(data, event, self.clock())
        self.fire(actor, event, body)

    @precondition(lambda self: self.model is not None and self.model.state != "closed")
    @rule(data=st.data())
    def progress(self, data: st.DataObject) -> None:
        """A step that fits the state, mostly forward, so the walks reach every state."""
        model = self.model
        assert model is not None
        choices = [(a, e) for a in ACTORS for e in model.allowed_events(a)]
        if model.state == "assessing" and ("triage", "route") not in choices:
            self.assess("triage", complete_assessment(data, model))
            return
        forward = [(a, e) for a, e in choices if e not in ("close", "log_contact_attempt")]
        pick = data.draw(st.integers(0, 7), label="0-5 forward, 6 not close, 7 any")
        uncontactable = False
        if model.state in ("received", "contacting") and pick in (3, 4, 5):
            # try and try again, then (now and then) give up: `uncontactable` and its guard
            uncontactable = pick == 5
            choices = [("triage", "close" if uncontactable else "log_contact_attempt")]
        elif forward and pick <= 5:
            choices = forward
        elif pick == 6:
            choices = [(a, e) for a, e in choices if e != "close"] or choices
        actor, event = data.draw(st.sampled_from(choices), label="actor, event")
        body = {"version": draw_version(data, model.version, fresh=True)}
        body |= draw_event_fields(data, event, self.clock(), valid=True)
        if event == "log_contact_attempt" and data.draw(st.booleans(), label="days ago"):
            ago = data.draw(st.integers(0, 3 * 24 * 60), label="at, minutes ago")
            body["at"] = (self.clock() - timedelta(minutes=ago)).isoformat()
        if event == "route":
            declined = model.declined_providers()
            fresh = [p for p in WORKER_PROVIDERS if p not in declined] or list(WORKER_PROVIDERS)
            body["provider"] = data.draw(st.sampled_from(fresh), label="provider")
            if data.draw(st.integers(0, 2), label="leave it to the rules") == 0:
                del body["provider"]
        if event == "close":
            allowed = CLOSURE_IN_SUPPORT if model.state == "in_support" else CLOSURE_BEFORE_SUPPORT
            body["reason"] = data.draw(st.sampled_from(sorted(allowed)), label="reason")
            if uncontactable:
                body["reason"] = "uncontactable"
            body.pop("outcomes", None)
            if body["reason"] == "support_completed":
                body["outcomes"] = {"better_able_to_cope": True}
        self.fire(actor, event, body)

    @rule(actor=st.sampled_from(PUT_ACTORS), data=st.data())
    def put_assessment(self, actor: str, data: st.DataObject) -> None:
        """Record the assessment: complete or not, consent given, refused or left out."""
        assert self.model is not None
        self.assess(actor, draw_assessment(data, draw_version(data, self.model.version)))

    def assess(self, actor: str, body: dict[str, Any]) -> None:
        model = self.model
        assert model is not None
        expected = model.expect_assessment(actor, body)
        answer = self.callers[actor].put(f"/api/referrals/{self.rid}/assessment", body)
        self.check_answer(
            actor,
            "assessment",
            answer,
            expected,
            lambda _: model.apply_assessment(body),
        )

    @rule(actor=st.sampled_from(PUT_ACTORS), share=st.booleans(), data=st.data())
    def put_consent(self, actor: str, share: bool, data: st.DataObject) -> None:
        """Give or withdraw consent to share (sometimes without saying how)."""
        model = self.model
        assert model is not None
        body: dict[str, Any] = {
            "version": draw_version(data, model.version),
            "share_with_provider": share,
        }
        method = data.draw(st.sampled_from((None, *CONSENT_METHODS)), label="method")
        if method is not None or data.draw(st.booleans(), label="method: null"):
            body["method"] = method
        expected = model.expect_consent(actor, body)
        answer = self.callers[actor].put(f"/api/referrals/{self.rid}/consent", body)
        self.check_answer(actor, "consent", answer, expected, lambda _: model.apply_consent(body))

    @rule(provider=st.sampled_from(WORKER_PROVIDERS))
    def provider_reads(self, provider: str) -> None:
        """A provider sees the referral only while offered or holding it (and the victim
        only while holding it); reading changes nothing."""
        model = self.model
        assert model is not None
        answer = self.callers[provider].get(f"/api/referrals/{self.rid}")
        assert answer.status_code == (200 if model.visible_to(provider) else 404), answer.text
        if answer.status_code == 200:
            view = answer.json()
            assert view["victim_restricted"] is (model.holder != provider)
            assert (view["victim"] is None) is (model.holder != provider)
            assert view["allowed_events"] == model.allowed_events(provider)
            assert {o["provider"] for o in view["offers"]} <= {provider}
        history = self.callers[provider].get(f"/api/referrals/{self.rid}/history")
        assert history.status_code == answer.status_code, history.text
        assert self.stored() == self.seen

    @rule(hours=st.integers(1, 30))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(hours=hours)

    def teardown(self) -> None:
        """The timeline replays at the end; referrals closed earlier are as they were closed."""
        if self.model is not None:
            self.check_timeline()
        for rid, seen in self.closed.items():
            view = self.triage.get(f"/api/referrals/{rid}").json()
            assert Seen(view["state"], view["version"]) == seen, f"closed {rid} changed"

    # invariants

    @invariant()
    def timeline_replays(self) -> None:
        """After every change (a refused request changes nothing, so its timeline is the one
        replayed before it: the next replay, or the one at teardown, would show otherwise)."""
        if self.model is not None and self.replayed != self.seen:
            self.check_timeline()

    def check_timeline(self) -> None:
        answer = self.triage.get(f"/api/referrals/{self.rid}/history")
        assert answer.status_code == 200, answer.text
        events = answer.json()["events"]
        transitions = [
            e for e in events if e["from_state"] != e["to_state"] or e["action"] == "create"
        ]
        assert transitions, "no create event"
        first, *rest = transitions
        assert (first["action"], first["from_state"], first["to_state"]) == (
            "create",
            None,
            "received",
        )
        previous = first["to_state"]
        for entry in rest:
            edge = (entry["from_state"], entry["action"], entry["to_state"])
            assert entry["from_state"] == previous, f"timeline breaks at {edge}"
            assert edge in FLOW_EDGES, f"timeline has an edge the flow does not: {edge}"
            previous = entry["to_state"]
        assert previous == self.seen.state, "the timeline does not end in the current state"
        changes = [e["version"] for e in events if e["action"] in CHANGE_ACTIONS]
        assert changes == list(range(1, self.seen.version + 1)), (
            f"change events carry versions {changes}, referral is at {self.seen.version}"
        )
        versions = [e["version"] for e in events if e["version"] is not None]
        assert versions == sorted(versions), f"the timeline's versions go down: {versions}"
        assert versions[-1] <= self.seen.version, versions
        self.replayed = self.seen


# --- the tests --------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens outlive the machine's clock, which moves forward by hours at a time."""
    return Settings(database_url=database_url, token_hours=24 * 365 * 200, scheduler=False)


def run_machine(
    sign_in: Callable[..., Api],
    clock: FakeClock,
    session_factory: sessionmaker[Session],
    **options: Any,
) -> None:
    callers = {"triage": sign_in("triage")}
    callers |= {code: sign_in("provider", provider=code) for code in WORKER_PROVIDERS}
    run_state_machine_as_test(
        lambda: LifecycleMachine(callers, clock, session_factory),
        settings=hypothesis_settings(
            deadline=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.function_scoped_fixture,
                HealthCheck.data_too_large,
            ],
            **options,
        ),
    )


def test_lifecycle_random_walks(
    sign_in: Callable[..., Api], clock: FakeClock, session_factory: sessionmaker[Session]
) -> None:
    run_machine(sign_in, clock, session_factory, max_examples=25, stateful_step_count=30)


@pytest.mark.slow
def test_lifecycle_random_walks_long(
    sign_in: Callable[..., Api], clock: FakeClock, session_factory: sessionmaker[Session]
) -> None:
    run_machine(sign_in, clock, session_factory, max_examples=200, stateful_step_count=50)


# --- a bug the walks led to -------------------------------------------------------------


@pytest.mark.parametrize("crime_type", ["burglary", "sexual_offence"])
def test_refusing_consent_in_the_assessment_withdraws_the_open_offer(
    triage: Api, sign_in: Callable[..., Api], crime_type: str
) -> None:
    """DESIGN 7: withdrawing consent while an offer is open withdraws the offer and the
    referral goes back to assessing, whichever PUT carries the refusal."""
    provider = sign_in("provider", provider="core-general")
    ref = triage.create(crime_type=crime_type)
    rid = ref["id"]
    ref = triage.event(rid, "contact_made", ref["version"], channel="phone").json()
    ref = triage.assess(rid, ref["version"]).json()
    ref = triage.event(rid, "route", ref["version"], provider="core-general").json()
    assert ref["state"] == "awaiting_provider"

    answer = triage.assess(rid, ref["version"], consent={"share_with_provider": False})

    assert answer.status_code == 200, answer.text
    ref = answer.json()
    assert ref["state"] == "assessing"
    assert [o["answer"] for o in ref["offers"]] == ["withdrawn"]
    assert provider.get(f"/api/referrals/{rid}").status_code == 404
    assert provider.event(rid, "accept", ref["version"]).status_code == 404
