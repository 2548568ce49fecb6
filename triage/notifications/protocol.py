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


class Notifier(Protocol):
    def send(self, message: Outgoing) -> None:
        """Deliver one message or raise; the same `message_id` may be sent again after a crash."""
