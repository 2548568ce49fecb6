"""The sharing export's record: one referral as a partner receives it, one JSON line each.

Its JSON Schema (draft 2020-12) is published as `docs/sharing/record.schema.json` and must
equal `SharingRecord.model_json_schema()` (a test compares them; `triage export schema`
prints it). Every field is always present: an unknown value is `null`, never left out.
"""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from triage.lifecycle.codes import (
    Channel,
    ConsentMethod,
    CrimeType,
    HateStrand,
    Need,
    RiskLevel,
    State,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SharedVictim(Record):
    """The victim as the referral holds them now."""

    model_config = ConfigDict(title="Victim")

    full_name: str
    date_of_birth: date | None
    phone: str | None
    email: str | None
    address: str | None
    postcode: str | None
    safe_channels: list[Channel] = Field(description="the only channels safe to contact them by")
    safe_times: str | None = Field(description="when contact is safe, in the unit's words")
    language: str | None


class SharedConsent(Record):
    """The victim's consent to share, as recorded (always given: nothing else is shared)."""

    model_config = ConfigDict(title="Consent")

    method: ConsentMethod
    recorded_at: datetime


class SharingRecord(Record):
    """One referral shared with a partner agency, for one purpose, by the sharing export."""

    model_config = ConfigDict(
        title="SharingRecord",
        json_schema_extra={"$schema": DRAFT},
    )

    reference: str = Field(description="the referral's reference, the same in every export")
    partner: str = Field(description="the partner's code in partners.toml")
    purpose: str = Field(description="what the partner received it for")
    shared_at: datetime = Field(description="when the export that wrote this line ran (UTC)")
    area: str = Field(description="the area code of the rule set")
    crime_type: CrimeType
    hate_strands: list[HateStrand] = Field(description="a hate crime when not empty")
    received_at: datetime = Field(description="when the triage unit received the referral")
    state: State = Field(description="where the referral is in its lifecycle now")
    victim: SharedVictim
    needs: list[Need] = Field(description="the needs assessed (EU Directive 2012/29/EU list)")
    risk_level: RiskLevel | None = Field(description="from DASH or professional judgement")
    consent: SharedConsent
