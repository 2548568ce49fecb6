"""Properties of the routing engine over generated referrals and provider states."""

from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from triage.lifecycle.codes import VULNERABILITY_FLAGS, CrimeType, HateStrand, Need
from triage.routing.engine import Engine, RoutingInput, skip_reason, statuses_from_directory
from triage.rule_sources import load_rule_set

RULES = load_rule_set(Path(__file__).resolve().parents[2] / "routing_rules" / "derbyshire")
ENGINE = Engine(RULES)
STATUSES = statuses_from_directory(RULES)
CODES = sorted(STATUSES)

referrals = st.builds(
    RoutingInput,
    crime_type=st.sampled_from([c.value for c in CrimeType]),
    area=st.sampled_from(RULES.routing.areas),
    age=st.none() | st.integers(min_value=0, max_value=110),
    hate_strands=st.frozensets(st.sampled_from([s.value for s in HateStrand]), max_size=3),
    care_leaver=st.booleans(),
    risk_level=st.sampled_from([None, "standard", "medium", "high"]),
    vulnerability=st.frozensets(st.sampled_from(VULNERABILITY_FLAGS), max_size=3),
    restorative_justice_interest=st.booleans(),
    needs=st.frozensets(st.sampled_from([n.value for n in Need]), max_size=4),
)
live_statuses = st.fixed_dictionaries(
    {
        code: st.builds(
            lambda accepting, capacity, load, status=STATUSES[code]: replace(
                status, accepting=accepting, capacity=capacity, load=load
            ),
            st.booleans(),
            st.none() | st.integers(min_value=0, max_value=5),
            st.integers(min_value=0, max_value=6),
        )
        for code in CODES
    }
)
exclusions = st.dictionaries(
    st.sampled_from(CODES), st.sampled_from(["already_declined", "handed_back", "expired"])
)


class TestEngine:
    @given(referrals, live_statuses, exclusions)
    @settings(max_examples=300)
    def test_every_referral_gets_candidates_or_a_stated_no_route_reason(
        self, referral, statuses, excluded
    ):
        decision = ENGINE.decide(referral, statuses, excluded)
        assert bool(decision.candidates) != bool(decision.no_route_reason)

    @given(referrals, live_statuses, exclusions)
    def test_the_same_input_gives_the_same_decision(self, referral, statuses, excluded):
        assert ENGINE.decide(referral, statuses, excluded) == ENGINE.decide(
            referral, dict(statuses), dict(excluded)
        )

    @given(referrals, live_statuses, exclusions)
    def test_no_candidate_is_excluded_skipped_or_repeated(self, referral, statuses, excluded):
        decision = ENGINE.decide(referral, statuses, excluded)
        offered = [c.provider for c in decision.candidates]
        assert len(offered) == len(set(offered))
        assert not set(offered) & set(excluded)
        assert not set(offered) & {s.provider for s in decision.skipped}
        for code in offered:
            assert skip_reason(statuses[code], referral) is None

    @given(referrals)
    def test_with_everyone_available_every_referral_has_a_candidate(self, referral):
        assert ENGINE.decide(referral, STATUSES).candidates

    @given(referrals)
    def test_the_general_service_is_always_last_when_offered(self, referral):
        offered = [c.provider for c in ENGINE.decide(referral, STATUSES).candidates]
        assert offered[-1] == RULES.routing.fallback
