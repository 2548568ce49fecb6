"""Every query of the deadlines domain: what falls due (claimed for a sweep), the alerts
raised, and what is late or due soon per queue."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Row,
    Select,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from triage.db import table_of
from triage.deadlines.models import Alert
from triage.lifecycle.codes import State
from triage.referrals.models import ContactAttempt, Offer, Referral
from triage.referrals.repository import may_read, readable_by
from triage.vcop.models import EntitlementCheck
from triage.vcop.rights import PENDING

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
    """Open referrals per (queue, `overdue` or `due_soon`) by when each next falls due
    (`urgent_at`: first contact, a right, a provider's answer): overdue before `now` (the
    referral list's `overdue` filter), due soon from `now` to `horizon`."""
    flag = case((Referral.urgent_at < now, literal(OVERDUE)), else_=literal(DUE_SOON))
    rows = session.execute(
        select(Referral.state, flag, func.count())
        .where(Referral.state.in_(QUEUES), Referral.urgent_at <= horizon)
        .group_by(Referral.state, flag)
    )
    return {(state, kind): count for state, kind, count in rows}


def open_alert_counts(session: Session) -> dict[str, int]:
    """Alerts not yet acknowledged, per kind (kinds with none are absent)."""
    rows = session.execute(
        select(Alert.kind, func.count()).where(Alert.acknowledged_at.is_(None)).group_by(Alert.kind)
    )
    return {kind: count for kind, count in rows}


# Claims --------------------------------------------------------------------------------------


def due_offers(now: datetime) -> Select[UUID]:
    """Referrals with an open offer past its respond-by time, soonest due first."""
    return (
        select(Referral.id)
        .join(Offer, Offer.referral_id == Referral.id)
        .where(Offer.answer.is_(None), Offer.respond_by <= now)
        .order_by(Offer.respond_by)
    )


def overdue_rights(now: datetime) -> Select[UUID]:
    """Referrals with a Victims' Code right still pending past its due time, soonest first."""
    return (
        select(Referral.id)
        .join(EntitlementCheck, EntitlementCheck.referral_id == Referral.id)
        .where(
            EntitlementCheck.current.is_(True),
            EntitlementCheck.status == PENDING,
            EntitlementCheck.due_at < now,
        )
        .order_by(EntitlementCheck.due_at)
    )


def claiming(due: Select[UUID], limit: int) -> Select[UUID]:
    """The first `limit` due rows, their referrals locked unless another sweep holds them
    (FOR UPDATE SKIP LOCKED; on SQLite the write transaction already excludes every other
    writer)."""
    return due.limit(limit).with_for_update(of=Referral, skip_locked=True)


def claim_due_offers(session: Session, *, now: datetime, limit: int) -> tuple[list[UUID], int]:
    """Claim referrals with an offer past respond-by (see `claim`)."""
    return claim(session, due_offers(now), limit)


def claim_overdue_rights(session: Session, *, now: datetime, limit: int) -> tuple[list[UUID], int]:
    """Claim referrals with a right pending past due (see `claim`)."""
    return claim(session, overdue_rights(now), limit)


def claim(session: Session, due: Select[UUID], limit: int) -> tuple[list[UUID], int]:
    """Lock up to `limit` due rows' referrals that no other sweep holds.

    Answers the distinct referrals, in due order, and how many rows were seen (a referral
    with two due rows counts twice there, so the caller knows whether to fetch more).
    """
    rows = list(session.scalars(claiming(due, limit)))
    return list(dict.fromkeys(rows)), len(rows)


def rights_due_between(
    session: Session, *, start: datetime, end: datetime
) -> list[Row[UUID, str, datetime]]:
    """(referral, right, due time) of each current right pending and due in [start, end]."""
    return list(
        session.execute(
            select(
                EntitlementCheck.referral_id, EntitlementCheck.right, EntitlementCheck.due_at
            ).where(
                EntitlementCheck.current.is_(True),
                EntitlementCheck.status == PENDING,
                EntitlementCheck.due_at >= start,
                EntitlementCheck.due_at <= end,
            )
        )
    )


def uncontacted_since(
    session: Session, *, before: datetime
) -> list[Row[UUID, datetime, int, datetime | None]]:
    """(referral, received, version, last attempt) of referrals not yet contacted whose last
    attempt (or, without one, whose receipt) was at or before `before`."""
    last_attempt = (
        select(ContactAttempt.referral_id, func.max(ContactAttempt.at).label("at"))
        .group_by(ContactAttempt.referral_id)
        .subquery()
    )
    return list(
        session.execute(
            select(Referral.id, Referral.received_at, Referral.version, last_attempt.c.at)
            .outerjoin(last_attempt, last_attempt.c.referral_id == Referral.id)
            .where(
                Referral.state.in_([State.received, State.contacting]),
                func.coalesce(last_attempt.c.at, Referral.received_at) <= before,
            )
        )
    )


def received_between(
    session: Session, *, start: datetime, end: datetime
) -> list[Row[datetime, str, list[str]]]:
    """(received, area, hate strands) of referrals received after `start`, up to `end`."""
    return list(
        session.execute(
            select(Referral.received_at, Referral.area, Referral.hate_strands).where(
                Referral.received_at > start, Referral.received_at <= end
            )
        )
    )


# Alerts --------------------------------------------------------------------------------------


def add_alerts(session: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert alerts whose key is new (one statement); answers the keys inserted."""
    statement = _INSERT_ALERT[session.get_bind().dialect.name]
    return set(session.scalars(statement, list(rows)))


_INSERT_ALERT = {
    name: dialect.insert(table_of(Alert))
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(table_of(Alert).c.key)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def newest_alerts(
    session: Session,
    *,
    include_acknowledged: bool,
    limit: int,
    reader_id: int | None,
    referral_id: UUID | None = None,
) -> list[tuple[Alert, str | None]]:
    """Alerts newest first, each with its referral's reference; one referral's if given;
    none about a referral locked down to users other than `reader_id`."""
    query = (
        select(Alert, Referral.reference)
        .outerjoin(Referral, Referral.id == Alert.referral_id)
        .where(readable_by(reader_id))
        .order_by(Alert.raised_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    if not include_acknowledged:
        query = query.where(Alert.acknowledged_at.is_(None))
    if referral_id is not None:
        query = query.where(Alert.referral_id == referral_id)
    return [(alert, reference) for alert, reference in session.execute(query)]


def reference_of(session: Session, referral_id: UUID | None) -> str | None:
    if referral_id is None:
        return None
    return session.scalar(select(Referral.reference).where(Referral.id == referral_id))


def returned_to_unit(session: Session) -> list[Row[UUID, str, datetime]]:
    """(id, reference, when) of each referral a provider gave back, not yet routed again."""
    return list(
        session.execute(
            select(Referral.id, Referral.reference, Referral.returned_at).where(
                Referral.returned_at.is_not(None)
            )
        )
    )


def alert_for_update(session: Session, alert_id: int, reader_id: int | None) -> Alert | None:
    """The alert, locked, unless it is about a referral locked down to other users."""
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None or alert.referral_id is None:
        return alert
    return alert if may_read(session, alert.referral_id, reader_id) else None


def alerted_since(session: Session, *, key_prefix: str, since: datetime) -> bool:
    """Whether an alert whose key starts with `key_prefix` was raised at or after `since`."""
    found = session.scalar(
        select(Alert.id).where(Alert.key.startswith(key_prefix), Alert.raised_at >= since).limit(1)
    )
    return found is not None
