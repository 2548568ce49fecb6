"""What the provider directory's API answers and takes, beside the directory entry itself
(`ProviderEntry`, the shape of `providers.toml`, in `triage.routing.rules`)."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from triage.routing.rules import MAX_CASES


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
    capacity: Annotated[int, Field(ge=0, le=MAX_CASES)] | None = None


class ProviderList(BaseModel):
    items: list[ProviderRead]
