"""Alerts the sweeps raise for the triage unit (DESIGN 6), each raised once, and acknowledged."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from triage.audit import service as audit
from triage.auth.service import Caller
from triage.deadlines.models import Alert
from triage.errors import Conflict, NotFound
from triage.notifications.outbox import enqueue

KINDS = (
    "contact_overdue",
    "offer_expired",
    "vcop_due_soon",
    "vcop_breached",
    "escalation",
    "hate_crime_spike",
)


@dataclass(frozen=True)
class Notify:
    """Where a newly raised alert's message goes."""

    recipient: str
    base_url: str


def raise_alert(
    session: Session,
    *,
    key: str,
    kind: str,
    now: datetime,
    referral_id: UUID | None = None,
    due_at: datetime | None = None,
    detail: dict[str, Any] | None = None,
    notify: Notify | None = None,
) -> None:
    """Raise an alert unless one with this key was raised before (in the caller's transaction).

    A newly raised alert also writes its message to the outbox (`notify`), in the same
    transaction; the message names the referral by link only, never the victim.
    """
    statement = _INSERT[session.get_bind().dialect.name]
    inserted = session.execute(
        statement,
        {
            "key": key,
            "kind": kind,
            "referral_id": referral_id,
            "raised_at": now,
            "due_at": due_at,
            "detail": detail or {},
        },
    ).scalar_one_or_none()
    if inserted is None or notify is None:
        return
    link = f"{notify.base_url}/api/referrals/{referral_id}" if referral_id else notify.base_url
    facts = ", ".join(f"{k}: {v}" for k, v in sorted((detail or {}).items()))
    enqueue(
        session,
        kind=kind,
        recipient=notify.recipient,
        subject=f"[{kind}] {'referral ' + str(referral_id) if referral_id else 'triage unit'}",
        body=f"{kind.replace('_', ' ')}. {facts}\nDue: {due_at or '-'}\nOpen: {link}\n",
        now=now,
        referral_id=referral_id,
    )


_INSERT = {
    name: dialect.insert(Alert.__table__)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(Alert.__table__.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def open_alerts(session: Session, *, include_acknowledged: bool, limit: int) -> list[Alert]:
    """The newest alerts first; by default only those not yet acknowledged."""
    query = select(Alert).order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit)
    if not include_acknowledged:
        query = query.where(Alert.acknowledged_at.is_(None))
    return list(session.scalars(query))


def acknowledge(session: Session, *, caller: Caller, alert_id: int, now: datetime) -> Alert:
    """Mark an alert seen; acknowledging twice answers 409."""
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    if alert.acknowledged_at is not None:
        raise Conflict(
            "this alert was acknowledged already",
            state="acknowledged",
            version=None,
            allowed_events=[],
            failed=["already_acknowledged"],
        )
    alert.acknowledged_at, alert.acknowledged_by = now, caller.user_id
    audit.record(
        session,
        caller=caller,
        action="alert_acknowledged",
        now=now,
        referral_id=alert.referral_id,
        detail={"alert": alert_id, "kind": alert.kind},
    )
    return alert
