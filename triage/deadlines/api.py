"""What the deadline sweeps raised, for the triage unit: reminders, escalations, breaches."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from triage.bounds import RowId
from triage.deadlines import alerts
from triage.deadlines.models import Alert
from triage.deadlines.schemas import AlertList, AlertRead, AlertSummary
from triage.deps import AppSettings, DbSession, NoUnknownQuery, Now, TriageOrAdmin

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


def alert_view(alert: Alert, reference: str | None) -> AlertRead:
    return AlertRead(
        id=alert.id,
        kind=alert.kind,
        referral=alert.referral_id,
        reference=reference,
        raised_at=alert.raised_at,
        due_at=alert.due_at,
        detail=alert.detail,
        acknowledged_at=alert.acknowledged_at,
    )


@router.get("", response_model=AlertList)
def list_alerts(
    caller: TriageOrAdmin,
    session: DbSession,
    acknowledged: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    _unknown: NoUnknownQuery = None,
) -> AlertList:
    """Open alerts, newest first (`acknowledged=true` includes those already seen)."""
    found = alerts.open_alerts(
        session, include_acknowledged=acknowledged, limit=limit, caller=caller
    )
    return AlertList(items=[alert_view(alert, reference) for alert, reference in found])


@router.get("/summary", response_model=AlertSummary)
def alert_summary(
    caller: TriageOrAdmin,
    session: DbSession,
    now: Now,
    settings: AppSettings,
    _unknown: NoUnknownQuery = None,
) -> AlertSummary:
    """Per queue, referrals overdue and due within the warning window; open alerts by kind."""
    return alerts.summarise(session, now=now, window_hours=settings.vcop_warning_hours)


@router.post("/{alert_id}/acknowledge", response_model=AlertRead)
def acknowledge_alert(
    alert_id: Annotated[RowId, Path()],
    caller: TriageOrAdmin,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> AlertRead:
    """Mark an alert as seen (audited)."""
    alert, reference = alerts.acknowledge(session, caller=caller, alert_id=alert_id, now=now)
    return alert_view(alert, reference)
