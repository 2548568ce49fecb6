"""Every query of the sharing export."""

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from triage.assessment.models import Assessment
from triage.referrals.models import Lockdown, Referral


def shareable(
    session: Session,
    *,
    areas: Collection[str],
    crime_types: Collection[str],
    since: datetime,
    until: datetime,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[tuple[Referral, Assessment]]:
    """Up to `limit` referrals a partner may be sent, with their assessments, in change order
    (`updated_at`, then id) after `after` (the last of the batch before): the victim's consent
    to share recorded as given now, not locked down, not anonymised, in one of `areas` (and of
    `crime_types`, unless empty), changed from `since` up to, not including, `until`."""
    statement = (
        select(Referral, Assessment)
        .join(Assessment, Assessment.referral_id == Referral.id)
        .where(
            Assessment.consent_to_share.is_(True),
            ~exists().where(Lockdown.referral_id == Referral.id),
            Referral.anonymised_at.is_(None),
            Referral.area.in_(list(areas)),
            Referral.updated_at >= since,
            Referral.updated_at < until,
        )
        .order_by(Referral.updated_at, Referral.id)
        .limit(limit)
    )
    if crime_types:
        statement = statement.where(Referral.crime_type.in_(list(crime_types)))
    if after is not None:
        changed, referral_id = after
        statement = statement.where(
            or_(
                Referral.updated_at > changed,
                and_(Referral.updated_at == changed, Referral.id > referral_id),
            )
        )
    return [(referral, assessment) for referral, assessment in session.execute(statement)]
