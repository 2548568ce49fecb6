"""Request and answer shapes of the referral API (names fixed by DESIGN 4)."""

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from triage.assessment.schemas import AssessmentRead
from triage.bounds import Day, Line, LongText, Moment, Text
from triage.lifecycle.codes import (
    AnswerReason,
    AttemptOutcome,
    Channel,
    ClosureReason,
    CrimeType,
    HateStrand,
    Outcome,
    Source,
)
from triage.routing.rules import ProviderCode
from triage.vcop.schemas import EntitlementSummary, VcopRead

Postcode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_upper=True,
        pattern=r"(?i)^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$",
    ),
]
# Unbounded above: a version no referral has reached is simply stale (409), and it is
# compared in Python, never sent to the database.
Version = Annotated[int, Field(ge=1, description="the referral's version as last read")]
# A referral's reference, as read out on the phone: VR-26-7K3M9QXD.
REFERENCE = r"^(?i:VR-\d{2}-[2-9A-HJ-NP-Z]{8})$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VictimIn(Strict):
    full_name: Text
    date_of_birth: Day | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None
    email: EmailStr | None = None
    address: LongText | None = None
    postcode: Postcode | None = None
    safe_channels: list[Channel] = []
    safe_times: Text | None = None
    language: Annotated[str, StringConstraints(pattern=r"^[A-Za-z-]{2,20}$")] | None = None

    @field_validator("date_of_birth")
    @classmethod
    def _born_in_the_past(cls, value: date | None) -> date | None:
        if value is not None and (value > date.today() or value.year < 1900):
            raise ValueError("date of birth must be a past date after 1900")
        return value

    @field_validator("safe_channels")
    @classmethod
    def _distinct_channels(cls, value: list[Channel]) -> list[Channel]:
        return list(dict.fromkeys(value))


class ReferralCreate(Strict):
    source: Source
    external_ref: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Line]
        | None
    ) = None
    crime_type: CrimeType
    hate_strands: list[HateStrand] = []
    area: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
    victim: VictimIn
    # After the victim, so that its check can see their date of birth.
    crime_reported_at: Moment | None = None
    notes: LongText | None = None

    @field_validator("hate_strands")
    @classmethod
    def _distinct_strands(cls, value: list[HateStrand]) -> list[HateStrand]:
        return list(dict.fromkeys(value))

    @field_validator("crime_reported_at")
    @classmethod
    def _reported_after_birth(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        victim = info.data.get("victim")
        born = victim.date_of_birth if victim is not None else None
        if value is not None and born is not None and value.date() < born:
            raise PydanticCustomError(
                "date_order", "the crime cannot be reported before the victim was born"
            )
        return value


class EventBody(Strict):
    version: Version


class LogContactAttempt(EventBody):
    channel: Channel
    outcome: AttemptOutcome
    at: Moment | None = Field(None, description="when it happened; never in the future")


class ContactMade(EventBody):
    channel: Channel


class Route(EventBody):
    provider: ProviderCode | None = None


class Accept(EventBody):
    pass


class ProviderAnswer(EventBody):
    """`decline` and `hand_back`: a coded reason; `other` needs a note."""

    reason: Literal[
        AnswerReason.no_capacity,
        AnswerReason.not_eligible_for_service,
        AnswerReason.outside_area,
        AnswerReason.victim_declined_provider,
        AnswerReason.unsafe_to_contact,
        AnswerReason.duplicate_of_open_case,
        AnswerReason.other,
    ]
    note: Annotated[LongText | None, Field(validate_default=True)] = None

    @field_validator("note")
    @classmethod
    def _other_needs_a_note(cls, note: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("reason") == AnswerReason.other and not note:
            raise ValueError("reason 'other' needs a note saying what the reason is")
        return note


class Close(EventBody):
    reason: ClosureReason
    outcomes: Annotated[dict[Outcome, bool] | None, Field(validate_default=True)] = None
    note: LongText | None = None

    @field_validator("outcomes")
    @classmethod
    def _outcomes_with_completed_support(
        cls, outcomes: dict[Outcome, bool] | None, info: ValidationInfo
    ) -> dict[Outcome, bool] | None:
        completed = info.data.get("reason") == ClosureReason.support_completed
        if completed and not outcomes:
            raise ValueError("support_completed needs outcomes (at least one measure)")
        if not completed and outcomes:
            raise ValueError("outcomes are recorded only with support_completed")
        return outcomes


class Expire(EventBody):
    pass


EVENT_BODIES: dict[str, type[EventBody]] = {
    "log_contact_attempt": LogContactAttempt,
    "contact_made": ContactMade,
    "route": Route,
    "accept": Accept,
    "decline": ProviderAnswer,
    "hand_back": ProviderAnswer,
    "close": Close,
    "expire": Expire,
}


class VictimRead(BaseModel):
    full_name: str
    date_of_birth: date | None
    phone: str | None
    email: str | None
    address: str | None
    postcode: str | None
    safe_times: str | None
    language: str | None


class OfferRead(BaseModel):
    provider: str
    offered_at: datetime
    respond_by: datetime
    answer: str | None
    answered_at: datetime | None
    reason: str | None
    note: str | None = Field(description="what the provider wrote with a decline")
    handed_back_at: datetime | None
    hand_back_reason: str | None
    hand_back_note: str | None


class ContactAttemptRead(BaseModel):
    at: datetime
    channel: str
    outcome: str | None
    made_contact: bool


class LinkedReferral(BaseModel):
    id: UUID
    reference: str
    received_at: datetime
    state: str
    crime_type: str


Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class LockdownBody(Strict):
    """Lock a referral down to named users (DESIGN 11); you are always one of them (no
    other name: you alone)."""

    version: Version
    users: list[Username] = Field(max_length=50)
    reason: Text


class ErasureBody(Strict):
    """Erase a closed referral's personal data now (DESIGN 11): say why (audited; do not
    write the victim's details here, they would be cut out)."""

    version: Version
    reason: Text


class ErasureRead(BaseModel):
    id: UUID
    reference: str
    version: int
    anonymised_at: datetime


class LockdownRead(BaseModel):
    """Who a locked-down referral stays visible to, why, and who locked it."""

    users: list[str]
    reason: str
    locked_by: str | None
    locked_at: datetime


class ReferralRead(BaseModel):
    """A referral as the caller may see it.

    `victim_restricted` is true for a provider that has not accepted the case: it then sees
    no name, date of birth, contact details, address or notes (DESIGN 4, provider scope).
    """

    id: UUID
    reference: str
    state: str
    version: int
    allowed_events: list[str]
    source: str
    external_ref: str | None
    crime_type: str
    hate_strands: list[str]
    area: str
    crime_reported_at: datetime | None
    received_at: datetime
    age_band: str
    safe_channels: list[str]
    victim_restricted: bool
    victim: VictimRead | None
    notes: str | None
    assessment: AssessmentRead | None
    contact_attempts: list[ContactAttemptRead]
    offers: list[OfferRead]
    provider: str | None = Field(description="the provider holding the case, or offered it now")
    deadlines: dict[str, datetime | None]
    entitlements: EntitlementSummary = Field(
        description="Victims' Code: edition, enhanced or standard, next right due, breaches"
    )
    closure_reason: str | None
    outcomes: dict[str, Any] | None
    closed_at: datetime | None
    previous_referrals: list[LinkedReferral]
    updated_at: datetime
    lockdown: LockdownRead | None = Field(
        None, description="the users it is locked down to; null when anyone in scope may read it"
    )
    anonymised: bool = Field(
        False, description="identity, contact details and free text removed (retention, erasure)"
    )


class IntakeReceipt(BaseModel):
    """What an intake client gets back: enough to follow up, nothing about the victim."""

    id: UUID
    reference: str
    state: str
    version: int
    allowed_events: list[str]


class ReferralListItem(BaseModel):
    id: UUID
    reference: str
    state: str
    version: int
    crime_type: str
    hate_strands: list[str]
    area: str
    age_band: str
    received_at: datetime
    victim_name: str | None
    provider: str | None = Field(description="the provider holding the case, or offered it now")
    respond_by: datetime | None
    enhanced: bool | None = Field(description="owed the Victims' Code's enhanced rights")
    urgent_at: datetime | None = Field(
        description="when something next falls due: contact, a right, a provider's answer"
    )
    returned_at: datetime | None = Field(
        description="when a provider gave it back to the unit, until routed again or closed"
    )


class ReferralPage(BaseModel):
    items: list[ReferralListItem]
    total: int
    limit: int
    offset: int


class AuditEventRead(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    from_state: str | None
    to_state: str | None
    version: int | None
    detail: dict[str, Any]


class History(BaseModel):
    referral: UUID
    events: list[AuditEventRead]


class ConsentChange(BaseModel):
    at: datetime
    recorded_by: str
    share_with_provider: bool | None
    method: str | None


class SubjectAccess(BaseModel):
    """Everything held about the victim of one referral (DESIGN 11)."""

    generated_at: datetime
    requested_by: str
    reason: str
    referral: ReferralRead
    consent_history: list[ConsentChange]
    victims_code: VcopRead
    timeline: list[AuditEventRead]
