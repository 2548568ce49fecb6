"""Table tests of the shipped Derbyshire rules: one case per specialism and per edge."""

from dataclasses import replace
from pathlib import Path

import pytest

from triage.routing.engine import Engine, RoutingInput, statuses_from_directory
from triage.rule_sources import load_rule_set

RULES = Path(__file__).resolve().parents[2] / "routing_rules" / "derbyshire"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_rule_set(RULES))


@pytest.fixture(scope="module")
def statuses():
    return statuses_from_directory(load_rule_set(RULES))


def referral(crime_type: str = "burglary", **fields) -> RoutingInput:
    return RoutingInput(crime_type=crime_type, area=fields.pop("area", "derby_city"), **fields)


def offered(engine: Engine, statuses, shape: RoutingInput, excluded=None) -> list[str]:
    return [c.provider for c in engine.decide(shape, statuses, excluded).candidates]


CASES = [
    ("burglary, adult: general only", referral(age=40), ["core-general"]),
    (
        "domestic abuse DASH high: IDVA first",
        referral("domestic_abuse", age=30, risk_level="high"),
        ["da-idva", "core-general"],
    ),
    (
        "domestic abuse medium: outreach",
        referral("domestic_abuse", age=30, risk_level="medium"),
        ["da-outreach", "core-general"],
    ),
    (
        "domestic abuse standard: outreach",
        referral("domestic_abuse", age=30, risk_level="standard"),
        ["da-outreach", "core-general"],
    ),
    (
        "stalking at high risk: IDVA",
        referral("harassment_stalking", age=50, risk_level="high"),
        ["da-idva", "core-general"],
    ),
    (
        "CSE at 17: CSE service, children's SV, young people",
        referral("child_sexual_exploitation", age=17),
        ["cse-service", "sv-children", "young-people", "core-general"],
    ),
    (
        "CSE at 18: the adult sexual violence service",
        referral("child_sexual_exploitation", age=18),
        ["sv-adult", "core-general"],
    ),
    ("sexual offence, adult", referral("sexual_offence", age=25), ["sv-adult", "core-general"]),
    (
        "sexual offence, child",
        referral("sexual_offence", age=12),
        ["cse-service", "sv-children", "young-people", "core-general"],
    ),
    (
        "two hate strands: one hate crime offer",
        referral("violence", age=35, hate_strands=frozenset({"race", "religion"})),
        ["hate-crime", "core-general"],
    ),
    ("young person, 17", referral(age=17), ["young-people", "core-general"]),
    ("adult, 18, not a care leaver", referral(age=18), ["core-general"]),
    ("care leaver at 25", referral(age=25, care_leaver=True), ["young-people", "core-general"]),
    ("care leaver at 26", referral(age=26, care_leaver=True), ["core-general"]),
    (
        "restorative justice with opt-in",
        referral(age=40, restorative_justice_interest=True),
        ["restorative-justice", "core-general"],
    ),
    ("no restorative justice without opt-in", referral(age=40), ["core-general"]),
    (
        "mental disorder: the mental health hub",
        referral(age=40, vulnerability=frozenset({"mental_disorder"})),
        ["mental-health-hub", "core-general"],
    ),
    ("unknown age: no age-limited rule", referral("sexual_offence"), ["core-general"]),
]


class TestShippedRules:
    @pytest.mark.parametrize(("case", "shape", "expected"), CASES, ids=[c[0] for c in CASES])
    def test_each_shape_is_offered_the_expected_providers_in_order(
        self, engine, statuses, case, shape, expected
    ):
        assert offered(engine, statuses, shape) == expected

    def test_dash_13_is_outreach_and_dash_14_is_the_idva(self, engine, statuses):
        from triage.assessment.rules import risk_level

        medium = referral("domestic_abuse", age=30, risk_level=risk_level(13, None))
        high = referral("domestic_abuse", age=30, risk_level=risk_level(14, None))
        assert offered(engine, statuses, medium)[0] == "da-outreach"
        assert offered(engine, statuses, high)[0] == "da-idva"

    def test_professional_judgement_of_high_sends_a_low_score_to_the_idva(self, engine, statuses):
        from triage.assessment.rules import risk_level

        shape = referral("domestic_abuse", age=30, risk_level=risk_level(3, "high"))
        assert offered(engine, statuses, shape)[0] == "da-idva"

    def test_every_decision_names_the_rule_that_put_each_candidate_there(self, engine, statuses):
        decision = engine.decide(referral("domestic_abuse", age=30, risk_level="high"), statuses)
        assert [(c.provider, c.rule) for c in decision.candidates] == [
            ("da-idva", "da-high-risk-idva"),
            ("core-general", "fallback"),
        ]
        assert decision.matched_rules == ("da-high-risk-idva",)


class TestSkips:
    def test_a_provider_at_capacity_is_skipped_with_its_reason(self, engine, statuses):
        full = {**statuses, "da-idva": replace(statuses["da-idva"], capacity=5, load=5)}
        decision = engine.decide(referral("domestic_abuse", age=30, risk_level="high"), full)
        assert [c.provider for c in decision.candidates] == ["core-general"]
        assert [(s.provider, s.reason) for s in decision.skipped] == [("da-idva", "at_capacity")]

    def test_a_provider_not_accepting_is_skipped(self, engine, statuses):
        closed = {**statuses, "hate-crime": replace(statuses["hate-crime"], accepting=False)}
        shape = referral("violence", age=35, hate_strands=frozenset({"race"}))
        decision = engine.decide(shape, closed)
        assert ("hate-crime", "not_accepting") in [(s.provider, s.reason) for s in decision.skipped]

    def test_a_provider_outside_the_area_is_skipped(self, engine, statuses):
        city_only = {
            **statuses,
            "sv-adult": replace(statuses["sv-adult"], areas=frozenset({"derby_city"})),
        }
        shape = referral("sexual_offence", age=30, area="derbyshire_county")
        decision = engine.decide(shape, city_only)
        assert ("sv-adult", "outside_area") in [(s.provider, s.reason) for s in decision.skipped]

    def test_an_excluded_provider_is_skipped_with_the_exclusion_as_reason(self, engine, statuses):
        shape = referral("domestic_abuse", age=30, risk_level="high")
        decision = engine.decide(shape, statuses, {"da-idva": "already_declined"})
        assert decision.first == "core-general"
        assert decision.skipped[0].reason == "already_declined"

    def test_with_every_candidate_excluded_there_is_a_stated_no_route_reason(
        self, engine, statuses
    ):
        decision = engine.decide(referral(age=40), statuses, {"core-general": "already_declined"})
        assert decision.candidates == ()
        assert decision.no_route_reason == "all_candidates_skipped"
