"""When an open referral next falls due (pure): the queue's order and what "overdue" means.

Whatever comes first of: first contact (the last attempt, or receipt, plus the contact
standard) while the victim has not been reached; each current Victims' Code right still
pending or breached; the open offer's respond-by time. A closed referral has nothing due.
Overdue is this time passed, and the queue, the overdue filter and the alerts summary all
read it (`Referral.urgent_at`, kept by every change).
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from triage.lifecycle.codes import State
from triage.vcop.rights import BREACHED, PENDING

WAITING_FOR_CONTACT = frozenset({State.received, State.contacting})


def contact_due(received_at: datetime, attempts: Iterable[datetime], hours: float) -> datetime:
    """When the next contact attempt is due: the contact standard after the last attempt,
    or after receipt before any."""
    return max(attempts, default=received_at) + timedelta(hours=hours)


def urgent_at(
    *,
    state: str,
    contact: datetime | None,
    rights: Iterable[tuple[str, datetime | None]],
    respond_by: datetime | None,
) -> datetime | None:
    """The soonest of what is due on an open referral; `rights` are (status, due time)."""
    if state == State.closed:
        return None
    due = [at for status, at in rights if at is not None and status in (PENDING, BREACHED)]
    if respond_by is not None:
        due.append(respond_by)
    if contact is not None and state in WAITING_FOR_CONTACT:
        due.append(contact)
    return min(due, default=None)
