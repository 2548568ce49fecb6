"""Every query of the routing domain: stored decisions."""

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.routing.models import RoutingDecision


def add_decision(session: Session, decision: RoutingDecision) -> RoutingDecision:
    session.add(decision)
    return decision


def latest_decision(session: Session, referral_id: UUID) -> RoutingDecision | None:
    return session.scalar(
        select(RoutingDecision)
        .where(RoutingDecision.referral_id == referral_id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
    )
