"""One referral's synthetic history, event by event, as the service would have recorded it.

`simulate` walks a referral through the lifecycle of DESIGN 3 (contact attempts, contact,
assessment with consent, routing offers by the area's rules, answers, hand-backs, closure
with its coded reason) and answers every row the service writes on the way: the referral,
its audit events (same actions and detail keys), contact attempts, the assessment, offers,
routing decisions and the current Victims' Code check lines. Each event happens at a time
drawn after the one before; the first that would fall after `now` is not reached, so recent
referrals stay open where they are. Rows are tuples in the column order of `tables.COLUMNS`.
"""

import bisect
import random
import uuid
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any

from triage.assessment.rules import risk_level
from triage.demo.world import SYSTEM, Actor, World, phone
from triage.lifecycle.codes import VULNERABILITY_FLAGS, CrimeType, HateStrand, Need
from triage.referrals.people import age_on
from triage.routing.engine import Decision, RoutingInput
from triage.vcop.editions import edition_in_force
from triage.vcop.rights import VcopFacts, enhanced_reasons

CRIMES = [
    (CrimeType.violence, 22), (CrimeType.domestic_abuse, 18), (CrimeType.theft, 12),
    (CrimeType.burglary, 9), (CrimeType.criminal_damage, 8), (CrimeType.harassment_stalking, 8),
    (CrimeType.sexual_offence, 6), (CrimeType.fraud, 5), (CrimeType.robbery, 4),
    (CrimeType.public_order, 4), (CrimeType.child_sexual_exploitation, 1), (CrimeType.other, 3),
    (CrimeType.gbh_with_intent, 1), (CrimeType.homicide_bereavement, 0.2),
    (CrimeType.modern_slavery, 0.2), (CrimeType.kidnap_false_imprisonment, 0.2),
]  # fmt: skip
CRIME_NAMES = [c.value for c, _ in CRIMES]
CRIME_CUM = [sum(w for _, w in CRIMES[: i + 1]) for i in range(len(CRIMES))]
SOURCES = ["police"] * 41 + ["self_referral"] * 4 + ["partner_agency"] * 4 + ["other"]
STRANDS = [s.value for s in HateStrand]
STRAND_WEIGHTS = [50, 15, 14, 12, 5, 4]
AGES = [(12, 15, 4), (16, 17, 4), (18, 24, 15), (25, 34, 22), (35, 49, 26), (50, 64, 18),
        (65, 90, 11)]  # fmt: skip
# Cumulative weights, as `choices` makes them from the weights each call (the same draws).
STRAND_CUM = list(accumulate(STRAND_WEIGHTS))
AGE_CUM = list(accumulate(a[2] for a in AGES))
NEEDS = [n.value for n in Need]
DECLINE_REASONS = ["no_capacity"] * 7 + ["not_eligible_for_service"] * 4 + [
    "victim_declined_provider"] * 5 + ["outside_area", "unsafe_to_contact",
    "duplicate_of_open_case", "other"]  # fmt: skip
HAND_BACK_REASONS = ["victim_declined_provider"] * 3 + ["not_eligible_for_service", "other"]
ATTEMPT_OUTCOMES = ["no_answer"] * 11 + ["voicemail_left"] * 6 + ["message_sent"] * 2 + [
    "wrong_number"]  # fmt: skip
OUTCOMES = ("better_able_to_cope", "feel_safer", "better_informed", "satisfied")
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class _Stop(Exception):
    """The next event would happen after `now`: the history ends where it is."""


def reference(number: int, year: int) -> str:
    """`VR-26-…`: eight characters from a bijection of the number, so never two alike."""
    code = (number * 0x9E3779B97F + 0x5DEECE66D) % (1 << 40)
    chars = "".join(REFERENCE_ALPHABET[(code >> (5 * i)) & 31] for i in range(8))
    return f"VR-{year % 100:02d}-{chars}"


class Case:
    """One referral's rows (the audit events also as dicts for the facts fold)."""

    __slots__ = ("referral", "events", "attempts", "assessment", "offers", "decisions", "checks")

    def __init__(self) -> None:
        self.referral: tuple = ()
        self.events: list[dict[str, Any]] = []
        self.attempts: list[tuple] = []
        self.assessment: tuple | None = None
        self.offers: list[list[Any]] = []
        self.decisions: list[tuple] = []
        self.checks: list[tuple] = []


class Sim:
    def __init__(self, world: World, rng: random.Random, number: int) -> None:
        self.w, self.rng, self.case = world, rng, Case()
        # The number in the top 48 bits, random below: a bulk load appends to the indexes
        # on referral ids instead of writing all over them once they outgrow memory.
        self.id = uuid.UUID(int=(number << 80) | rng.getrandbits(80), version=4)
        self.state, self.version = "received", 1
        self.attempt_days: list = []
        self.contact_at: datetime | None = None
        self.unsafe = False
        self.assessed: dict[str, Any] | None = None
        self.offer: list[Any] | None = None  # the open offer's row
        self.excluded: dict[str, str] = {}
        self.holder: str | None = None
        self.closure: tuple[str, dict | None, datetime] | None = None
        self.routing: RoutingInput | None = None
        self.last: tuple[str, Actor] = ("create", world.intake)
        self.received = self.updated_at = self.t = world.received_at(rng)
        self.number = number

    # time and events -------------------------------------------------------------------
    def wait(self, hours: float) -> datetime:
        t = self.t + timedelta(hours=hours)
        if t > self.w.now:
            raise _Stop
        self.t = t
        return t

    def event(self, action: str, actor: Actor, to: str, detail: dict[str, Any]) -> None:
        self.version += 1
        self.case.events.append(
            {"action": action, "at": self.t, "from_state": self.state, "to_state": to,
             "version": self.version, "detail": detail, "actor": actor}
        )  # fmt: skip
        self.state, self.updated_at, self.last = to, self.t, (action, actor)

    def close(self, reason: str, actor: Actor, outcomes: dict[str, bool] | None = None) -> None:
        detail: dict[str, Any] = {"reason": reason}
        if outcomes:
            detail["outcomes"] = outcomes
        if self.offer is not None:
            self.answer("withdrawn", actor, "referral_closed")
        self.unsafe = self.unsafe or reason == "unsafe_to_contact"
        self.closure = (reason, outcomes, self.t)
        self.event("close", actor, "closed", detail)

    def answer(self, answer: str, actor: Actor, reason: str | None, note: str | None = None):
        offer = self.offer
        assert offer is not None
        offer[5:10] = [answer, self.t, actor.id, reason, note]
        self.offer = None

    # the lifecycle ---------------------------------------------------------------------
    def run(self) -> None:
        rng, triage = self.rng, self.w.triage
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
        rng, triage = self.rng, self.w.triage
        reachable = rng.random() < 0.8
        failures = min(int(rng.expovariate(0.9)), 6) if reachable else 3 + int(rng.random() * 3)
        channel = "phone"
        made = 0
        while True:
            self.wait(rng.uniform(0.5, 8) if made == 0 else rng.uniform(3, 30))
            if made >= failures and (reachable or len(set(self.attempt_days)) >= 2):
                break
            made += 1
            outcome = "unsafe" if rng.random() < 0.012 else rng.choice(ATTEMPT_OUTCOMES)
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
        triage = self.w.triage
        made = outcome is None
        self.case.attempts.append((self.id, self.t, channel, outcome, made, triage.id))
        if made:
            self.contact_at = self.t
            self.event("contact_made", triage, "assessing", {"channel": channel})
            return
        local = self.t.astimezone(self.w.calendar.zone).date()
        self.attempt_days.append(local)
        self.unsafe = self.unsafe or outcome == "unsafe"
        detail = {"channel": channel, "outcome": outcome}
        self.event("log_contact_attempt", triage, "contacting", detail)

    def assessing(self) -> None:
        rng, triage = self.rng, self.w.triage
        roll = rng.random()
        self.wait(rng.uniform(0.1, 30))
        if roll < 0.1:
            return self.close("victim_declined", triage)
        if roll < 0.13:
            return self.close("information_only", triage)
        self.assess()
        consent = self.assessed["consent_to_share"]  # type: ignore[index]
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
        rng, triage = self.rng, self.w.triage
        decision = self.w.decide(self.routing_input(), self.excluded)
        if decision.first is None:
            return False
        self.offer_next("route", triage, decision)
        while self.state == "awaiting_provider":
            code = self.offer[14]  # type: ignore[index]
            hours = self.w.respond_hours[code]
            roll = rng.random()
            if roll < 0.7:
                self.wait(rng.uniform(0.3, hours * 0.9))
                actor = self.w.providers[code]
                self.answer("accepted", actor, None)
                self.holder = code
                self.event("accept", actor, "in_support", {})
            elif roll < 0.9:
                self.wait(rng.uniform(0.3, hours * 0.9))
                reason = rng.choice(DECLINE_REASONS)
                note = "synthetic demo note" if reason == "other" else None
                self.move_on("decline", self.w.providers[code], code, reason, note)
            elif roll < 0.985:
                self.t = self.offer[4] - timedelta(seconds=1)  # type: ignore[index]
                self.wait(rng.uniform(0.001, 0.0166))
                self.move_on("expire", SYSTEM, code, "no_response", None)
            else:
                self.wait(rng.uniform(1, 24))
                self.close("withdrawn", triage)
        return self.state != "assessing"

    def move_on(self, action: str, actor: Actor, code: str, reason: str, note: str | None):
        why = "already_declined" if action == "decline" else "expired"
        decision = self.w.decide(self.routing_input(), {**self.excluded, code: why})
        self.answer("declined" if action == "decline" else "expired", actor, reason, note)
        self.excluded[code] = why
        fields: dict[str, Any] = {}
        if action == "decline":
            fields = {"reason": reason, **({"note": note} if note else {})}
        self.offer_next(action, actor, decision, fields)

    def offer_next(
        self, action: str, actor: Actor, decision: Decision, fields: dict | None = None
    ) -> None:
        chosen = decision.first
        matched, candidates, skipped = self.w.decision_values(decision)
        self.case.decisions.append(
            (self.id, self.t, actor.id, action, decision.rule_set_version,
             decision.rule_set_hash, matched, candidates, skipped,
             chosen, False, chosen, None if chosen else decision.no_route_reason)
        )  # fmt: skip
        detail = dict(fields or {})
        if chosen is None:
            detail.update(offered_to=None, no_route_reason=decision.no_route_reason)
            return self.event(action, actor, "assessing", detail)
        respond_by = self.t + timedelta(hours=self.w.respond_hours[chosen])
        # The offers row (columns of tables.COLUMNS["offers"]), then the provider's code.
        self.offer = [self.id, self.w.provider_ids[chosen], self.t, actor.id, respond_by,
                      None, None, None, None, None, decision.rule_set_hash, None, None, None,
                      chosen]  # fmt: skip
        self.case.offers.append(self.offer)
        rule = decision.candidates[0].rule
        detail.update(offered_to=chosen, by_hand=False, rule=rule, rules_would_choose=chosen)
        self.event(action, actor, "awaiting_provider", detail)

    def support(self) -> bool:
        """In support until closed (True) or handed back to the unit (False)."""
        rng, code = self.rng, self.holder
        assert code is not None
        actor = self.w.providers[code]
        self.wait(rng.uniform(24 * 10, 24 * 140))
        roll = rng.random()
        if roll < 0.03:
            reason = rng.choice(HAND_BACK_REASONS)
            note = "synthetic demo note" if reason == "other" else None
            held = self.case.offers[-1]
            held[11:14] = [self.t, reason, note]
            self.excluded[code] = "handed_back"
            self.holder = None
            detail = {"reason": reason, **({"note": note} if note else {})}
            self.event("hand_back", actor, "assessing", detail)
            return False
        if roll < 0.75:
            outcomes = {
                o: rng.random() < p for o, p in zip(OUTCOMES, (0.8, 0.7, 0.85, 0.9), strict=True)
            }
            outcomes["better_informed"] = outcomes["better_informed"] or not any(outcomes.values())
            self.close("support_completed", actor, outcomes)
        else:
            self.close(rng.choice(["disengaged"] * 3 + ["withdrawn", "moved_away"]), actor)
        return True

    # intake and assessment ---------------------------------------------------------------
    def create(self, number: int) -> None:
        rng, w = self.rng, self.w
        self.crime = crime = CRIME_NAMES[bisect.bisect(CRIME_CUM, rng.random() * CRIME_CUM[-1])]
        self.source = source = rng.choice(SOURCES)
        k = rng.choice((1, 1, 2))
        self.strands = sorted(set(rng.choices(STRANDS, cum_weights=STRAND_CUM, k=k)))
        if rng.random() >= 0.08:
            self.strands = []
        self.area = rng.choice(w.areas)
        received = self.t
        if source == "police" or rng.random() < 0.6:
            lag = rng.uniform(2, 120) if source == "police" else rng.uniform(24, 720)
            self.reported: datetime | None = received - timedelta(hours=lag)
        else:
            self.reported = None
        day = (self.reported or received).astimezone(w.calendar.zone).date()
        low, high, _ = rng.choices(AGES, cum_weights=AGE_CUM)[0]
        if crime == "child_sexual_exploitation":
            low, high = 12, 17
        elif crime == "domestic_abuse":
            low = max(low, 16)
        years = rng.randint(low, max(low, high))
        self.born = date(day.year - years, 1, 1) + timedelta(days=rng.randrange(365))
        self.age = age_on(self.born, day)
        self.edition = edition_in_force(w.editions, day)
        self.vulnerability: frozenset[str] = frozenset()
        self.enhanced_reasons = enhanced_reasons(self.edition, self.vcop_facts())
        person = w.people[rng.randrange(len(w.people))]
        phone_text, phone_digits = phone(rng.randrange(1000))
        self.external_ref = f"DEMO-{number:08d}"
        self.person = (person, phone_text, phone_digits, rng.random() < 0.5)
        self.case.events.append(  # the service writes this first; see Case.events
            {"action": "create", "at": received, "from_state": None, "to_state": "received",
             "version": 1, "actor": w.intake,
             "detail": {"source": source, "external_ref": self.external_ref,
                        "crime_type": crime, "area": self.area,
                        "hate_strands": list(self.strands),
                        "vcop_edition": self.edition.edition,
                        "enhanced": bool(self.enhanced_reasons),
                        "enhanced_reasons": list(self.enhanced_reasons)}}
        )  # fmt: skip

    @property
    def consent_required(self) -> bool:
        bereaved = bool(self.assessed and self.assessed["vulnerability"]["bereaved"])
        return self.edition.needs_explicit_consent(self.crime, bereaved=bereaved)

    def assess(self) -> None:
        rng, triage, crime = self.rng, self.w.triage, self.crime
        needs = sorted(rng.sample(NEEDS, rng.choice((0, 1, 2, 2, 3, 4))))
        dash = judgement = None
        if crime in ("domestic_abuse", "harassment_stalking"):
            dash = min(24, int(rng.triangular(0, 24, 6)))
            judgement = "high" if rng.random() < 0.04 else None
        level = risk_level(dash, judgement)
        odds = (0.08, 0.02, 0.04, 0.1, 0.06, 0.01)
        flags = {f: rng.random() < p for f, p in zip(VULNERABILITY_FLAGS, odds, strict=True)}
        flags["bereaved"] = flags["bereaved"] or crime == "homicide_bereavement"
        self.vulnerability = frozenset(f for f, on in flags.items() if on)
        required = self.edition.needs_explicit_consent(crime, bereaved=flags["bereaved"])
        roll = rng.random()
        if required:
            share = True if roll < 0.82 else False if roll < 0.94 else None
        else:
            share = True if roll < 0.7 else None if roll < 0.93 else False
        method = (
            rng.choice(("verbal", "verbal", "written", "electronic")) if share is not None else None
        )
        rj, care = (
            rng.random() < 0.04,
            bool(self.age and 18 <= self.age <= 25 and rng.random() < 0.05),
        )
        self.assessed = {
            "needs": needs, "dash_score": dash, "professional_judgement": judgement,
            "risk_level": level.value if level else None, "vulnerability": flags,
            "consent_to_share": share, "consent_method": method,
            "restorative_justice_interest": rj, "care_leaver": care,
        }  # fmt: skip
        self.case.assessment = (
            self.id,
            needs,
            dash,
            judgement,
            self.assessed["risk_level"],
            *flags.values(),
            rj,
            care,
            share,
            method,
            triage.id if share is not None else None,
            self.t if share is not None else None,
            triage.id,
            self.t,
        )
        self.event("assessment", triage, "assessing", {"before": None, "after": self.assessed})
        before = self.enhanced_reasons
        self.enhanced_reasons = enhanced_reasons(self.edition, self.vcop_facts())
        self.case.events.append(
            {"action": "vcop_enhanced", "at": self.t, "from_state": None, "to_state": None,
             "version": self.version, "actor": triage,
             "detail": {"edition": self.edition.edition, "enhanced": bool(self.enhanced_reasons),
                        "enhanced_reasons": list(self.enhanced_reasons),
                        "before": {"enhanced": bool(before), "enhanced_reasons": list(before)}}}
        )  # fmt: skip
        self.routing = RoutingInput(
            crime_type=crime, area=self.area, age=self.age, hate_strands=frozenset(self.strands),
            care_leaver=care, risk_level=self.assessed["risk_level"],
            vulnerability=self.vulnerability, restorative_justice_interest=rj,
            needs=frozenset(needs),
        )  # fmt: skip

    def routing_input(self) -> RoutingInput:
        assert self.routing is not None
        return self.routing

    def vcop_facts(self) -> VcopFacts:
        offers = self.case.offers
        accepted = [o[6] for o in offers if o[5] == "accepted"]
        flags = self.assessed["vulnerability"] if self.assessed else {}
        share = self.assessed["consent_to_share"] if self.assessed else None
        return VcopFacts(
            crime_type=self.crime, received_at=self.received,
            crime_reported_at=self.reported, hate_crime=bool(self.strands), age=self.age,
            vulnerability=self.vulnerability, intimidated=bool(flags.get("intimidated")),
            persistently_targeted=bool(flags.get("persistently_targeted")),
            bereaved=bool(flags.get("bereaved")), contact_made_at=self.contact_at,
            routed_at=offers[0][2] if offers else None,
            accepted_at=min(accepted, default=None), opted_out=share is False,
            consent_missing=self.consent_required and share is not True,
            unsafe_to_contact=self.unsafe,
        )  # fmt: skip
