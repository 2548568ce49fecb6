"""The notification outbox: enqueue in the cause's transaction, dispatch with retries."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from triage.db import transaction
from triage.notifications import repository
from triage.notifications.protocol import Notifier, Outgoing, Undeliverable

MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class Message:
    """One message to send; it names a referral by link only, never the victim."""

    kind: str
    recipient: str
    subject: str
    body: str
    referral_id: uuid.UUID | None = None


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: str,
    subject: str,
    body: str,
    now: datetime,
    referral_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Write a message to the outbox in the caller's transaction; answers its stable id."""
    (message_id,) = enqueue_many(
        session, [Message(kind, recipient, subject, body, referral_id)], now=now
    )
    return message_id


def enqueue_many(
    session: Session, messages: Sequence[Message], *, now: datetime
) -> list[uuid.UUID]:
    """Write several messages to the outbox in one statement; answers their stable ids."""
    if not messages:
        return []
    rows: list[dict[str, Any]] = [
        {
            "id": uuid.uuid4(),
            "kind": m.kind,
            "recipient": m.recipient,
            "subject": m.subject,
            "body": m.body,
            "referral_id": m.referral_id,
            "created_at": now,
            "next_attempt_at": now,
            "attempts": 0,
        }
        for m in messages
    ]
    repository.add_messages(session, rows)
    return [row["id"] for row in rows]


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after each failure, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def dispatch(
    factory: sessionmaker[Session], notifier: Notifier, *, now: datetime, batch: int = 100
) -> int:
    """Send every message due now, each claimed by one dispatcher only; answers how many sent.

    A message is claimed (`FOR UPDATE SKIP LOCKED`), sent, and marked in one transaction: a
    crash after sending but before the commit leaves it unsent, and the next run sends it
    again with the same id. A failure counts an attempt and backs off; a refusal for good
    (`Undeliverable`) marks the message failed with the reason, and it is not sent again.
    """
    sent = 0
    with transaction(factory) as session:
        for message in repository.claim_due_messages(session, now=now, limit=batch):
            try:
                notifier.send(
                    Outgoing(message.id, message.recipient, message.subject, message.body)
                )
            except Undeliverable as refusal:
                message.attempts += 1
                message.last_error = str(refusal)[:2000]
                message.failed_at = now
                continue
            except Exception as error:  # any other delivery failure is retried, never fatal
                message.attempts += 1
                message.last_error = f"{type(error).__name__}: {error}"[:2000]
                message.next_attempt_at = now + backoff(message.attempts)
                continue
            message.attempts += 1
            message.sent_at = now
            sent += 1
    return sent
