from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class AuditEvent(Base):
    """One append-only line of the audit log: who did what, when, and the state around it."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_referral_id_id", "referral_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    referral_id: Mapped[UUID | None] = mapped_column(ForeignKey("referrals.id"))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str | None] = mapped_column(String(30))
    version: Mapped[int | None]
    detail: Mapped[dict[str, Any]]
