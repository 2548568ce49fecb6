"""Every aggregate query of the deadlines domain: what is late or due soon, per queue."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, distinct, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from triage.deadlines.models import Alert
from triage.lifecycle.codes import State
from triage.referrals.models import Offer, Referral
from triage.vcop.models import EntitlementCheck
from triage.vcop.rights import BREACHED, PENDING

# The triage unit's queues: every state a referral waits in before it is closed.
QUEUES = (
    State.received,
    State.contacting,
    State.assessing,
    State.awaiting_provider,
    State.in_support,
)
OVERDUE, DUE_SOON = "overdue", "due_soon"


def deadline_counts(
    session: Session, *, now: datetime, horizon: datetime
) -> dict[tuple[str, str], int]:
    """Referrals per (queue, `overdue` or `due_soon`), each counted once per pair.

    Overdue: an open offer past its respond-by time, or a current right breached or pending
    past due (the referral list's `overdue` filter). Due soon: an open offer or a pending
    right falling due between `now` and `horizon`. Read from the due columns' own indexes.
    """
    open_offer = Offer.answer.is_(None)
    current = EntitlementCheck.current.is_(True)
    pending = and_(current, EntitlementCheck.status == PENDING)
    flagged = union_all(
        _flag(Offer.referral_id, OVERDUE, open_offer, Offer.respond_by < now),
        _flag(
            EntitlementCheck.referral_id,
            OVERDUE,
            current,
            or_(
                EntitlementCheck.status == BREACHED,
                and_(EntitlementCheck.status == PENDING, EntitlementCheck.due_at < now),
            ),
        ),
        _flag(Offer.referral_id, DUE_SOON, open_offer, Offer.respond_by.between(now, horizon)),
        _flag(
            EntitlementCheck.referral_id,
            DUE_SOON,
            pending,
            EntitlementCheck.due_at.between(now, horizon),
        ),
    ).subquery()
    rows = session.execute(
        select(Referral.state, flagged.c.flag, func.count(distinct(Referral.id)))
        .join(flagged, flagged.c.referral_id == Referral.id)
        .where(Referral.state.in_(QUEUES))
        .group_by(Referral.state, flagged.c.flag)
    )
    return {(state, flag): count for state, flag, count in rows}


def _flag(
    referral_id: ColumnElement[UUID], flag: str, *conditions: ColumnElement[bool]
) -> Select[tuple[UUID, str]]:
    return select(referral_id.label("referral_id"), literal(flag).label("flag")).where(*conditions)


def open_alert_counts(session: Session) -> dict[str, int]:
    """Alerts not yet acknowledged, per kind (kinds with none are absent)."""
    rows = session.execute(
        select(Alert.kind, func.count()).where(Alert.acknowledged_at.is_(None)).group_by(Alert.kind)
    )
    return {kind: count for kind, count in rows}
