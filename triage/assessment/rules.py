"""Pure rules of the needs assessment: risk level and what a complete assessment needs."""

from triage.lifecycle.codes import RISK_ASSESSED_CRIMES, RiskLevel

_ORDER = [RiskLevel.standard, RiskLevel.medium, RiskLevel.high]


def dash_level(dash_score: int) -> RiskLevel:
    """DASH: 0-9 standard, 10-13 medium, 14 or more high."""
    if dash_score >= 14:
        return RiskLevel.high
    if dash_score >= 10:
        return RiskLevel.medium
    return RiskLevel.standard


def risk_level(dash_score: int | None, judgement: str | None) -> RiskLevel | None:
    """The higher of the DASH level and the professional judgement: judgement never lowers."""
    levels = []
    if dash_score is not None:
        levels.append(dash_level(dash_score))
    if judgement is not None:
        levels.append(RiskLevel(judgement))
    return max(levels, key=_ORDER.index) if levels else None


def assessment_gaps(
    crime_type: str, *, assessed: bool, dash_score: int | None, judgement: str | None
) -> tuple[str, ...]:
    """What stops an assessment being complete (consent is the consent gate's own guard)."""
    if not assessed:
        return ("assessment_incomplete",)
    if crime_type in RISK_ASSESSED_CRIMES and dash_score is None and judgement is None:
        return ("dash_score_required",)
    return ()
