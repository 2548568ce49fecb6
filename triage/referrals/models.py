from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class Referral(Base):
    """A victim referral; `state` is driven by ReferralFlow and `version` is its lock."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("source", "external_ref"),
        UniqueConstraint("created_by", "idempotency_key"),
        Index("ix_referrals_state_received_at", "state", "received_at"),
        Index("ix_referrals_victim_match", "victim_date_of_birth", "victim_name_key"),
        # What the report fold has still to read (DESIGN 5, ADR 9): a few rows, not millions.
        Index(
            "ix_referrals_unreported",
            "id",
            sqlite_where=text("reported_version <> version"),
            postgresql_where=text("reported_version <> version"),
        ),
        # The triage unit's queue (urgency order) and the overdue filter: open referrals only.
        Index(
            "ix_referrals_open_urgent_at",
            "urgent_at",
            sqlite_where=text("state <> 'closed'"),
            postgresql_where=text("state <> 'closed'"),
        ),
        # Retention's claim (DESIGN 11): closed referrals not yet anonymised, oldest first.
        Index(
            "ix_referrals_to_anonymise",
            "closed_at",
            sqlite_where=text("closed_at IS NOT NULL AND anonymised_at IS NULL"),
            postgresql_where=text("closed_at IS NOT NULL AND anonymised_at IS NULL"),
        ),
        Index(
            "ix_referrals_returned_at",
            "returned_at",
            sqlite_where=text("returned_at IS NOT NULL"),
            postgresql_where=text("returned_at IS NOT NULL"),
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[str] = mapped_column(String(30))
    external_ref: Mapped[str | None] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    area: Mapped[str] = mapped_column(String(50))
    crime_type: Mapped[str] = mapped_column(String(40))
    hate_strands: Mapped[list[str]]
    crime_reported_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    victim_full_name: Mapped[str] = mapped_column(String(200))
    victim_name_key: Mapped[str] = mapped_column(String(200))
    victim_date_of_birth: Mapped[date | None]
    victim_phone: Mapped[str | None] = mapped_column(String(40))
    victim_phone_key: Mapped[str | None] = mapped_column(String(20), index=True)
    victim_email: Mapped[str | None] = mapped_column(String(200))
    victim_address: Mapped[str | None] = mapped_column(Text)
    victim_postcode: Mapped[str | None] = mapped_column(String(10))
    safe_channels: Mapped[list[str]]
    safe_times: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column()
    holder_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    # The Victims' Code edition judging this referral, and the enhanced decision's grounds.
    vcop_edition: Mapped[str | None] = mapped_column(String(10))
    enhanced: Mapped[bool | None]
    enhanced_reasons: Mapped[list[str] | None]
    closure_reason: Mapped[str | None] = mapped_column(String(30))
    outcomes: Mapped[dict[str, Any] | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # The version the reports' rollups last folded (triage/reports/fold.py).
    reported_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # The soonest thing due while open (contact, a Victims' Code right, a provider's answer),
    # kept by every change (referrals/urgency.py); null once closed.
    urgent_at: Mapped[datetime | None]
    # When a provider last gave the referral back to the unit (declined or let an offer
    # expire with nobody left, or handed it back); cleared when it is routed again or closed.
    returned_at: Mapped[datetime | None]
    # When the victim's identity, contact details and free text were removed (retention or
    # erasure, DESIGN 11); codes, dates and outcomes stay, so every report is unchanged.
    anonymised_at: Mapped[datetime | None]

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class ContactAttempt(Base):
    """One try at reaching the victim, successful (`made_contact`) or not."""

    __tablename__ = "contact_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[UUID] = mapped_column(ForeignKey("referrals.id"), index=True)
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    made_contact: Mapped[bool]
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class Offer(Base):
    """A referral offered to one provider; `answer` stays null while the offer is open."""

    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_referral_id", "referral_id"),
        Index("ix_offers_provider_id_answer", "provider_id", "answer"),
        # The expiry sweep's claim: open offers in respond-by order (DESIGN 6).
        Index(
            "ix_offers_open_respond_by",
            "respond_by",
            sqlite_where=text("answer IS NULL"),
            postgresql_where=text("answer IS NULL"),
        ),
        # One open offer per referral, enforced by the database on both engines.
        Index(
            "uq_offers_one_open_per_referral",
            "referral_id",
            unique=True,
            sqlite_where=text("answer IS NULL"),
            postgresql_where=text("answer IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[UUID] = mapped_column(ForeignKey("referrals.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    offered_at: Mapped[datetime]
    offered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    respond_by: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(String(20))
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    # The rule set under which the offer was made: a provider is not offered the same
    # referral twice under one rule set (DESIGN 7).
    rule_set_hash: Mapped[str | None] = mapped_column(String(64))
    handed_back_at: Mapped[datetime | None]
    hand_back_reason: Mapped[str | None] = mapped_column(String(40))
    hand_back_note: Mapped[str | None] = mapped_column(Text)


class Lockdown(Base):
    """A referral locked down to named users (DESIGN 11): everyone else is answered as if it
    did not exist. Lifting it deletes the row; both are in the audit log with the reason."""

    __tablename__ = "lockdowns"

    referral_id: Mapped[UUID] = mapped_column(ForeignKey("referrals.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    locked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    locked_at: Mapped[datetime]


class LockdownUser(Base):
    """One of the users a locked-down referral stays visible to."""

    __tablename__ = "lockdown_users"
    __table_args__ = (Index("ix_lockdown_users_user_id", "user_id"),)

    referral_id: Mapped[UUID] = mapped_column(
        ForeignKey("lockdowns.referral_id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
