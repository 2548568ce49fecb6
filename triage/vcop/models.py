from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class Entitlement(Base):
    """The current state of one tracked right for one referral; `due_at` is its deadline."""

    __tablename__ = "entitlements"
    __table_args__ = (
        UniqueConstraint("referral_id", "right"),
        Index("ix_entitlements_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[UUID] = mapped_column(ForeignKey("referrals.id"))
    right: Mapped[str] = mapped_column(String(20))
    edition: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(40))
    evaluated_at: Mapped[datetime]


class EntitlementCheck(Base):
    """One line of the check log: a right evaluated, its outcome, evidence, by whom, when."""

    __tablename__ = "entitlement_checks"
    __table_args__ = (Index("ix_entitlement_checks_referral_id_id", "referral_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[UUID] = mapped_column(ForeignKey("referrals.id"))
    right: Mapped[str] = mapped_column(String(20))
    edition: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(40))
    trigger: Mapped[str] = mapped_column(String(40))
    evidence: Mapped[dict[str, Any]]
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime]
