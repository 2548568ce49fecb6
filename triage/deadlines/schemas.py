"""What the alerts routes answer."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class AlertRead(BaseModel):
    id: int
    kind: str
    referral: UUID | None
    reference: str | None = Field(description="the referral's VR- reference")
    raised_at: datetime
    due_at: datetime | None
    detail: dict[str, Any]
    acknowledged_at: datetime | None


class AlertList(BaseModel):
    items: list[AlertRead]


class QueueCounts(BaseModel):
    """One queue (a referral state): referrals with something overdue, and due soon."""

    state: str
    overdue: int
    due_soon: int


class AlertSummary(BaseModel):
    """Deadline counts per queue and open alerts per kind, as of one instant."""

    as_of: datetime
    window_hours: float
    queues: list[QueueCounts]
    open_alerts: dict[str, int]
