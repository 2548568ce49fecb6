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

from sqlalchemy.orm import Session, sessionmaker

from triage.caller import SYSTEM
from triage.config import Settings
from triage.db import transaction, write_behind
from triage.deadlines import repository
from triage.deadlines.alerts import NewAlert, Notify, alerted_since, raise_alert, raise_alerts
from triage.deadlines.spikes import judge_spike
from triage.lifecycle.codes import Event, State
from triage.referrals.context import ReferralContext, load_many
from triage.referrals.entitlements import reevaluate
from triage.referrals.events import apply_event
from triage.referrals.schemas import Expire
from triage.rule_sources import RuleSources
from triage.vcop.rights import BREACHED

BATCH = 200
MAX_BATCHES = 1000  # a bound, so a row that cannot be changed never spins a sweep forever

# Claims up to `limit` due referrals: their ids in due order, and how many due rows were seen.
Claim = Callable[[Session, datetime, int], tuple[list[UUID], int]]
Handler = Callable[[Session, ReferralContext, list[NewAlert]], bool]


def expire_overdue_offers(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    rules: RuleSources,
    settings: Settings,
    batch: int = BATCH,
) -> int:
    """Fire `expire` for every open offer past its respond-by time; answers how many."""

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

    return _sweep(
        factory, _claim_offers, expire, now=now, rules=rules, settings=settings, batch=batch
    )


def mark_vcop_breaches(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    rules: RuleSources,
    settings: Settings,
    batch: int = BATCH,
) -> int:
    """Re-evaluate referrals with a right pending past its due time; answers how many."""

    def recheck(session: Session, context: ReferralContext, raised: list[NewAlert]) -> bool:
        evaluation = reevaluate(
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

    return _sweep(
        factory, _claim_rights, recheck, now=now, rules=rules, settings=settings, batch=batch
    )


def _claim_offers(session: Session, now: datetime, limit: int) -> tuple[list[UUID], int]:
    return repository.claim_due_offers(session, now=now, limit=limit)


def _claim_rights(session: Session, now: datetime, limit: int) -> tuple[list[UUID], int]:
    return repository.claim_overdue_rights(session, now=now, limit=limit)


def _sweep(
    factory: sessionmaker[Session],
    claim: Claim,
    handle: Handler,
    *,
    now: datetime,
    rules: RuleSources,
    settings: Settings,
    batch: int,
) -> int:
    """Claim due referrals a batch at a time, each batch in its own transaction, and
    `handle` each; answers how many were handled.

    A batch's referrals are loaded together, their changes written together at the end
    (`write_behind`), and the alerts its handlers raise inserted together after them, in
    its transaction: a few statements per batch instead of several per referral. The
    batches share one session, so the providers' load is counted once a sweep (a GROUP BY
    over every open offer: 60 ms at 1,000,000) and kept in step with the sweep's offers.
    """
    handled = 0
    with factory() as session:
        for _ in range(MAX_BATCHES):
            with session.begin():
                claimed, seen = claim(session, now, batch)
                raised: list[NewAlert] = []
                with write_behind(session):
                    for context in load_many(
                        session, referral_ids=claimed, rules=rules, settings=settings
                    ):
                        handled += handle(session, context, raised)
                raise_alerts(session, raised, now=now, notify=_notify(settings))
            session.expunge_all()  # the next batch reads its referrals afresh
            if seen < batch:
                break
    return handled


def warn_vcop_due_soon(factory: sessionmaker[Session], *, now: datetime, settings: Settings) -> int:
    """Raise one `vcop_due_soon` alert for each right falling due within the warning window."""
    horizon = now + timedelta(hours=settings.vcop_warning_hours)
    with transaction(factory) as session:
        due = repository.rights_due_between(session, start=now, end=horizon)
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
    with transaction(factory) as session:
        waiting = repository.uncontacted_since(session, before=standard)
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


def alert_returned(factory: sessionmaker[Session], *, now: datetime, settings: Settings) -> int:
    """One `returned_to_unit` alert for each time a provider gave a referral back (declined
    or let the offer expire with nobody left to offer it to, or handed it back)."""
    with transaction(factory) as session:
        returned = repository.returned_to_unit(session)
        raise_alerts(
            session,
            [
                NewAlert(
                    key=f"returned_to_unit:{referral_id}:{at.isoformat()}",
                    kind="returned_to_unit",
                    referral_id=referral_id,
                    due_at=None,
                    detail={"reference": reference, "returned_at": at.isoformat()},
                )
                for referral_id, reference, at in returned
            ],
            now=now,
            notify=_notify(settings),
        )
    return len(returned)


def _notify(settings: Settings) -> Notify:
    return Notify(recipient=settings.unit_notify_address, base_url=settings.public_base_url)


def sweep_all(
    factory: sessionmaker[Session], *, now: datetime, rules: RuleSources, settings: Settings
) -> dict[str, int]:
    """Every sweep once, in order; what a scheduler tick runs."""
    return {
        "offers_expired": expire_overdue_offers(factory, now=now, rules=rules, settings=settings),
        "vcop_rechecked": mark_vcop_breaches(factory, now=now, rules=rules, settings=settings),
        "vcop_due_soon": warn_vcop_due_soon(factory, now=now, settings=settings),
        "uncontacted": remind_uncontacted(factory, now=now, settings=settings),
        "hate_crime_spikes": detect_hate_crime_spikes(factory, now=now, settings=settings),
        "returned_to_unit": alert_returned(factory, now=now, settings=settings),
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
        for received_at, area, strands in repository.received_between(
            session, start=since, end=now
        ):
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
            key_prefix = f"hate_crime_spike:{strand}:{area}:"
            if not verdict.spike or alerted_since(
                session, key_prefix=key_prefix, since=now - window
            ):
                continue
            raise_alert(
                session,
                notify=Notify(settings.hate_crime_spoc_address, settings.public_base_url),
                key=f"{key_prefix}{now.isoformat()}",
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
