"""Every query of the Victims' Code check log."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from triage.db import table_of, write
from triage.vcop.models import EntitlementCheck


def add_checks(session: Session, rows: Sequence[dict[str, Any]], *, supersede: UUID | None) -> None:
    """Append check-log rows; with `supersede`, that referral's current rows stop being
    current first."""
    if supersede is not None:
        write(session, _SUPERSEDE, {"of_referral": supersede})
    write(session, _INSERT_CHECK, list(rows))


# Built once; run with parameters (the check log is written on every event).
_INSERT_CHECK = insert(table_of(EntitlementCheck))
_SUPERSEDE = (
    update(table_of(EntitlementCheck))
    .where(
        table_of(EntitlementCheck).c.referral_id == bindparam("of_referral"),
        table_of(EntitlementCheck).c.current.is_(True),
    )
    .values(current=False)
)


def checks_of(session: Session, referral_id: UUID) -> list[EntitlementCheck]:
    """Every check of a referral, oldest first."""
    return list(
        session.scalars(
            select(EntitlementCheck)
            .where(EntitlementCheck.referral_id == referral_id)
            .order_by(EntitlementCheck.id)
        )
    )


def current_checks(session: Session, referral_id: UUID) -> list[EntitlementCheck]:
    return list(
        session.scalars(
            select(EntitlementCheck).where(
                EntitlementCheck.referral_id == referral_id, EntitlementCheck.current.is_(True)
            )
        )
    )
