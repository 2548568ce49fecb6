"""The access report's shapes: what it is asked for, and each audit line it lists (never a
line's `detail`, which may hold personal data)."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from triage.bounds import Day, Line

# A referral's id or VR- reference, or a username: one line of printable text.
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Line]


class AccessQuery(BaseModel):
    """One referral (id or VR- reference) or one user, from a day to a day (both inclusive,
    UTC; by default the last 30 days, today included)."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

    referral: Key | None = None
    user: Key | None = None
    start: Day | None = Field(None, alias="from")
    end: Day | None = Field(None, alias="to")


class AccessLine(BaseModel):
    """One audit line: when, who (and their role), what, and which referral."""

    at: datetime
    user: str
    role: str
    action: str
    kind: Literal["read", "change"]
    referral: UUID | None
    reference: str | None


class AccessReport(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    items: list[AccessLine]
    total: int
    limit: int
    offset: int


class ReferralAccess(AccessReport):
    """Who read or changed one referral over the period, oldest first."""

    referral: UUID
    reference: str


class UserAccess(AccessReport):
    """What one user read or changed over the period, oldest first."""

    user: str


# The columns of the report as a file, in order.
COLUMNS = ("at", "user", "role", "action", "kind", "referral", "reference")
