"""Editions of the Victims' Code, the shape of `routing_rules/vcop/<edition>.toml` (pure:
`triage.rule_sources` reads the files).

A referral is judged by the edition in force on the day the crime was reported, or on the
day the referral was received when the crime was not reported.
"""

from datetime import date
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.lifecycle.codes import CrimeType


class ConsentRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    explicit_for_crime_types: frozenset[CrimeType]
    explicit_when_bereaved: bool


VulnerabilityGround = Literal["mental_disorder", "impaired_intelligence", "physical_disability"]
# Events a clock can start at, and events that meet a right.
StartEvent = Literal["crime_reported", "referral_received", "contact_made"]
MeetingEvent = Literal["referral_received", "contact_made", "routed", "accepted"]
Exclusion = Literal["opted_out", "no_consent", "unsafe_to_contact"]
EXCLUSIONS: tuple[str, ...] = get_args(Exclusion)


class EnhancedRules(BaseModel):
    """Who is an enhanced victim under this edition, ground by ground."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    crime_types: frozenset[CrimeType]
    hate_crime: bool
    under_age: Annotated[int, Field(ge=0, le=25)]
    vulnerability: frozenset[VulnerabilityGround]
    intimidated: bool
    persistently_targeted: bool
    bereaved: bool


ForceReturnItem = Literal[
    "written_acknowledgement",
    "referral_to_support_services",
    "updates",
    "victim_personal_statement_offered",
    "release_dates_told",
]


class Right(BaseModel):
    """One right (or entitlement) of an edition, with its clock when the service tracks it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]*$")]
    title: str
    tracked: bool = True
    applies_to: Literal["all", "enhanced"] | list[CrimeType] = "all"
    start: StartEvent | None = None
    working_days: Annotated[int, Field(ge=0, le=60)] | None = None
    enhanced_working_days: Annotated[int, Field(ge=0, le=60)] | None = None
    met_by: MeetingEvent | None = None
    not_applicable_when: list[Literal["crime_not_reported"]] = []
    excluded_when: list[Exclusion] = []
    # The item of the forces' quarterly compliance return this right answers, if any.
    force_return: ForceReturnItem | None = None

    @model_validator(mode="after")
    def _tracked_rights_have_a_clock(self) -> "Right":
        missing = [
            name
            for name in ("start", "working_days", "met_by")
            if self.tracked and getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"a tracked right needs {', '.join(missing)}")
        return self


class Edition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    edition: str
    version: str
    title: str
    in_force_from: date
    consent: ConsentRules
    enhanced: EnhancedRules
    rights: Annotated[list[Right], Field(min_length=1)]

    @model_validator(mode="after")
    def _right_ids_are_unique(self) -> "Edition":
        ids = [r.id for r in self.rights]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"right ids used twice: {repeated}")
        return self

    def needs_explicit_consent(self, crime_type: str, *, bereaved: bool) -> bool:
        """Whether sharing with a provider waits for the victim's explicit consent."""
        if bereaved and self.consent.explicit_when_bereaved:
            return True
        return crime_type in self.consent.explicit_for_crime_types


def edition_in_force(editions: tuple[Edition, ...], on: date) -> Edition:
    """The edition in force on `on`; the oldest one for any earlier day."""
    in_force = [e for e in editions if e.in_force_from <= on]
    return in_force[-1] if in_force else editions[0]
