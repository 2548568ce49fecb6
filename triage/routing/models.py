from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class RoutingDecision(Base):
    """One stored routing decision: what the rules chose, why, and what was offered."""

    __tablename__ = "routing_decisions"
    __table_args__ = (Index("ix_routing_decisions_referral_id_id", "referral_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[UUID] = mapped_column(ForeignKey("referrals.id"))
    decided_at: Mapped[datetime]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    trigger: Mapped[str] = mapped_column(String(30))
    rule_set_version: Mapped[str] = mapped_column(String(100))
    rule_set_hash: Mapped[str] = mapped_column(String(64))
    matched_rules: Mapped[list[str]]
    candidates: Mapped[list[dict[str, Any]]]
    skipped: Mapped[list[dict[str, Any]]]
    chosen_provider: Mapped[str | None] = mapped_column(String(64))
    by_hand: Mapped[bool]
    rules_would_choose: Mapped[str | None] = mapped_column(String(64))
    no_route_reason: Mapped[str | None] = mapped_column(String(40))
