"""The rows a simulated referral writes, one named type per table, fields in column order.

A row is a tuple (COPY writes it as it is); its fields are the table's columns, so
`COLUMNS` is read off the types and nothing states a column's position twice.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple
from uuid import UUID


class ReferralRow(NamedTuple):
    id: UUID
    reference: str
    source: str
    external_ref: str | None
    idempotency_key: str | None
    request_hash: str
    created_by: int | None
    area: str
    crime_type: str
    hate_strands: list[str]
    crime_reported_at: datetime | None
    received_at: datetime
    victim_full_name: str
    victim_name_key: str
    victim_date_of_birth: date | None
    victim_phone: str | None
    victim_phone_key: str | None
    victim_email: str | None
    victim_address: str | None
    victim_postcode: str | None
    safe_channels: list[str]
    safe_times: str | None
    language: str | None
    notes: str | None
    state: str
    version: int
    holder_provider_id: int | None
    vcop_edition: str
    enhanced: bool
    enhanced_reasons: list[str]
    closure_reason: str | None
    outcomes: dict[str, bool] | None
    closed_at: datetime | None
    updated_at: datetime
    reported_version: int
    urgent_at: datetime | None
    returned_at: datetime | None


class AuditEventRow(NamedTuple):
    referral_id: UUID
    at: datetime
    actor_id: int | None
    actor_name: str
    actor_role: str
    action: str
    from_state: str | None
    to_state: str | None
    version: int
    detail: dict[str, Any]


class ContactAttemptRow(NamedTuple):
    referral_id: UUID
    at: datetime
    channel: str
    outcome: str | None
    made_contact: bool
    recorded_by: int | None


class AssessmentRow(NamedTuple):
    referral_id: UUID
    needs: list[str]
    dash_score: int | None
    professional_judgement: str | None
    risk_level: str | None
    mental_disorder: bool
    impaired_intelligence: bool
    physical_disability: bool
    intimidated: bool
    persistently_targeted: bool
    bereaved: bool
    restorative_justice_interest: bool
    care_leaver: bool
    consent_to_share: bool | None
    consent_method: str | None
    consent_recorded_by: int | None
    consent_recorded_at: datetime | None
    assessed_by: int | None
    assessed_at: datetime


class OfferRow(NamedTuple):
    referral_id: UUID
    provider_id: int
    offered_at: datetime
    offered_by: int | None
    respond_by: datetime
    answer: str | None
    answered_at: datetime | None
    answered_by: int | None
    reason: str | None
    note: str | None
    rule_set_hash: str
    handed_back_at: datetime | None
    hand_back_reason: str | None
    hand_back_note: str | None


class RoutingDecisionRow(NamedTuple):
    referral_id: UUID
    decided_at: datetime
    decided_by: int | None
    trigger: str
    rule_set_version: str
    rule_set_hash: str
    matched_rules: list[str]
    candidates: list[dict[str, str]]
    skipped: list[dict[str, str]]
    chosen_provider: str | None
    by_hand: bool
    rules_would_choose: str | None
    no_route_reason: str | None


class EntitlementCheckRow(NamedTuple):
    referral_id: UUID
    right: str
    edition: str
    status: str
    due_at: datetime | None
    met_at: datetime | None
    reason: str | None
    trigger: str
    evidence: dict[str, Any]
    checked_by: int | None
    checked_at: datetime
    current: bool


class ReportCaseRow(NamedTuple):
    referral_id: UUID
    version: int
    facts: dict[str, Any]
    folded_at: datetime


@dataclass(slots=True)
class SimulatedOffer:
    """An offer while its referral is simulated (answered, maybe handed back, later)."""

    referral_id: UUID
    provider_id: int
    provider_code: str
    offered_at: datetime
    offered_by: int | None
    respond_by: datetime
    rule_set_hash: str
    answer: str | None = None
    answered_at: datetime | None = None
    answered_by: int | None = None
    reason: str | None = None
    note: str | None = None
    handed_back_at: datetime | None = None
    hand_back_reason: str | None = None
    hand_back_note: str | None = None

    def row(self) -> OfferRow:
        return OfferRow(
            self.referral_id, self.provider_id, self.offered_at, self.offered_by,
            self.respond_by, self.answer, self.answered_at, self.answered_by, self.reason,
            self.note, self.rule_set_hash, self.handed_back_at, self.hand_back_reason,
            self.hand_back_note,
        )  # fmt: skip


class Case:
    """One referral's rows (its audit events as the report fold reads them, as dicts)."""

    __slots__ = ("referral", "events", "attempts", "assessment", "offers", "decisions", "checks")

    def __init__(self) -> None:
        self.referral: ReferralRow | None = None
        self.events: list[dict[str, Any]] = []
        self.attempts: list[ContactAttemptRow] = []
        self.assessment: AssessmentRow | None = None
        self.offers: list[SimulatedOffer] = []
        self.decisions: list[RoutingDecisionRow] = []
        self.checks: list[EntitlementCheckRow] = []


# Each table the demo writes, in the order written (referrals first: every row names one).
ROW_TYPES: dict[str, type[tuple[Any, ...]]] = {
    "referrals": ReferralRow,
    "audit_events": AuditEventRow,
    "contact_attempts": ContactAttemptRow,
    "assessments": AssessmentRow,
    "offers": OfferRow,
    "routing_decisions": RoutingDecisionRow,
    "entitlement_checks": EntitlementCheckRow,
    "report_cases": ReportCaseRow,
}
COLUMNS: dict[str, tuple[str, ...]] = {
    name: row_type._fields  # type: ignore[attr-defined]
    for name, row_type in ROW_TYPES.items()
}
JSON_COLUMNS = {
    "referrals": ("hate_strands", "safe_channels", "enhanced_reasons", "outcomes"),
    "audit_events": ("detail",),
    "assessments": ("needs",),
    "routing_decisions": ("matched_rules", "candidates", "skipped"),
    "entitlement_checks": ("evidence",),
    "report_cases": ("facts",),
}
Rows = dict[str, list[tuple[Any, ...]]]
