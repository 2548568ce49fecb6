"""Deadline sweeps: respond-by expiry and Victims' Code breaches (DESIGN 6).

Deadlines are columns (`offers.respond_by`, the current check row's `due_at`), never jobs
per referral. A sweep claims due referrals with `FOR UPDATE SKIP LOCKED` on PostgreSQL (a
write transaction on SQLite), applies the change and commits, batch by batch; two sweeps in
two processes never take the same referral, and whatever fell due while the service was
down is found by the first sweep after it starts. The referral row is the lock, taken before
anything else, in the same order as a person's event, so sweeps and people never deadlock.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from triage.auth.service import SYSTEM
from triage.config import Settings
from triage.db import transaction
from triage.deadlines.alerts import NewAlert, Notify, raise_alert, raise_alerts
from triage.deadlines.models import Alert
from triage.deadlines.spikes import judge_spike
from triage.lifecycle.codes import Event, State
from triage.referrals.context import ReferralContext, load_many
from triage.referrals.events import apply_event
from triage.referrals.models import ContactAttempt, Offer, Referral
from triage.referrals.schemas import Expire
from triage.vcop import service as vcop_service
from triage.vcop.models import EntitlementCheck
from triage.vcop.rights import BREACHED, PENDING

BATCH = 200
MAX_BATCHES = 1000  # a bound, so a row that cannot be changed never spins a sweep forever


def expire_overdue_offers(
    factory: sessionmaker[Session], *, now: datetime, settings: Settings, batch: int = BATCH
) -> int:
    """Fire `expire` for every open offer past its respond-by time; answers how many."""
    due = (
        select(Referral.id)
        .join(Offer, Offer.referral_id == Referral.id)
        .where(Offer.answer.is_(None), Offer.respond_by <= now)
        .order_by(Offer.respond_by)
    )

    def expire(session: Session, context: ReferralContext, raised: list[NewAlert]) -> bool:
        if context.referral.state != State.awaiting_provider or not context.open_offer:
            return False
        offer, provider = context.open_offer
        apply_event(
            session,
            context=context,
            caller=SYSTEM,
            event=Event.expire,
            body=Expire(version=context.referral.version),
            now=now,
        )
        next_offer = context.open_offer
        raised.append(
            NewAlert(
                key=f"offer_expired:{offer.id}",
                kind="offer_expired",
                referral_id=context.referral.id,
                due_at=offer.respond_by,
                detail={
                    "provider": provider,
                    "offered_to": next_offer[1] if next_offer else None,
                    "state": context.referral.state,
                },
            )
        )
        return True

    return _sweep(factory, due, expire, now=now, settings=settings, batch=batch)


def mark_vcop_breaches(
    factory: sessionmaker[Session], *, now: datetime, settings: Settings, batch: int = BATCH
) -> int:
    """Re-evaluate referrals with a right pending past its due time; answers how many."""
    due = (
        select(Referral.id)
        .join(EntitlementCheck, EntitlementCheck.referral_id == Referral.id)
        .where(
            EntitlementCheck.current.is_(True),
            EntitlementCheck.status == PENDING,
            EntitlementCheck.due_at < now,
        )
        .order_by(EntitlementCheck.due_at)
    )

    def recheck(session: Session, context: ReferralContext, raised: list[NewAlert]) -> bool:
        evaluation = vcop_service.reevaluate(
            session, context=context, caller=None, trigger="deadline_sweep", now=now
        )
        raised.extend(
            NewAlert(
                key=f"vcop_breached:{context.referral.id}:{right.right}",
                kind="vcop_breached",
                referral_id=context.referral.id,
                due_at=right.due_at,
                detail={"right": right.right, "edition": evaluation.edition},
            )
            for right in evaluation.rights
            if right.status == BREACHED
        )
        return True

    return _sweep(factory, due, recheck, now=now, settings=settings, batch=batch)


Handler = Callable[[Session, ReferralContext, list[NewAlert]], bool]


def _sweep(
    factory: sessionmaker[Session],
    due: Select[tuple[UUID]],
    handle: Handler,
    *,
    now: datetime,
    settings: Settings,
    batch: int,
) -> int:
    """Claim due referrals a batch at a time, each batch in its own transaction, and
    `handle` each; answers how many were handled.

    A batch's referrals are loaded together, and the alerts its handlers raise are inserted
    together at its end, in its transaction: a few statements per batch instead of several
    per referral.
    """
    handled = 0
    for _ in range(MAX_BATCHES):
        with transaction(factory) as session:
            claimed, seen = _claim(session, due, batch)
            raised: list[NewAlert] = []
            for context in load_many(session, referral_ids=claimed, settings=settings):
                handled += handle(session, context, raised)
            raise_alerts(session, raised, now=now, notify=_notify(settings))
        if seen < batch:
            break
    return handled


def warn_vcop_due_soon(factory: sessionmaker[Session], *, now: datetime, settings: Settings) -> int:
    """Raise one `vcop_due_soon` alert for each right falling due within the warning window."""
    horizon = now + timedelta(hours=settings.vcop_warning_hours)
    with transaction(factory) as session:
        due = session.execute(
            select(
                EntitlementCheck.referral_id, EntitlementCheck.right, EntitlementCheck.due_at
            ).where(
                EntitlementCheck.current.is_(True),
                EntitlementCheck.status == PENDING,
                EntitlementCheck.due_at >= now,
                EntitlementCheck.due_at <= horizon,
            )
        ).all()
        for referral_id, right, due_at in due:
            raise_alert(
                session,
                notify=_notify(settings),
                key=f"vcop_due_soon:{referral_id}:{right}:{due_at.isoformat()}",
                kind="vcop_due_soon",
                now=now,
                referral_id=referral_id,
                due_at=due_at,
                detail={"right": right},
            )
    return len(due)


def remind_uncontacted(factory: sessionmaker[Session], *, now: datetime, settings: Settings) -> int:
    """`contact_overdue` when no attempt was made within the standard; `escalation` later."""
    standard = now - timedelta(hours=settings.contact_standard_hours)
    escalate = now - timedelta(hours=settings.contact_escalation_hours)
    last_attempt = (
        select(ContactAttempt.referral_id, func.max(ContactAttempt.at).label("at"))
        .group_by(ContactAttempt.referral_id)
        .subquery()
    )
    with transaction(factory) as session:
        waiting = session.execute(
            select(Referral.id, Referral.received_at, Referral.version, last_attempt.c.at)
            .outerjoin(last_attempt, last_attempt.c.referral_id == Referral.id)
            .where(
                Referral.state.in_([State.received, State.contacting]),
                func.coalesce(last_attempt.c.at, Referral.received_at) <= standard,
            )
        ).all()
        for referral_id, received_at, version, attempted_at in waiting:
            detail = {"last_attempt_at": attempted_at.isoformat() if attempted_at else None}
            raise_alert(
                session,
                notify=_notify(settings),
                key=f"contact_overdue:{referral_id}:{version}",
                kind="contact_overdue",
                now=now,
                referral_id=referral_id,
                due_at=(attempted_at or received_at)
                + timedelta(hours=settings.contact_standard_hours),
                detail=detail,
            )
            if received_at <= escalate:
                raise_alert(
                    session,
                    notify=_notify(settings),
                    key=f"escalation:{referral_id}",
                    kind="escalation",
                    now=now,
                    referral_id=referral_id,
                    due_at=received_at + timedelta(hours=settings.contact_escalation_hours),
                    detail={**detail, "to": "team_lead"},
                )
    return len(waiting)


def _notify(settings: Settings) -> Notify:
    return Notify(recipient=settings.unit_notify_address, base_url=settings.public_base_url)


def _claim(session: Session, due: Select[tuple[UUID]], batch: int) -> tuple[list[UUID], int]:
    """Lock up to `batch` due rows' referrals that no other sweep holds.

    Answers the distinct referrals, in due order, and how many rows were seen (a referral
    with two due rows counts twice there, so the caller knows whether to fetch more).
    """
    rows = list(session.scalars(due.limit(batch).with_for_update(of=Referral, skip_locked=True)))
    return list(dict.fromkeys(rows)), len(rows)


def sweep_all(
    factory: sessionmaker[Session], *, now: datetime, settings: Settings
) -> dict[str, int]:
    """Every sweep once, in order; what a scheduler tick runs."""
    return {
        "offers_expired": expire_overdue_offers(factory, now=now, settings=settings),
        "vcop_rechecked": mark_vcop_breaches(factory, now=now, settings=settings),
        "vcop_due_soon": warn_vcop_due_soon(factory, now=now, settings=settings),
        "uncontacted": remind_uncontacted(factory, now=now, settings=settings),
        "hate_crime_spikes": detect_hate_crime_spikes(factory, now=now, settings=settings),
    }


def detect_hate_crime_spikes(
    factory: sessionmaker[Session], *, now: datetime, settings: Settings
) -> int:
    """Raise one alert to the hate crime SPOC per strand and area in a spike; answers how many.

    Counts referrals received in the latest window against the same window over the previous
    windows (DESIGN 6, issue 6). A (strand, area) already alerted within the last window is
    not alerted again: one spike, one alert.
    """
    window = timedelta(hours=settings.spike_window_hours)
    windows = settings.spike_baseline_windows
    since = now - window * (windows + 1)
    counts: dict[tuple[str, str], list[int]] = {}
    with transaction(factory) as session:
        rows = session.execute(
            select(Referral.received_at, Referral.area, Referral.hate_strands).where(
                Referral.received_at > since, Referral.received_at <= now
            )
        ).all()
        for received_at, area, strands in rows:
            back = int((now - received_at) / window)  # 0 is the latest window
            for strand in strands or ():
                counts.setdefault((strand, area), [0] * (windows + 1))[min(back, windows)] += 1
        raised = 0
        for (strand, area), series in sorted(counts.items()):
            verdict = judge_spike(
                series[0],
                series[1:],
                p=settings.spike_p_value,
                min_count=settings.spike_min_count,
            )
            if not verdict.spike or _spike_alerted(session, strand, area, now - window):
                continue
            raise_alert(
                session,
                notify=Notify(settings.hate_crime_spoc_address, settings.public_base_url),
                key=f"hate_crime_spike:{strand}:{area}:{now.isoformat()}",
                kind="hate_crime_spike",
                now=now,
                detail={
                    "strand": strand,
                    "area": area,
                    "window_start": (now - window).isoformat(),
                    "window_end": now.isoformat(),
                    "count": verdict.count,
                    "baseline": round(verdict.expected, 2),
                    "p_value": float(f"{verdict.p_value:.3g}"),
                },
            )
            raised += 1
    return raised


def _spike_alerted(session: Session, strand: str, area: str, since: datetime) -> bool:
    return (
        session.scalar(
            select(Alert.id)
            .where(
                Alert.key.startswith(f"hate_crime_spike:{strand}:{area}:"),
                Alert.raised_at >= since,
            )
            .limit(1)
        )
        is not None
    )
