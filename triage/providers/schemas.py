"""The provider directory's shapes: the TOML entry and what the API answers."""

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from triage.lifecycle.codes import Channel, CrimeType, HateStrand

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]
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

    contract_ref: str | None = None
    grant_ref: str | None = None
    annual_volume: Annotated[int, Field(ge=0)] | None = None


class ProviderEntry(BaseModel):
    """One `[[providers]]` entry of `providers.toml`."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    services: Annotated[list[str], Field(min_length=1)]
    areas: Annotated[list[str], Field(min_length=1)]
    min_age: Annotated[int, Field(ge=0, le=120)] | None = None
    max_age: Annotated[int, Field(ge=0, le=120)] | None = None
    care_leaver_max_age: Annotated[int, Field(ge=0, le=120)] | None = None
    crime_types: list[CrimeType] = []
    hate_strands: list[HateStrand] = []
    contact_channels: list[Channel] = []
    notify_address: EmailStr | None = None
    respond_by_hours: Annotated[int, Field(ge=1, le=24 * 28)]
    accepting: bool = True
    capacity: Annotated[int, Field(ge=0)] | None = None
    funding: Funding = Funding()

    @field_validator("services")
    @classmethod
    def _known_services(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - SPECIALISMS)
        if unknown:
            raise ValueError(f"unknown service {unknown}; known: {sorted(SPECIALISMS)}")
        return value


class ProviderDirectory(BaseModel):
    """The whole `providers.toml` of one rule set."""

    model_config = ConfigDict(extra="forbid")

    version: str
    rule_set: str
    areas: Annotated[list[Code | str], Field(min_length=1)]
    providers: list[ProviderEntry]

    @field_validator("areas")
    @classmethod
    def _area_codes(cls, value: list[str]) -> list[str]:
        for area in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", area):
                raise ValueError(f"area {area!r} must be a lower-case code")
        return value


class ProviderRead(BaseModel):
    code: str
    name: str
    services: list[str]
    areas: list[str]
    min_age: int | None
    max_age: int | None
    care_leaver_max_age: int | None
    crime_types: list[str]
    hate_strands: list[str]
    contact_channels: list[str]
    respond_by_hours: int
    accepting: bool
    capacity: int | None


class CapacityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accepting: bool
    capacity: Annotated[int, Field(ge=0)] | None = None


class ProviderList(BaseModel):
    items: list[ProviderRead]
