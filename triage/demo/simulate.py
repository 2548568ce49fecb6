"""One referral's synthetic history, event by event, as the service would have recorded it.

`Simulation` walks a referral through the lifecycle of DESIGN 3 (contact attempts, contact,
assessment with consent, routing offers by the area's rules, answers, hand-backs, closure
with its coded reason) and answers every row the service writes on the way: the referral,
its audit events (same actions and detail keys), contact attempts, the assessment, offers,
routing decisions and the current Victims' Code check lines. Each event happens at a time
drawn after the one before; the first that would fall after `now` is not reached, so recent
referrals stay open where they are. The routing decisions, the Victims' Code evaluation and
the inputs both read are the service's own (`triage.referrals.inputs`).
"""

import bisect
import random
import uuid
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from triage.assessment.answers import Answers
from triage.assessment.rules import risk_level
from triage.caller import SYSTEM, Caller
from triage.demo import draws
from triage.demo.rows import (
    AssessmentRow,
    Case,
    ContactAttemptRow,
    RoutingDecisionRow,
    SimulatedOffer,
)
from triage.demo.world import Person, World, phone
from triage.lifecycle.codes import RISK_ASSESSED_CRIMES, VULNERABILITY_FLAGS
from triage.referrals.inputs import routing_input, vcop_facts
from triage.referrals.people import age_on
from triage.routing.engine import Decision, RoutingInput
from triage.vcop.rights import VcopFacts, enhanced_reasons


class _Stop(Exception):
    """The next event would happen after `now`: the history ends where it is."""


class Victim(NamedTuple):
    person: Person
    phone: str
    phone_key: str
    has_email: bool


class Closure(NamedTuple):
    reason: str
    outcomes: dict[str, bool] | None
    at: datetime


class Simulation:
    """A referral from intake to wherever its drawn history ends, at `at` (the simulated
    time so far); the intake facts are drawn first, as the referral arrives."""

    def __init__(self, world: World, rng: random.Random, number: int) -> None:
        self.world, self.rng, self.case = world, rng, Case()
        # The number in the top 48 bits, random below: a bulk load appends to the indexes
        # on referral ids instead of writing all over them once they outgrow memory.
        self.referral_id = uuid.UUID(int=(number << 80) | rng.getrandbits(80), version=4)
        self.state, self.version = "received", 1
        self.attempt_days: list[date] = []
        self.contacted_at: datetime | None = None
        self.unsafe = False
        self.answers: Answers | None = None
        self.open_offer: SimulatedOffer | None = None
        self.excluded: dict[str, str] = {}
        self.holder: str | None = None
        self.closure: Closure | None = None
        self.returned_at: datetime | None = None
        self.routing_shape: RoutingInput | None = None
        self.last: tuple[str, Caller] = ("create", world.intake)
        self.received_at = self.updated_at = self.at = world.received_at(rng)
        self.number = number
        crime = draws.CRIME_TYPES[
            bisect.bisect(draws.CRIME_WEIGHTS_SUMMED, rng.random() * draws.CRIME_WEIGHTS_SUMMED[-1])
        ]
        self.crime_type = crime
        self.source = rng.choice(draws.SOURCES)
        strands = rng.choices(
            draws.HATE_STRANDS,
            cum_weights=draws.HATE_STRAND_WEIGHTS_SUMMED,
            k=rng.choice((1, 1, 2)),
        )
        self.hate_strands = sorted(set(strands)) if rng.random() < 0.08 else []
        self.area = rng.choice(world.areas)
        self.reported_at = self._reported_at()
        day = (self.reported_at or self.received_at).astimezone(world.calendar.zone).date()
        self.born_on = self._born_on(day)
        self.age = age_on(self.born_on, day)
        self.edition = world.edition_on(day)
        self.enhanced_reasons = enhanced_reasons(self.edition, self.vcop_facts())
        person = world.people[rng.randrange(len(world.people))]
        phone_text, phone_digits = phone(rng.randrange(1000))
        self.external_ref = f"DEMO-{number:08d}"
        self.victim = Victim(person, phone_text, phone_digits, rng.random() < 0.5)
        self.case.events.append(  # the service writes this first
            {"action": "create", "at": self.received_at, "from_state": None,
             "to_state": "received", "version": 1, "actor": world.intake,
             "detail": {"source": self.source, "external_ref": self.external_ref,
                        "crime_type": crime, "area": self.area,
                        "hate_strands": list(self.hate_strands),
                        "vcop_edition": self.edition.edition,
                        "enhanced": bool(self.enhanced_reasons),
                        "enhanced_reasons": list(self.enhanced_reasons)}}
        )  # fmt: skip

    def _reported_at(self) -> datetime | None:
        """Police referrals follow the report within days; others were reported earlier, if
        at all."""
        rng = self.rng
        if self.source == "police" or rng.random() < 0.6:
            lag = rng.uniform(2, 120) if self.source == "police" else rng.uniform(24, 720)
            return self.received_at - timedelta(hours=lag)
        return None

    def _born_on(self, day: date) -> date:
        rng = self.rng
        youngest, oldest, _ = rng.choices(
            draws.AGE_BANDS, cum_weights=draws.AGE_BAND_WEIGHTS_SUMMED
        )[0]
        if self.crime_type == "child_sexual_exploitation":
            youngest, oldest = 12, 17
        elif self.crime_type == "domestic_abuse":
            youngest = max(youngest, 16)
        years = rng.randint(youngest, max(youngest, oldest))
        return date(day.year - years, 1, 1) + timedelta(days=rng.randrange(365))

    # time and events -------------------------------------------------------------------
    def wait(self, hours: float) -> datetime:
        at = self.at + timedelta(hours=hours)
        if at > self.world.now:
            raise _Stop
        self.at = at
        return at

    def event(self, action: str, actor: Caller, to: str, detail: dict[str, Any]) -> None:
        self.version += 1
        self.case.events.append(
            {"action": action, "at": self.at, "from_state": self.state, "to_state": to,
             "version": self.version, "detail": detail, "actor": actor}
        )  # fmt: skip
        self.state, self.updated_at, self.last = to, self.at, (action, actor)

    def close(self, reason: str, actor: Caller, outcomes: dict[str, bool] | None = None) -> None:
        detail: dict[str, Any] = {"reason": reason}
        if outcomes:
            detail["outcomes"] = outcomes
        if self.open_offer is not None:
            self.answer("withdrawn", actor, "referral_closed")
        self.unsafe = self.unsafe or reason == "unsafe_to_contact"
        self.closure = Closure(reason, outcomes, self.at)
        self.returned_at = None
        self.event("close", actor, "closed", detail)

    def answer(
        self, answer: str, actor: Caller, reason: str | None, note: str | None = None
    ) -> None:
        offer = self.open_offer
        if offer is None:
            raise RuntimeError(f"{answer} with no open offer")
        offer.answer, offer.answered_at, offer.answered_by = answer, self.at, actor.user_id
        offer.reason, offer.note = reason, note
        self.open_offer = None

    # the lifecycle ---------------------------------------------------------------------
    def run(self) -> None:
        rng, triage = self.rng, self.world.triage
        try:
            roll = rng.random()
            if roll < 0.035:
                self.wait(rng.uniform(0.2, 30))
                return self.close("duplicate", triage)
            if roll < 0.045:
                self.wait(rng.uniform(0.2, 30))
                return self.close("out_of_area", triage)
            if not self.contact():
                return
            self.assessing()
        except _Stop:
            return

    def contact(self) -> bool:
        rng, triage = self.rng, self.world.triage
        reachable = rng.random() < 0.8
        failures = min(int(rng.expovariate(0.9)), 6) if reachable else 3 + int(rng.random() * 3)
        channel = "phone"
        made = 0
        while True:
            self.wait(rng.uniform(0.5, 8) if made == 0 else rng.uniform(3, 30))
            if made >= failures and (reachable or len(set(self.attempt_days)) >= 2):
                break
            made += 1
            outcome = "unsafe" if rng.random() < 0.012 else rng.choice(draws.ATTEMPT_OUTCOMES)
            channel = "sms" if outcome == "message_sent" else "phone"
            self.attempt(channel, outcome)
            if outcome == "unsafe":
                self.wait(rng.uniform(0.1, 4))
                self.close("unsafe_to_contact", triage)
                return False
        if not reachable:
            self.close("uncontactable", triage)
            return False
        self.attempt(channel, None)
        return True

    def attempt(self, channel: str, outcome: str | None) -> None:
        triage = self.world.triage
        made = outcome is None
        self.case.attempts.append(
            ContactAttemptRow(self.referral_id, self.at, channel, outcome, made, triage.user_id)
        )
        if made:
            self.contacted_at = self.at
            self.event("contact_made", triage, "assessing", {"channel": channel})
            return
        local = self.at.astimezone(self.world.calendar.zone).date()
        self.attempt_days.append(local)
        self.unsafe = self.unsafe or outcome == "unsafe"
        detail = {"channel": channel, "outcome": outcome}
        self.event("log_contact_attempt", triage, "contacting", detail)

    def assessing(self) -> None:
        rng, triage = self.rng, self.world.triage
        roll = rng.random()
        self.wait(rng.uniform(0.1, 30))
        if roll < 0.1:
            return self.close("victim_declined", triage)
        if roll < 0.13:
            return self.close("information_only", triage)
        consent = self.assess().consent_to_share
        roll = rng.random()
        self.wait(rng.uniform(0.2, 48))
        if consent is False or (self.consent_required and consent is not True):
            return self.close("victim_declined", triage)
        if roll < 0.14:
            return self.close("information_only", triage)
        if roll < 0.2:
            return self.close("victim_declined", triage)
        if roll < 0.205:
            return self.close("not_eligible", triage)
        for _ in range(2):  # a hand-back comes back to the unit, routed once more at most
            if not self.route():
                return self.close(rng.choice(["information_only", "victim_declined"]), triage)
            if self.state == "closed" or self.support():
                return
            self.wait(rng.uniform(1, 72))
        self.close("information_only", triage)

    def route(self) -> bool:
        rng, triage, world = self.rng, self.world.triage, self.world
        decision = world.decide(self.routing_input(), self.excluded)
        if decision.first is None:
            return False
        self.offer_next("route", triage, decision)
        while self.state == "awaiting_provider" and self.open_offer is not None:
            code = self.open_offer.provider_code
            hours = world.respond_hours[code]
            roll = rng.random()
            if roll < 0.7:
                self.wait(rng.uniform(0.3, hours * 0.9))
                actor = world.providers[code]
                self.answer("accepted", actor, None)
                self.holder = code
                self.event("accept", actor, "in_support", {})
            elif roll < 0.9:
                self.wait(rng.uniform(0.3, hours * 0.9))
                reason = rng.choice(draws.DECLINE_REASONS)
                note = "synthetic demo note" if reason == "other" else None
                self.move_on("decline", world.providers[code], code, reason, note)
            elif roll < 0.985:
                self.at = self.open_offer.respond_by - timedelta(seconds=1)
                self.wait(rng.uniform(0.001, 0.0166))
                self.move_on("expire", SYSTEM, code, "no_response", None)
            else:
                self.wait(rng.uniform(1, 24))
                self.close("withdrawn", triage)
        return self.state != "assessing"

    def move_on(self, action: str, actor: Caller, code: str, reason: str, note: str | None) -> None:
        why = "already_declined" if action == "decline" else "expired"
        decision = self.world.decide(self.routing_input(), {**self.excluded, code: why})
        self.answer("declined" if action == "decline" else "expired", actor, reason, note)
        self.excluded[code] = why
        fields: dict[str, Any] = {}
        if action == "decline":
            fields = {"reason": reason, **({"note": note} if note else {})}
        self.offer_next(action, actor, decision, fields)

    def offer_next(
        self, action: str, actor: Caller, decision: Decision, fields: dict[str, Any] | None = None
    ) -> None:
        chosen = decision.first
        matched, candidates, skipped = self.world.decision_values(decision)
        self.case.decisions.append(
            RoutingDecisionRow(
                self.referral_id, self.at, actor.user_id, action, decision.rule_set_version,
                decision.rule_set_hash, matched, candidates, skipped, chosen, False, chosen,
                None if chosen else decision.no_route_reason,
            )
        )  # fmt: skip
        detail = dict(fields or {})
        if chosen is None:
            detail.update(offered_to=None, no_route_reason=decision.no_route_reason)
            self.returned_at = self.at  # declined or expired with nobody left
            return self.event(action, actor, "assessing", detail)
        self.returned_at = None
        self.open_offer = SimulatedOffer(
            referral_id=self.referral_id,
            provider_id=self.world.provider_ids[chosen],
            provider_code=chosen,
            offered_at=self.at,
            offered_by=actor.user_id,
            respond_by=self.at + timedelta(hours=self.world.respond_hours[chosen]),
            rule_set_hash=decision.rule_set_hash,
        )
        self.case.offers.append(self.open_offer)
        rule = decision.candidates[0].rule
        detail.update(offered_to=chosen, by_hand=False, rule=rule, rules_would_choose=chosen)
        self.event(action, actor, "awaiting_provider", detail)

    def support(self) -> bool:
        """In support until closed (True) or handed back to the unit (False)."""
        rng, code = self.rng, self.holder
        if code is None:
            raise RuntimeError("support without a provider holding the case")
        actor = self.world.providers[code]
        self.wait(rng.uniform(24 * 10, 24 * 140))
        roll = rng.random()
        if roll < 0.03:
            reason = rng.choice(draws.HAND_BACK_REASONS)
            note = "synthetic demo note" if reason == "other" else None
            held = self.case.offers[-1]
            held.handed_back_at, held.hand_back_reason, held.hand_back_note = self.at, reason, note
            self.excluded[code] = "handed_back"
            self.holder = None
            self.returned_at = self.at
            detail = {"reason": reason, **({"note": note} if note else {})}
            self.event("hand_back", actor, "assessing", detail)
            return False
        if roll < 0.75:
            outcomes = {outcome: rng.random() < odds for outcome, odds in draws.OUTCOME_ODDS}
            outcomes["better_informed"] = outcomes["better_informed"] or not any(outcomes.values())
            self.close("support_completed", actor, outcomes)
        else:
            self.close(rng.choice(["disengaged"] * 3 + ["withdrawn", "moved_away"]), actor)
        return True

    # the assessment ----------------------------------------------------------------------
    @property
    def consent_required(self) -> bool:
        bereaved = bool(self.answers and self.answers.flag("bereaved"))
        return self.edition.needs_explicit_consent(self.crime_type, bereaved=bereaved)

    def assess(self) -> Answers:
        rng, triage, crime = self.rng, self.world.triage, self.crime_type
        needs = sorted(rng.sample(draws.NEEDS, rng.choice((0, 1, 2, 2, 3, 4))))
        dash = judgement = None
        if crime in RISK_ASSESSED_CRIMES:
            dash = min(24, int(rng.triangular(0, 24, 6)))
            judgement = "high" if rng.random() < 0.04 else None
        level = risk_level(dash, judgement)
        flags = {
            flag: rng.random() < odds
            for flag, odds in zip(VULNERABILITY_FLAGS, draws.VULNERABILITY_ODDS, strict=True)
        }
        flags["bereaved"] = flags["bereaved"] or crime == "homicide_bereavement"
        required = self.edition.needs_explicit_consent(crime, bereaved=flags["bereaved"])
        roll = rng.random()
        if required:
            share = True if roll < 0.82 else False if roll < 0.94 else None
        else:
            share = True if roll < 0.7 else None if roll < 0.93 else False
        method = rng.choice(draws.CONSENT_METHODS) if share is not None else None
        restorative = rng.random() < 0.04
        care_leaver = bool(self.age and 18 <= self.age <= 25 and rng.random() < 0.05)
        answers = self.answers = Answers(
            needs=tuple(needs),
            dash_score=dash,
            professional_judgement=judgement,
            risk_level=level.value if level else None,
            vulnerability=flags,
            consent_to_share=share,
            consent_method=method,
            restorative_justice_interest=restorative,
            care_leaver=care_leaver,
        )
        recorded = share is not None
        self.case.assessment = AssessmentRow(
            self.referral_id, needs, dash, judgement, answers.risk_level,
            flags["mental_disorder"], flags["impaired_intelligence"],
            flags["physical_disability"], flags["intimidated"], flags["persistently_targeted"],
            flags["bereaved"], restorative, care_leaver, share, method,
            triage.user_id if recorded else None, self.at if recorded else None,
            triage.user_id, self.at,
        )  # fmt: skip
        self.event("assessment", triage, "assessing", {"before": None, "after": answers.snapshot()})
        before = self.enhanced_reasons
        self.enhanced_reasons = enhanced_reasons(self.edition, self.vcop_facts())
        self.case.events.append(
            {"action": "vcop_enhanced", "at": self.at, "from_state": None, "to_state": None,
             "version": self.version, "actor": triage,
             "detail": {"edition": self.edition.edition, "enhanced": bool(self.enhanced_reasons),
                        "enhanced_reasons": list(self.enhanced_reasons),
                        "before": {"enhanced": bool(before), "enhanced_reasons": list(before)}}}
        )  # fmt: skip
        self.routing_shape = routing_input(
            crime_type=crime,
            area=self.area,
            age=self.age,
            hate_strands=self.hate_strands,
            answers=answers,
        )
        return answers

    def routing_input(self) -> RoutingInput:
        if self.routing_shape is None:
            raise RuntimeError("routed before it was assessed")
        return self.routing_shape

    def vcop_facts(self) -> VcopFacts:
        offers = self.case.offers
        accepted = [o.answered_at for o in offers if o.answer == "accepted" and o.answered_at]
        return vcop_facts(
            crime_type=self.crime_type,
            received_at=self.received_at,
            crime_reported_at=self.reported_at,
            hate_crime=bool(self.hate_strands),
            age=self.age,
            answers=self.answers,
            consent_required=self.consent_required,
            contact_made_at=self.contacted_at,
            routed_at=offers[0].offered_at if offers else None,
            accepted_at=min(accepted, default=None),
            unsafe_to_contact=self.unsafe,
        )
