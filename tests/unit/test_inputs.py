"""What routing and the Victims' Code read of a referral, built once from its answers."""

from datetime import UTC, datetime

from triage.assessment.answers import Answers
from triage.assessment.models import Assessment
from triage.assessment.schemas import AssessmentBody
from triage.assessment.service import answers_from, answers_of
from triage.lifecycle.codes import VULNERABILITY_FLAGS
from triage.referrals.inputs import routing_input, vcop_facts
from triage.routing.engine import RoutingInput
from triage.vcop.rights import VcopFacts

RECEIVED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
FLAGS = {flag: flag in ("intimidated", "bereaved") for flag in VULNERABILITY_FLAGS}


def body(**overrides: object) -> AssessmentBody:
    return AssessmentBody.model_validate(
        {
            "needs": ["emotional_support", "compensation"],
            "risk": {"dash_score": 11, "professional_judgement": "high"},
            "vulnerability": FLAGS,
            "consent": {"share_with_provider": True, "method": "verbal"},
            "restorative_justice_interest": True,
            "care_leaver": False,
            **overrides,
        }
    )


def stored(**overrides: object) -> Assessment:
    values: dict[str, object] = {
        "needs": ["emotional_support", "compensation"],
        "dash_score": 11,
        "professional_judgement": "high",
        "risk_level": "high",
        **FLAGS,
        "consent_to_share": True,
        "consent_method": "verbal",
        "restorative_justice_interest": True,
        "care_leaver": False,
        **overrides,
    }
    return Assessment(**values)


class TestAnswers:
    def test_a_body_and_the_row_it_is_stored_as_give_the_same_answers(self) -> None:
        assert answers_from(body()) == answers_of(stored())

    def test_the_judgement_raises_the_risk_level_the_dash_score_gives(self) -> None:
        assert answers_from(body()).risk_level == "high"
        assert answers_from(body(risk={"dash_score": 11})).risk_level == "medium"

    def test_the_snapshot_lists_every_flag_in_order(self) -> None:
        snapshot = answers_from(body()).snapshot()
        assert list(snapshot["vulnerability"]) == list(VULNERABILITY_FLAGS)
        assert snapshot["needs"] == ["emotional_support", "compensation"]

    def test_no_stored_assessment_has_no_answers(self) -> None:
        assert answers_of(None) is None


class TestRoutingInput:
    def test_without_answers_only_the_referral_counts(self) -> None:
        shape = routing_input(
            crime_type="burglary", area="derby_city", age=30, hate_strands=["race"], answers=None
        )
        assert shape == RoutingInput(
            crime_type="burglary", area="derby_city", age=30, hate_strands=frozenset({"race"})
        )

    def test_the_answers_give_risk_flags_needs_and_opt_ins(self) -> None:
        shape = routing_input(
            crime_type="domestic_abuse",
            area="derby_city",
            age=30,
            hate_strands=[],
            answers=answers_from(body()),
        )
        assert shape.risk_level == "high"
        assert shape.vulnerability == {"intimidated", "bereaved"}
        assert shape.needs == {"emotional_support", "compensation"}
        assert shape.restorative_justice_interest and not shape.care_leaver


class TestVcopFacts:
    def facts(self, answers: Answers | None, *, consent_required: bool) -> VcopFacts:
        return vcop_facts(
            crime_type="domestic_abuse",
            received_at=RECEIVED,
            crime_reported_at=None,
            hate_crime=False,
            age=30,
            answers=answers,
            consent_required=consent_required,
        )

    def test_a_victim_who_said_no_opted_out(self) -> None:
        refused = answers_from(body(consent={"share_with_provider": False}))
        facts = self.facts(refused, consent_required=True)
        assert facts.opted_out and facts.consent_missing

    def test_consent_is_missing_until_given_where_the_crime_needs_it(self) -> None:
        assert self.facts(None, consent_required=True).consent_missing
        assert not self.facts(None, consent_required=False).consent_missing
        assert not self.facts(answers_from(body()), consent_required=True).consent_missing

    def test_every_flag_set_goes_in_with_the_named_grounds(self) -> None:
        facts = self.facts(answers_from(body()), consent_required=True)
        assert facts.vulnerability == {"intimidated", "bereaved"}
        assert facts.intimidated and facts.bereaved and not facts.persistently_targeted
