"""Alerts the sweeps raise for the triage unit (DESIGN 6), each raised once, and acknowledged."""

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

KINDS = (
    "contact_overdue",
    "offer_expired",
    "vcop_due_soon",
    "vcop_breached",
    "escalation",
    "hate_crime_spike",
)


def raise_alert(
    session: Session,
    *,
    key: str,
    kind: str,
    now: datetime,
    referral_id: UUID | None = None,
    due_at: datetime | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Raise an alert unless one with this key was raised before (in the caller's transaction)."""
    statement = _INSERT[session.get_bind().dialect.name]
    session.execute(
        statement,
        {
            "key": key,
            "kind": kind,
            "referral_id": referral_id,
            "raised_at": now,
            "due_at": due_at,
            "detail": detail or {},
        },
    )


_INSERT = {
    name: dialect.insert(Alert.__table__).on_conflict_do_nothing(index_elements=["key"])
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
