"""The Notifier protocol: how the service hands a message to an outside delivery system.

Implementations live in `adapters/notifications/` and are wired in by `triage/app.py` only.
"""

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class Outgoing:
    message_id: UUID
    recipient: str
    subject: str
    body: str


class Undeliverable(Exception):
    """The delivery system refused this message for good (GOV.UK Notify's 400): sending it
    again would be refused again, so it is marked failed with this reason, not retried.

    The reason is kept on the outbox row and must name no person."""


class Notifier(Protocol):
    def send(self, message: Outgoing) -> None:
        """Deliver one message or raise; the same `message_id` may be sent again after a crash.

        `Undeliverable` fails the message for good; any other error is retried with backoff.
        """
