"""Anonymisation (DESIGN 11): retention past its period, and erasure at an admin's word.

Both remove the same things in one transaction: the victim's identity, contact details,
address, postcode, the referral's notes and safe times, the offers' notes, a lockdown's
reason, and every free-text field of the referral's audit lines (any text that repeats a
removed value is cut out of every line). Codes, dates, offers and their answers, the
Victims' Code check log and the reports' rollups stay, so every published figure is
unchanged (the reports are folded from audit actions and codes, never from a name). One
audit line each says it was done, and how, with no personal data in it.
"""

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, false, or_
from sqlalchemy.orm import Session, sessionmaker

from triage.audit import service as audit
from triage.caller import SYSTEM, Caller
from triage.db import transaction
from triage.errors import Conflict, NotFound
from triage.lifecycle.codes import State
from triage.referrals import repository
from triage.referrals.models import Referral
from triage.retention import RetentionRules, months_before

# Audit detail keys that hold what someone wrote, whatever the action.
FREE_TEXT_KEYS = frozenset({"note", "notes", "hand_back_note"})
FREE_TEXT_MARKS = tuple(f'"{key}"' for key in FREE_TEXT_KEYS)  # as keys appear in JSON text
# Actions whose `reason` is written by a person, not a code.
FREE_TEXT_REASONS = frozenset({"lockdown", "lockdown_lifted", "subject_access"})
REMOVED = "[removed]"
SHORTEST_REMOVED = 4  # shorter values (a two-letter language) are not searched for in text
BATCH = 500  # referrals a transaction: its locks held well under a second


@dataclass
class RetentionReport:
    as_of: datetime
    dry_run: bool
    anonymised: int = 0
    by_period: Counter[str] = field(default_factory=Counter)
    references: list[str] = field(default_factory=list)  # a dry run's, oldest closure first


def due_condition(retention: RetentionRules, as_of: datetime) -> ColumnElement[bool]:
    """Closed referrals past their period on `as_of`, as one SQL condition: each period in
    order, for the referrals no earlier period matched, then the default for the rest."""
    clauses: list[ColumnElement[bool]] = []
    earlier: list[ColumnElement[bool]] = []
    for period in retention.periods:
        matched = and_(
            Referral.closure_reason.in_([r.value for r in period.closure_reasons])
            if period.closure_reasons else Referral.closure_reason.is_not(None),
            Referral.crime_type.in_([c.value for c in period.crime_types])
            if period.crime_types else Referral.crime_type.is_not(None),
        )  # fmt: skip
        clauses.append(
            and_(
                matched,
                *(~e for e in earlier),
                Referral.closed_at <= months_before(as_of, period.months),
            )  # fmt: skip
        )
        earlier.append(matched)
    clauses.append(
        and_(
            *(~e for e in earlier),
            Referral.closed_at <= months_before(as_of, retention.default_months),
        )  # fmt: skip
    )
    return or_(false(), *clauses)


def run_retention(
    factory: sessionmaker[Session],
    *,
    retention: RetentionRules,
    as_of: datetime,
    now: datetime,
    dry_run: bool = False,
    batch: int = BATCH,
    limit: int | None = None,
    on_batch: Callable[[int, float], None] | None = None,
) -> RetentionReport:
    """Anonymise every referral past its period on `as_of`, in batches of `batch`, each in
    its own transaction (a replica's claim skips another's rows); or, `dry_run`, list them.
    `on_batch(count, seconds)` hears of each batch once committed: how long, from its claim
    to its commit, it held its locks."""
    report = RetentionReport(as_of=as_of, dry_run=dry_run)
    due = due_condition(retention, as_of)
    if dry_run:
        with factory() as session:
            for _, reason, crime, reference, _ in repository.due_to_anonymise(
                session, due, limit or 1_000_000
            ):
                report.by_period[retention.period_for(reason, crime)[0]] += 1
                report.references.append(reference)
        return report
    after: tuple[datetime, UUID] | None = None
    while limit is None or report.anonymised < limit:
        size = batch if limit is None else min(batch, limit - report.anonymised)
        started = time.perf_counter()
        with transaction(factory) as session:
            claimed = repository.claim_to_anonymise(session, due, size, after)
            if not claimed:
                break
            after = (claimed[-1][4], claimed[-1][0])
            periods = {i: retention.period_for(reason, crime)[0]
                       for i, reason, crime, _, _ in claimed}  # fmt: skip
            detail = {i: {"how": "retention", "period": p} for i, p in periods.items()}
            anonymise(session, list(periods), caller=SYSTEM, now=now, detail=detail)
        if on_batch is not None:
            on_batch(len(claimed), time.perf_counter() - started)
        report.anonymised += len(claimed)
        report.by_period.update(periods.values())
    return report


def erase(
    session: Session, *, referral_id: UUID, caller: Caller, version: int, reason: str,
    now: datetime,
) -> Referral:  # fmt: skip
    """Anonymise one closed referral at once (an admin, with a reason; DESIGN 11)."""
    referral = repository.get(session, referral_id, for_update=True)
    if referral is None:
        raise NotFound(f"no referral {referral_id}")
    refused = (
        ["stale_version"] if version != referral.version
        else ["not_closed"] if referral.state != State.closed
        else ["already_anonymised"] if referral.anonymised_at is not None
        else []
    )  # fmt: skip
    if refused:
        raise Conflict(
            {"stale_version": "the referral has changed since it was read",
             "not_closed": "close the referral first (reason withdrawn), then erase it",
             "already_anonymised": "the referral was anonymised already"}[refused[0]],
            state=referral.state, version=referral.version, allowed_events=[], failed=refused,
        )  # fmt: skip
    anonymise(session, [referral_id], caller=caller, now=now,
              detail={referral_id: {"how": "erasure", "reason": reason}})  # fmt: skip
    session.expire(referral)
    return referral


def anonymise(
    session: Session,
    referral_ids: Sequence[UUID],
    *,
    caller: Caller,
    now: datetime,
    detail: dict[UUID, dict[str, Any]],
) -> None:
    """Anonymise these referrals (locked by the caller's transaction) and audit each."""
    session.flush()
    removed = repository.personal_values(session, referral_ids)
    repository.anonymise_rows(session, referral_ids, now)
    searched = {i: _Removed(values) for i, values in removed.items()}
    changed = []
    for line, referral_id, action, text in repository.audit_details(session, referral_ids):
        if searched[referral_id].touches(text, action):
            before = json.loads(text)
            after = scrubbed(before, searched[referral_id].pattern, action)
            if after != before:
                changed.append((line, after))
    repository.replace_audit_details(session, changed)
    versions = repository.versions_of(session, referral_ids)
    audit.record_many(session, [
        audit.line(caller=caller, action="anonymised", now=now, referral_id=i,
                   version=versions.get(i),
                   detail=scrubbed(detail[i], searched[i].pattern, "anonymised")
                   if searched[i].touches(json.dumps(detail[i]), "anonymised") else detail[i])
        for i in referral_ids
    ])  # fmt: skip


class _Removed:
    """One referral's removed values, as searched for in its audit lines: each line's JSON
    text looked at first (as written, and as JSON escapes it), the line parsed and the
    pattern made only when it needs scrubbing."""

    def __init__(self, values: list[str]) -> None:
        kept = {v.strip() for v in values if len(v.strip()) >= SHORTEST_REMOVED}
        self.values = sorted(kept, key=len, reverse=True)
        self.searched = {
            form.lower()
            for v in self.values
            for form in (v, json.dumps(v)[1:-1], json.dumps(v, ensure_ascii=False)[1:-1])
        }
        self._pattern: re.Pattern[str] | None = None

    def touches(self, text: str, action: str) -> bool:
        """Whether a line's JSON text holds free text, or any removed value."""
        if any(key in text for key in FREE_TEXT_MARKS) or (
            action in FREE_TEXT_REASONS and '"reason"' in text
        ):
            return True
        lowered = text.lower()
        return any(v in lowered for v in self.searched)

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """One case-blind pattern for every removed value long enough to search for."""
        if self._pattern is None and self.values:
            self._pattern = re.compile("|".join(re.escape(v) for v in self.values), re.I)
        return self._pattern


def scrubbed(value: Any, removed: re.Pattern[str] | None, action: str) -> Any:
    """`value` (an audit line's detail) without free text, and with any removed value cut out
    of what text remains."""
    if isinstance(value, dict):
        return {
            k: scrubbed(v, removed, action)
            for k, v in value.items()
            if k not in FREE_TEXT_KEYS and not (k == "reason" and action in FREE_TEXT_REASONS)
        }
    if isinstance(value, list):
        return [scrubbed(v, removed, action) for v in value]
    if isinstance(value, str) and removed is not None:
        return removed.sub(REMOVED, value)
    return value
