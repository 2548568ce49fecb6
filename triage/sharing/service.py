"""The sharing export (issue 16): the referrals a partner may see, written through a
`SharingWriter`, each audited in the caller's transaction."""

from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from triage.assessment.models import Assessment
from triage.audit import service as audit
from triage.caller import Caller
from triage.referrals.models import Referral
from triage.sharing import repository
from triage.sharing.partners import Partner
from triage.sharing.protocol import SharingWriter
from triage.sharing.schemas import SharingRecord

SHARED = "shared"  # the audit action of each record written
BATCH = 500  # referrals read, written and audited at a time


def share_referrals(
    session: Session,
    *,
    partner: Partner,
    purpose: str,
    since: datetime,
    now: datetime,
    caller: Caller,
    writer: SharingWriter,
    batch: int = BATCH,
) -> int:
    """Write every referral `partner` may see that changed from `since` up to `now` (not
    including `now`, so the next export from `now` neither misses nor repeats one), and audit
    each with one `shared` line naming the partner and purpose (no personal data). Answers
    how many. The caller owns the transaction: it calls the writer's `publish` after commit.

    Consent is read as it is now: consent withdrawn since an earlier export stops the next.
    """
    detail = {"partner": partner.code, "purpose": purpose}
    shared = 0
    after: tuple[datetime, UUID] | None = None
    while True:
        rows = repository.shareable(
            session, areas=partner.areas, crime_types=partner.crime_types, since=since,
            until=now, after=after, limit=batch,
        )  # fmt: skip
        if not rows:
            return shared
        writer.write([record_of(r, a, partner=partner.code, purpose=purpose, now=now)
                      for r, a in rows])  # fmt: skip
        audit.record_many(session, [
            audit.line(caller=caller, action=SHARED, now=now, referral_id=referral.id,
                       version=referral.version, detail=dict(detail))
            for referral, _ in rows
        ])  # fmt: skip
        shared += len(rows)
        if len(rows) < batch:
            return shared
        last = rows[-1][0]
        after = (last.updated_at, last.id)


def record_of(
    referral: Referral, assessment: Assessment, *, partner: str, purpose: str, now: datetime
) -> SharingRecord:
    """One referral as the partner receives it."""
    return SharingRecord.model_validate({
        "reference": referral.reference,
        "partner": partner,
        "purpose": purpose,
        "shared_at": now,
        "area": referral.area,
        "crime_type": referral.crime_type,
        "hate_strands": referral.hate_strands,
        "received_at": referral.received_at,
        "state": referral.state,
        "victim": {
            "full_name": referral.victim_full_name,
            "date_of_birth": referral.victim_date_of_birth,
            "phone": referral.victim_phone,
            "email": referral.victim_email,
            "address": referral.victim_address,
            "postcode": referral.victim_postcode,
            "safe_channels": referral.safe_channels,
            "safe_times": referral.safe_times,
            "language": referral.language,
        },
        "needs": assessment.needs,
        "risk_level": assessment.risk_level,
        "consent": {
            "method": assessment.consent_method,
            "recorded_at": assessment.consent_recorded_at,
        },
    })  # fmt: skip
