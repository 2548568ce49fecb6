"""Every query of the routing domain: stored decisions."""

from typing import Any
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from triage.db import table_of, write
from triage.routing.models import RoutingDecision


def add_decision(session: Session, values: dict[str, Any]) -> None:
    """Keep one decision (now; in a `write_behind` block, at its end)."""
    write(session, _INSERT, values)


_INSERT = insert(table_of(RoutingDecision))


def latest_decision(session: Session, referral_id: UUID) -> RoutingDecision | None:
    return session.scalar(
        select(RoutingDecision)
        .where(RoutingDecision.referral_id == referral_id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
    )
