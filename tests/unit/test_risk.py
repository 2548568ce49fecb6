"""Risk level from DASH and professional judgement, and what a complete assessment needs."""

import pytest

from triage.assessment.rules import assessment_gaps, dash_level, risk_level
from triage.lifecycle.codes import CrimeType, RiskLevel

OTHER_CRIMES = sorted(set(CrimeType) - {CrimeType.domestic_abuse, CrimeType.harassment_stalking})


class TestDashLevel:
    @pytest.mark.parametrize(
        ("score", "level"),
        [
            (0, "standard"),
            (5, "standard"),
            (9, "standard"),
            (10, "medium"),
            (12, "medium"),
            (13, "medium"),
            (14, "high"),
            (20, "high"),
            (27, "high"),
        ],
    )
    def test_dash_bands_are_0_to_9_standard_10_to_13_medium_14_and_over_high(self, score, level):
        assert dash_level(score) == level

    def test_9_is_standard_and_10_is_medium(self):
        assert (dash_level(9), dash_level(10)) == (RiskLevel.standard, RiskLevel.medium)

    def test_13_is_medium_and_14_is_high(self):
        assert (dash_level(13), dash_level(14)) == (RiskLevel.medium, RiskLevel.high)


class TestRiskLevel:
    @pytest.mark.parametrize(
        ("score", "level"), [(0, "standard"), (9, "standard"), (10, "medium"), (13, "medium")]
    )
    def test_the_dash_score_alone_gives_its_band(self, score, level):
        assert risk_level(score, None) == level

    @pytest.mark.parametrize(("score", "level"), [(13, "medium"), (14, "high")])
    def test_the_boundary_between_medium_and_high_is_between_13_and_14(self, score, level):
        assert risk_level(score, None) == level

    @pytest.mark.parametrize(("score", "level"), [(9, "standard"), (10, "medium")])
    def test_the_boundary_between_standard_and_medium_is_between_9_and_10(self, score, level):
        assert risk_level(score, None) == level

    @pytest.mark.parametrize("judgement", ["standard", "medium", "high"])
    def test_a_judgement_alone_gives_its_own_level(self, judgement):
        assert risk_level(None, judgement) == judgement

    def test_no_score_and_no_judgement_gives_no_level(self):
        assert risk_level(None, None) is None

    @pytest.mark.parametrize(
        ("score", "judgement", "level"),
        [
            (3, "high", "high"),
            (3, "medium", "medium"),
            (11, "high", "high"),
            (0, "medium", "medium"),
        ],
    )
    def test_a_professional_judgement_raises_the_level(self, score, judgement, level):
        assert risk_level(score, judgement) == level

    @pytest.mark.parametrize(
        ("score", "judgement", "level"),
        [
            (15, "standard", "high"),
            (15, "medium", "high"),
            (14, "standard", "high"),
            (12, "standard", "medium"),
        ],
    )
    def test_a_professional_judgement_never_lowers_the_level(self, score, judgement, level):
        assert risk_level(score, judgement) == level

    def test_a_judgement_equal_to_the_dash_band_keeps_it(self):
        assert risk_level(12, "medium") == RiskLevel.medium

    def test_an_unknown_judgement_is_rejected(self):
        with pytest.raises(ValueError):
            risk_level(3, "extreme")


class TestAssessmentGaps:
    def test_no_assessment_at_all_is_incomplete(self):
        gaps = assessment_gaps("burglary", assessed=False, dash_score=None, judgement=None)
        assert gaps == ("assessment_incomplete",)

    def test_no_assessment_is_incomplete_before_any_dash_score_is_asked_for(self):
        gaps = assessment_gaps("domestic_abuse", assessed=False, dash_score=None, judgement=None)
        assert gaps == ("assessment_incomplete",)

    @pytest.mark.parametrize("crime", ["domestic_abuse", "harassment_stalking"])
    def test_risk_assessed_crimes_need_a_dash_score_or_a_judgement(self, crime):
        gaps = assessment_gaps(crime, assessed=True, dash_score=None, judgement=None)
        assert gaps == ("dash_score_required",)

    @pytest.mark.parametrize("crime", ["domestic_abuse", "harassment_stalking"])
    def test_a_dash_score_completes_a_risk_assessed_crime(self, crime):
        assert assessment_gaps(crime, assessed=True, dash_score=15, judgement=None) == ()

    @pytest.mark.parametrize("crime", ["domestic_abuse", "harassment_stalking"])
    def test_a_dash_score_of_zero_is_an_answer(self, crime):
        assert assessment_gaps(crime, assessed=True, dash_score=0, judgement=None) == ()

    @pytest.mark.parametrize("crime", ["domestic_abuse", "harassment_stalking"])
    def test_a_professional_judgement_alone_completes_a_risk_assessed_crime(self, crime):
        assert assessment_gaps(crime, assessed=True, dash_score=None, judgement="medium") == ()

    @pytest.mark.parametrize("crime", OTHER_CRIMES, ids=str)
    def test_other_crimes_need_no_risk_score(self, crime):
        assert assessment_gaps(crime, assessed=True, dash_score=None, judgement=None) == ()

    def test_the_crime_type_may_be_given_as_its_enum(self):
        gaps = assessment_gaps(
            CrimeType.harassment_stalking, assessed=True, dash_score=None, judgement=None
        )
        assert gaps == ("dash_score_required",)
