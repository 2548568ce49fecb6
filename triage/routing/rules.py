"""The shapes of a rule set's files, as pydantic models (pure: `triage.rule_sources` reads them).

`routing.toml` holds the routing rules; `providers.toml` the provider directory they route
to, whose entry is also the body of the directory's API.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from triage.bounds import Line, LongText, Text
from triage.lifecycle.codes import VULNERABILITY_FLAGS, Channel, CrimeType, HateStrand, Need

RISK_CONDITIONS = ("standard", "medium", "high", "none")
Age = Annotated[int, Field(ge=0, le=120)]
AREA = r"^[a-z][a-z0-9_]{0,49}$"
MAX_CASES = 100_000  # a provider's capacity: cases it can hold at once
MAX_COUNT = 10_000_000  # a contract's yearly volume
# A provider's code, in the directory, in paths and in bodies.
PROVIDER_CODE = r"^[a-z0-9][a-z0-9-]{1,63}$"
ProviderCode = Annotated[str, StringConstraints(pattern=PROVIDER_CODE)]
SPECIALISMS = frozenset(
    {
        "general",
        "domestic_abuse",
        "sexual_violence",
        "child_sexual_exploitation",
        "hate_crime",
        "young_people",
        "restorative_justice",
        "mental_health",
    }
)


class Funding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_ref: Text | None = None
    grant_ref: Text | None = None
    annual_volume: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None = None


class ProviderEntry(BaseModel):
    """One `[[providers]]` entry of `providers.toml`."""

    model_config = ConfigDict(extra="forbid")

    code: ProviderCode
    name: Text
    services: Annotated[list[Annotated[str, StringConstraints(max_length=40)]], Field(min_length=1)]
    areas: Annotated[list[Annotated[str, StringConstraints(pattern=AREA)]], Field(min_length=1)]
    min_age: Age | None = None
    max_age: Age | None = None
    care_leaver_max_age: Age | None = None
    crime_types: list[CrimeType] = []
    hate_strands: list[HateStrand] = []
    contact_channels: list[Channel] = []
    notify_address: EmailStr | None = None
    respond_by_hours: Annotated[int, Field(ge=1, le=24 * 28)]
    accepting: bool = True
    capacity: Annotated[int, Field(ge=0, le=MAX_CASES)] | None = None
    funding: Funding = Funding()

    @field_validator("services")
    @classmethod
    def _known_services(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - SPECIALISMS)
        if unknown:
            raise ValueError(f"unknown service: the services are {', '.join(sorted(SPECIALISMS))}")
        return value

    @field_validator("max_age")
    @classmethod
    def _ages_in_order(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min_age")
        if value is not None and low is not None and value < low:
            raise ValueError(f"max_age ({value}) must not be below min_age ({low})")
        return value


# Where an entry came from in an Open Referral UK directory: the service's id, and the
# service's own description, contact email and web page, as the directory published them.
WEB_ADDRESS = r"^https?://[^\s]+$"


class DirectoryEntry(ProviderEntry):
    """A `[[providers]]` entry as the file holds it: the entry, and where it came from.

    The fields below are the file's only (`triage providers import-oruk` keeps them, matched
    by `oruk_id`); the database and the API hold the `ProviderEntry` itself."""

    oruk_id: Annotated[str, StringConstraints(min_length=1, max_length=200), Line] | None = None
    description: LongText | None = None
    email: EmailStr | None = None
    url: Annotated[str, StringConstraints(max_length=2000, pattern=WEB_ADDRESS)] | None = None


# The fields of the file's entry that the database does not hold.
FILE_ONLY_FIELDS = frozenset(DirectoryEntry.model_fields) - frozenset(ProviderEntry.model_fields)


class ProviderDirectory(BaseModel):
    """The whole `providers.toml` of one rule set."""

    model_config = ConfigDict(extra="forbid")

    version: str
    rule_set: str
    areas: Annotated[list[str], Field(min_length=1)]
    providers: list[DirectoryEntry]

    @field_validator("areas")
    @classmethod
    def _area_codes(cls, value: list[str]) -> list[str]:
        for area in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", area):
                raise ValueError(f"area {area!r} must be a lower-case code")
        return value


class Rule(BaseModel):
    """One `[[rules]]` entry: conditions that must all hold, and the providers offered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    priority: Annotated[int, Field(ge=0)]
    why: Annotated[str, Field(min_length=1)]
    providers: Annotated[list[str], Field(min_length=1)]
    crime_types: list[CrimeType] | None = None
    hate_strands: list[HateStrand] | None = None
    min_age: Age | None = None
    max_age: Age | None = None
    care_leaver: bool | None = None
    areas: list[str] | None = None
    risk_levels: list[str] | None = None
    vulnerability: list[str] | None = None
    restorative_justice_interest: bool | None = None
    needs: list[Need] | None = None

    @model_validator(mode="after")
    def _known_values(self) -> "Rule":
        for name, value, known in (
            ("risk_levels", self.risk_levels, RISK_CONDITIONS),
            ("vulnerability", self.vulnerability, VULNERABILITY_FLAGS),
        ):
            unknown = sorted(set(value or ()) - set(known))
            if unknown:
                raise ValueError(f"{name}: unknown value(s) {unknown}; known: {list(known)}")
        return self


class RoutingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    rule_set: str
    areas: Annotated[list[str], Field(min_length=1)]
    fallback: str | None = None
    rules: list[Rule]


@dataclass(frozen=True)
class RuleSet:
    """A rule set as loaded: its routing rules and provider directory, the files they came
    from (named in every problem found), and the version and hash a decision records."""

    name: str
    version: str
    hash: str
    routing: RoutingFile
    directory: ProviderDirectory
    routing_path: Path
    directory_path: Path
