"""Shapes of routing answers and of the preview request (DESIGN 4 and 7)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from triage.assessment.schemas import AssessmentBody
from triage.bounds import Day, Moment
from triage.lifecycle.codes import CrimeType, HateStrand


class CandidateRead(BaseModel):
    provider: str
    rule: str
    why: str


class SkipRead(BaseModel):
    provider: str
    rule: str
    reason: str


class RoutingRead(BaseModel):
    """Why a referral goes (or would go) where it does."""

    stored: bool
    decided_at: datetime | None = None
    trigger: str | None = None
    rule_set_version: str
    rule_set_hash: str
    matched_rules: list[str]
    candidates: list[CandidateRead]
    skipped: list[SkipRead]
    no_route_reason: str | None
    chosen_provider: str | None = None
    by_hand: bool = False
    decided_by: str | None = None
    rules_would_choose: str | None = None


class PreviewVictim(BaseModel):
    """Only what routing uses; a name or contact details are not needed (and ignored)."""

    model_config = ConfigDict(extra="ignore")

    date_of_birth: Day | None = None


class RoutingPreview(BaseModel):
    """A referral-shaped body with its assessment inside; nothing is saved."""

    model_config = ConfigDict(extra="ignore")

    crime_type: CrimeType
    area: str
    hate_strands: list[HateStrand] = []
    crime_reported_at: Moment | None = None
    victim: PreviewVictim | None = None
    assessment: AssessmentBody | None = None
