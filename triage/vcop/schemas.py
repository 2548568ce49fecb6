"""Shapes of the Victims' Code answers (DESIGN 4)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class CheckRead(BaseModel):
    status: str
    due_at: datetime | None
    met_at: datetime | None
    reason: str | None
    trigger: str
    evidence: dict[str, Any]
    checked_by: str | None
    checked_at: datetime


class RightRead(BaseModel):
    right: str
    title: str
    status: str
    due_at: datetime | None
    met_at: datetime | None
    reason: str | None
    checks: list[CheckRead]


class VcopRead(BaseModel):
    edition: str
    edition_title: str
    enhanced: bool
    enhanced_reasons: list[str]
    rights: list[RightRead]


class NextDue(BaseModel):
    right: str
    due_at: datetime


class EntitlementSummary(BaseModel):
    """The compact form carried by the referral's detail."""

    edition: str | None
    enhanced: bool | None
    enhanced_reasons: list[str] | None
    next_due: NextDue | None
    breached: list[str]
