"""Evaluating a referral's Victims' Code entitlements and keeping the check log.

Every evaluation (at creation, after each lifecycle event, assessment or consent change)
writes one check-log row per tracked right, with its outcome and evidence, in the same
transaction as its cause; the newest row of each right is marked `current` and carries the
right's status and `due_at` for the deadline sweeps. The referral aggregate gathers the facts
(`triage.referrals.inputs`) and keeps the enhanced decision on the referral.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from triage.audit import service as audit
from triage.caller import Caller
from triage.config import Settings
from triage.vcop import repository
from triage.vcop.calendar import WorkingCalendar
from triage.vcop.editions import Edition
from triage.vcop.models import EntitlementCheck
from triage.vcop.rights import BREACHED, NOT_TRACKED, PENDING, Evaluation
from triage.vcop.schemas import CheckRead, EntitlementSummary, NextDue, RightRead, VcopRead

# What the referral keeps of an evaluation: enhanced or not, on which grounds, by which edition.
Enhancement = tuple[bool | None, list[str] | None, str | None]


@cache
def _calendar(timezone: str, cutoff: time) -> WorkingCalendar:
    # One per process: it remembers the due times it has worked out.
    return WorkingCalendar(timezone, cutoff)


def calendar_for(settings: Settings) -> WorkingCalendar:
    return _calendar(settings.timezone, settings.vcop_cutoff)


def enhancement(evaluation: Evaluation) -> Enhancement:
    return (evaluation.enhanced, list(evaluation.enhanced_reasons), evaluation.edition)


@dataclass(frozen=True)
class Check:
    """Who asked for an evaluation and why: a person's event, or the system's sweep."""

    trigger: str
    checked_by: int | None
    evidence: dict[str, Any]


def record_evaluation(
    session: Session,
    *,
    referral_id: UUID,
    evaluation: Evaluation,
    check: Check,
    now: datetime,
    is_new: bool = False,
) -> None:
    """Write one check-log row per tracked right; the new rows become the current ones."""
    rows = check_rows(referral_id=referral_id, evaluation=evaluation, check=check, now=now)
    if rows:
        repository.add_checks(session, rows, supersede=None if is_new else referral_id)


def check_rows(
    *, referral_id: UUID, evaluation: Evaluation, check: Check, now: datetime
) -> list[dict[str, Any]]:
    """The check-log rows of an evaluation: one per tracked right, each current."""
    return [
        {
            "referral_id": referral_id,
            "right": r.right,
            "edition": evaluation.edition,
            "status": r.status,
            "due_at": r.due_at,
            "met_at": r.met_at,
            "reason": r.reason,
            "trigger": check.trigger,
            "evidence": check.evidence,
            "checked_by": check.checked_by,
            "checked_at": now,
            "current": True,
        }
        for r in evaluation.rights
        if r.status != NOT_TRACKED
    ]


def log_evaluation(
    session: Session,
    *,
    referral_id: UUID,
    version: int,
    evaluation: Evaluation,
    stored: Enhancement,
    caller: Caller | None,
    trigger: str,
    now: datetime,
) -> None:
    """Log an evaluation made after `trigger` (one check line per tracked right), and audit
    the enhanced decision when it changed from `stored` (or an assessment confirmed it) and
    a person caused it."""
    if caller is not None and (enhancement(evaluation) != stored or trigger == "assessment"):
        audit.record(
            session,
            caller=caller,
            action="vcop_enhanced",
            now=now,
            referral_id=referral_id,
            version=version,
            detail={
                "edition": evaluation.edition,
                "enhanced": evaluation.enhanced,
                "enhanced_reasons": list(evaluation.enhanced_reasons),
                "before": {"enhanced": stored[0], "enhanced_reasons": stored[1]},
            },
        )
    record_evaluation(
        session,
        referral_id=referral_id,
        evaluation=evaluation,
        check=Check(
            trigger=trigger,
            checked_by=caller.user_id if caller else None,
            evidence={"action": trigger, "version": version},
        ),
        now=now,
    )


def checks_of(session: Session, *, referral_id: UUID) -> list[EntitlementCheck]:
    """The referral's whole check log, oldest first."""
    return repository.checks_of(session, referral_id)


def entitlements_view(
    checks_made: Sequence[EntitlementCheck],
    *,
    checkers: Mapping[int, str],
    edition: Edition,
    enhanced: bool | None,
    enhanced_reasons: list[str] | None,
) -> VcopRead:
    """Each right of the referral's edition with its status, times and check history
    (`checkers`: the usernames of who made the checks, by user id)."""
    current: dict[str, EntitlementCheck] = {}
    checks: dict[str, list[CheckRead]] = {}
    for check in checks_made:
        if check.current:
            current[check.right] = check
        checked_by = "system" if check.checked_by is None else checkers.get(check.checked_by)
        checks.setdefault(check.right, []).append(
            CheckRead(
                status=check.status,
                due_at=check.due_at,
                met_at=check.met_at,
                reason=check.reason,
                trigger=check.trigger,
                evidence=check.evidence,
                checked_by=checked_by,
                checked_at=check.checked_at,
            )
        )
    rights = []
    for right in edition.rights:
        row = current.get(right.id)
        rights.append(
            RightRead(
                right=right.id,
                title=right.title,
                status=row.status if row else NOT_TRACKED,
                due_at=row.due_at if row else None,
                met_at=row.met_at if row else None,
                reason=row.reason if row else None,
                checks=checks.get(right.id, []),
            )
        )
    return VcopRead(
        edition=edition.edition,
        edition_title=edition.title,
        enhanced=bool(enhanced),
        enhanced_reasons=enhanced_reasons or [],
        rights=rights,
    )


def summary(
    session: Session,
    *,
    referral_id: UUID,
    referral_enhanced: bool | None,
    reasons: list[str] | None,
    edition: str | None,
) -> EntitlementSummary:
    """Next right falling due and any breach, for the referral's detail."""
    rows = repository.current_checks(session, referral_id)
    pending = sorted(
        (e for e in rows if e.status == PENDING and e.due_at is not None),
        key=lambda e: e.due_at or datetime.max,
    )
    next_due = pending[0] if pending else None
    return EntitlementSummary(
        edition=edition,
        enhanced=referral_enhanced,
        enhanced_reasons=reasons,
        next_due=NextDue(right=next_due.right, due_at=next_due.due_at)
        if next_due is not None and next_due.due_at is not None
        else None,
        breached=sorted(e.right for e in rows if e.status == BREACHED),
    )
