"""How long a closed referral keeps the victim's identity (DESIGN 11), as data:
`routing_rules/retention.toml`. Pure: no clock, no database.

Periods are tried in order; the first whose closure reasons and crime types both match
(a list left out matches any) gives the months, counted from closure; none matching, the
default. `triage rules check` loads and checks the file with the rule set.
"""

import calendar
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.lifecycle.codes import ClosureReason, CrimeType

DEFAULT = "default"


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,49}$")
    months: int = Field(ge=1, le=1200, description="kept this long after closure")
    closure_reasons: list[ClosureReason] = []
    crime_types: list[CrimeType] = []
    why: str = Field("", max_length=500, description="the policy or law behind the period")

    @model_validator(mode="after")
    def _narrows(self) -> "Period":
        if not self.closure_reasons and not self.crime_types:
            raise ValueError("names no closure reason and no crime type: use default_months")
        return self

    def matches(self, closure_reason: str | None, crime_type: str) -> bool:
        return (not self.closure_reasons or closure_reason in self.closure_reasons) and (
            not self.crime_types or crime_type in self.crime_types
        )


class RetentionRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=50)
    default_months: int = Field(ge=1, le=1200)
    periods: list[Period] = []

    @model_validator(mode="after")
    def _distinct_ids(self) -> "RetentionRules":
        ids = [p.id for p in self.periods]
        repeated = sorted({i for i in ids if ids.count(i) > 1} | ({DEFAULT} & set(ids)))
        if repeated:
            raise ValueError(f"period ids must be distinct and not {DEFAULT!r}: {repeated}")
        return self

    def period_for(self, closure_reason: str | None, crime_type: str) -> tuple[str, int]:
        """The period's id and months for a referral closed for this reason."""
        for period in self.periods:
            if period.matches(closure_reason, crime_type):
                return period.id, period.months
        return DEFAULT, self.default_months

    def is_due(
        self, closure_reason: str | None, crime_type: str, closed_at: datetime, as_of: datetime
    ) -> bool:
        return closed_at <= months_before(as_of, self.period_for(closure_reason, crime_type)[1])


def months_before(moment: datetime, months: int) -> datetime:
    """The same time `months` calendar months earlier (the 31st becomes the month's last)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
