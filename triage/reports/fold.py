"""Keeping the rollups in step: fold each changed referral's audit events into its facts.

A referral whose `version` moved past its `reported_version` has changed since the rollups
last read it. The fold claims such referrals (`FOR UPDATE SKIP LOCKED`, so two folds never
take the same one), reads their audit events and current check lines, and applies to the
rollups the new facts' contribution less the old one's. The events' own transactions write
nothing more than they did: reports cost intake nothing (ADR 9).
"""

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from uuid import UUID

from sqlalchemy.orm import Session, sessionmaker

from triage.config import Settings
from triage.db import transaction
from triage.providers import repository as provider_repository
from triage.reports import facts as case_facts
from triage.reports import repository
from triage.reports.repository import Delta

BATCH = 500


def fold_pending(
    factory: sessionmaker[Session], *, now: datetime, settings: Settings, batch: int = BATCH
) -> int:
    """Fold every referral changed since the rollups last read it; answers how many."""
    folded = 0
    while True:
        with transaction(factory) as session:
            claimed = fold_batch(session, now=now, settings=settings, batch=batch)
            if claimed < batch:  # nothing left that was pending when this pass began
                repository.mark_folded(session, now)
        folded += claimed
        if claimed < batch:
            return folded


def fold_all_pending(session: Session, *, now: datetime, settings: Settings) -> None:
    """Fold, in the caller's transaction, everything pending now (what a report reads first)."""
    while fold_batch(session, now=now, settings=settings) == BATCH:
        pass
    repository.mark_folded(session, now)


def folded_as_of(session: Session) -> datetime | None:
    """When the rollups were last brought up to date (None before the first fold)."""
    return repository.folded_as_of(session)


def fold_batch(session: Session, *, now: datetime, settings: Settings, batch: int = BATCH) -> int:
    """Claim up to `batch` changed referrals no other fold holds and fold them, in the
    caller's transaction; answers how many."""
    claimed = repository.claim_changed(session, limit=batch)
    fold_referrals(session, claimed, now=now, settings=settings)
    return len(claimed)


def fold_referrals(
    session: Session, versions: Mapping[UUID, int], *, now: datetime, settings: Settings
) -> None:
    """Replace the claimed referrals' contribution to the rollups with their facts now."""
    if not versions:
        return
    ids = list(versions)
    specialisms = provider_specialisms(session)
    events = repository.audit_events_of(session, ids)
    checks = repository.current_checks_of(session, ids)
    old = repository.folded_facts(session, ids)
    # Every count added and taken away, summed over the batch before it is spread over the
    # periods: referrals of a day share most of their keys.
    added: list[case_facts.Key] = []
    taken: list[case_facts.Key] = []
    timezone = settings.timezone
    cases = []
    for referral_id in ids:
        if referral_id in old:
            taken += case_facts.contribution_keys(case_facts.from_json(old[referral_id]), timezone)
        facts = case_facts.fold(events.get(referral_id, ()), specialisms=specialisms)
        if facts is None:
            continue
        facts = case_facts.rights(facts, checks.get(referral_id, ()), timezone)
        added += case_facts.contribution_keys(facts, timezone)
        cases.append(
            {
                "referral_id": referral_id,
                "version": versions[referral_id],
                "facts": case_facts.to_json(facts),
                "folded_at": now,
            }
        )
    summed = Counter(added)
    summed.subtract(taken)
    repository.replace_folded(session, ids, cases)
    repository.apply_delta(session, to_delta(summed))


def to_delta(summed: Mapping[case_facts.Key, int]) -> Delta:
    """Summed counts by day as the rollups keep them: by day, by month and by quarter."""
    delta: Delta = defaultdict(int)
    for (measure, day, key, subkey), count in summed.items():
        for period, start in periods(day):
            delta[(measure, period, start, key, subkey)] += count
    return delta


@lru_cache(maxsize=4096)
def periods(day: date) -> tuple[tuple[str, date], ...]:
    """The rollup periods a day falls in: the day ("d"), its month ("m"), its quarter ("q")."""
    return (
        ("d", day),
        ("m", day.replace(day=1)),
        ("q", date(day.year, (day.month - 1) // 3 * 3 + 1, 1)),
    )


def provider_specialisms(session: Session) -> dict[str, str]:
    """Each provider's specialism for the return: the first service it lists."""
    return {
        code: (services[0] if services else case_facts.NONE_KEY)
        for code, services in provider_repository.services_by_code(session).items()
    }


def rebuild(
    factory: sessionmaker[Session], *, now: datetime, settings: Settings, batch: int = BATCH
) -> int:
    """Empty the rollups and fold every referral again from its audit events."""
    with transaction(factory) as session:
        repository.empty_rollups(session)
    return fold_pending(factory, now=now, settings=settings, batch=batch)
