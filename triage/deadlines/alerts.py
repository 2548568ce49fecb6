"""Alerts the sweeps raise for the triage unit (DESIGN 6), each raised once, and acknowledged."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from triage.audit import service as audit
from triage.caller import Caller
from triage.deadlines import repository
from triage.deadlines.models import Alert
from triage.deadlines.schemas import AlertSummary, QueueCounts
from triage.errors import Conflict, NotFound
from triage.notifications.service import Message, enqueue_many

KINDS = (
    "contact_overdue",
    "offer_expired",
    "vcop_due_soon",
    "vcop_breached",
    "escalation",
    "hate_crime_spike",
    "returned_to_unit",
)


@dataclass(frozen=True)
class Notify:
    """Where a newly raised alert's message goes."""

    recipient: str
    base_url: str


@dataclass(frozen=True)
class NewAlert:
    """An alert to raise: `key` says which cause it is, so the same cause raises it once."""

    key: str
    kind: str
    referral_id: UUID | None = None
    due_at: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)


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
    """Raise an alert unless one with this key was raised before (in the caller's transaction)."""
    alert = NewAlert(key, kind, referral_id, due_at, detail or {})
    raise_alerts(session, [alert], now=now, notify=notify)


def raise_alerts(
    session: Session, alerts: Sequence[NewAlert], *, now: datetime, notify: Notify | None = None
) -> int:
    """Raise each alert unless one with its key was raised before; answers how many were new.

    One statement for the alerts and one for their messages (a sweep raises a batch's alerts
    together). Each newly raised alert also writes its message to the outbox (`notify`), in
    the same transaction; the message names the referral by link only, never the victim.
    """
    if not alerts:
        return 0
    first_of_each: dict[str, NewAlert] = {}
    for alert in alerts:
        first_of_each.setdefault(alert.key, alert)
    alerts = list(first_of_each.values())
    rows = [
        {
            "key": a.key,
            "kind": a.kind,
            "referral_id": a.referral_id,
            "raised_at": now,
            "due_at": a.due_at,
            "detail": a.detail,
        }
        for a in alerts
    ]
    inserted = repository.add_alerts(session, rows)
    if notify is not None:
        enqueue_many(session, [_message(a, notify) for a in alerts if a.key in inserted], now=now)
    return len(inserted)


def _message(alert: NewAlert, notify: Notify) -> Message:
    referral_id = alert.referral_id
    link = f"{notify.base_url}/api/referrals/{referral_id}" if referral_id else notify.base_url
    facts = ", ".join(f"{k}: {v}" for k, v in sorted(alert.detail.items()))
    about = f"referral {referral_id}" if referral_id else "triage unit"
    return Message(
        kind=alert.kind,
        recipient=notify.recipient,
        subject=f"[{alert.kind}] {about}",
        body=f"{alert.kind.replace('_', ' ')}. {facts}\nDue: {alert.due_at or '-'}\nOpen: {link}\n",
        referral_id=referral_id,
    )


def open_alerts(
    session: Session,
    *,
    include_acknowledged: bool,
    limit: int,
    caller: Caller,
    referral_id: UUID | None = None,
) -> list[tuple[Alert, str | None]]:
    """The newest alerts first, each with its referral's reference; by default only those
    not yet acknowledged; only one referral's when `referral_id` is given; none about a
    referral locked down to others."""
    return repository.newest_alerts(
        session, include_acknowledged=include_acknowledged, limit=limit,
        reader_id=caller.user_id, referral_id=referral_id,
    )  # fmt: skip


def summarise(session: Session, *, now: datetime, window_hours: float) -> AlertSummary:
    """What is overdue and due within `window_hours` in each queue, and the open alerts."""
    counted = repository.deadline_counts(
        session, now=now, horizon=now + timedelta(hours=window_hours)
    )
    by_kind = repository.open_alert_counts(session)
    return AlertSummary(
        as_of=now,
        window_hours=window_hours,
        queues=[
            QueueCounts(
                state=state,
                overdue=counted.get((state, repository.OVERDUE), 0),
                due_soon=counted.get((state, repository.DUE_SOON), 0),
            )
            for state in repository.QUEUES
        ],
        open_alerts={kind: by_kind.get(kind, 0) for kind in KINDS},
    )


def acknowledge(
    session: Session, *, caller: Caller, alert_id: int, now: datetime
) -> tuple[Alert, str | None]:
    """Mark an alert seen; acknowledging twice answers 409."""
    alert = repository.alert_for_update(session, alert_id, caller.user_id)
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
    return alert, repository.reference_of(session, alert.referral_id)


def alerted_since(session: Session, *, key_prefix: str, since: datetime) -> bool:
    """Whether an alert whose key starts with `key_prefix` was raised at or after `since`."""
    return repository.alerted_since(session, key_prefix=key_prefix, since=since)
