"""Keeping the rollups in step: fold each changed referral's audit events into its facts.

A referral whose `version` moved past its `reported_version` has changed since the rollups
last read it. The fold claims such referrals (`FOR UPDATE SKIP LOCKED`, so two folds never
take the same one), reads their audit events and current check lines, and applies to the
rollups the new facts' contribution less the old one's. The events' own transactions write
nothing more than they did: reports cost intake nothing (ADR 9).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from triage.audit.models import AuditEvent
from triage.config import Settings
from triage.db import transaction
from triage.providers.models import Provider
from triage.referrals.models import Referral
from triage.reports import facts as case_facts
from triage.reports.models import ReportCase, ReportCount, ReportFold
from triage.vcop.models import EntitlementCheck
from triage.vcop.rights import NOT_TRACKED

BATCH = 500

# (measure, period, period_start, key, subkey) -> change of count
Delta = dict[tuple[str, str, date, str, str], int]


def fold_pending(
    factory: sessionmaker[Session], *, now: datetime, settings: Settings, batch: int = BATCH
) -> int:
    """Fold every referral changed since the rollups last read it; answers how many."""
    folded = 0
    while True:
        with transaction(factory) as session:
            claimed = fold_batch(session, now=now, settings=settings, batch=batch)
            if claimed < batch:  # nothing left that was pending when this pass began
                mark_folded(session, now)
        folded += claimed
        if claimed < batch:
            return folded


def mark_folded(session: Session, as_of: datetime) -> None:
    """Record that every change committed before `as_of` is in the rollups (one upsert, so
    two folds at once never collide; the later time wins)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = ReportFold.__table__
    statement = dialect.insert(table).values(id=1, as_of=as_of)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["id"],
            set_={"as_of": statement.excluded.as_of},
            where=table.c.as_of < statement.excluded.as_of,
        )
    )


def folded_as_of(session: Session) -> datetime | None:
    """When the rollups were last brought up to date (None before the first fold)."""
    row = session.get(ReportFold, 1)
    return row.as_of if row is not None else None


def fold_batch(session: Session, *, now: datetime, settings: Settings, batch: int = BATCH) -> int:
    """Claim up to `batch` changed referrals no other fold holds and fold them, in the
    caller's transaction; answers how many."""
    claimed = session.execute(
        select(Referral.id, Referral.version)
        .where(Referral.reported_version != Referral.version)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    fold_referrals(session, dict(claimed), now=now, settings=settings)
    return len(claimed)


def fold_referrals(
    session: Session, versions: Mapping[UUID, int], *, now: datetime, settings: Settings
) -> None:
    """Replace the claimed referrals' contribution to the rollups with their facts now."""
    if not versions:
        return
    ids = list(versions)
    specialisms = provider_specialisms(session)
    events = _by_referral(
        session.execute(
            select(
                AuditEvent.referral_id,
                AuditEvent.action,
                AuditEvent.at,
                AuditEvent.from_state,
                AuditEvent.detail,
            )
            .where(AuditEvent.referral_id.in_(ids))
            .order_by(AuditEvent.referral_id, AuditEvent.id)
        ).mappings()
    )
    checks = _by_referral(
        session.execute(
            select(
                EntitlementCheck.referral_id,
                EntitlementCheck.right,
                EntitlementCheck.edition,
                EntitlementCheck.status,
                EntitlementCheck.due_at,
                EntitlementCheck.met_at,
                EntitlementCheck.reason,
            ).where(
                EntitlementCheck.referral_id.in_(ids),
                EntitlementCheck.current.is_(True),
                EntitlementCheck.status != NOT_TRACKED,
            )
        ).mappings()
    )
    old = dict(
        session.execute(
            select(ReportCase.referral_id, ReportCase.facts).where(ReportCase.referral_id.in_(ids))
        ).all()
    )
    delta: Delta = defaultdict(int)
    cases = []
    for referral_id in ids:
        if referral_id in old:
            add(delta, case_facts.from_json(old[referral_id]), settings.timezone, sign=-1)
        facts = case_facts.fold(events.get(referral_id, ()), specialisms=specialisms)
        if facts is None:
            continue
        facts = case_facts.rights(facts, checks.get(referral_id, ()), settings.timezone)
        add(delta, facts, settings.timezone)
        cases.append(
            {
                "referral_id": referral_id,
                "version": versions[referral_id],
                "facts": case_facts.to_json(facts),
                "folded_at": now,
            }
        )
    session.execute(delete(ReportCase).where(ReportCase.referral_id.in_(ids)))
    if cases:
        session.execute(ReportCase.__table__.insert(), cases)
    session.execute(
        update(Referral.__table__)
        .where(Referral.__table__.c.id.in_(ids))
        .values(reported_version=Referral.__table__.c.version)
    )
    apply_delta(session, delta)


def add(delta: Delta, facts: case_facts.CaseFacts, timezone: str, *, sign: int = 1) -> None:
    """Add (or with `sign=-1` take away) one referral's contribution, by each period."""
    add_counts(delta, case_facts.contribution(facts, timezone), sign=sign)


def add_counts(delta: Delta, counts: Mapping[case_facts.Key, int], *, sign: int = 1) -> None:
    """Add counts by day to the delta as they are kept: by day, by month and by quarter."""
    for (measure, day, key, subkey), count in counts.items():
        for period, start in periods(day):
            delta[(measure, period, start, key, subkey)] += sign * count


def periods(day: date) -> tuple[tuple[str, date], ...]:
    """The rollup periods a day falls in: the day ("d"), its month ("m"), its quarter ("q")."""
    return (
        ("d", day),
        ("m", day.replace(day=1)),
        ("q", date(day.year, (day.month - 1) // 3 * 3 + 1, 1)),
    )


def apply_delta(session: Session, delta: Delta) -> int:
    """Add the changes to the rollup rows, creating rows as needed; in key order, so two
    folds at once lock rows in the same order and never deadlock. Answers how many rows."""
    rows = [(*key, count) for key, count in sorted(delta.items()) if count != 0]
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return copy_delta(session.connection().connection.driver_connection, rows)
    statement = sqlite.insert(ReportCount.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=list(COUNT_KEY),
        set_={"count": ReportCount.__table__.c.count + statement.excluded.count},
    )
    columns = (*COUNT_KEY, "count")
    for start in range(0, len(rows), 2000):
        session.execute(
            statement, [dict(zip(columns, row, strict=True)) for row in rows[start : start + 2000]]
        )
    return len(rows)


COUNT_KEY = ("measure", "period", "period_start", "key", "subkey")


def copy_delta(connection: Any, rows: list[tuple[Any, ...]]) -> int:
    """PostgreSQL: COPY the changes into a temporary table, then one upsert in key order
    (a statement per row cost 20 us each: most of a fold's time)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS report_count_changes "
            "(LIKE report_counts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        copy_counts(cursor, "report_count_changes", rows)
        merge_counts(cursor, "report_count_changes")
        cursor.execute("DELETE FROM report_count_changes")
    return len(rows)


def copy_counts(cursor: Any, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
    """COPY rows (the key columns, then the count) into a table shaped like report_counts."""
    columns = ", ".join((*COUNT_KEY, "count"))
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def merge_counts(cursor: Any, table: str, *, upsert: bool = True) -> int:
    """Add a table of changes shaped like report_counts to it: the changes summed by key
    (a key may come more than once), in key order, so that two merges at once lock rows in
    the same order and never deadlock. With `upsert=False` the sums are only inserted (the
    rollups hold none of their keys). Answers how many rows were added or changed."""
    key = ", ".join(COUNT_KEY)
    statement = (
        f"INSERT INTO report_counts ({key}, count) SELECT {key}, sum(count) FROM {table} "
        f"GROUP BY {key} ORDER BY {key}"  # also keeps the rows a report reads together
    )
    if upsert:
        statement += (
            f" ON CONFLICT ({key}) DO UPDATE SET count = report_counts.count + EXCLUDED.count"
        )
    cursor.execute(statement)
    return int(cursor.rowcount)


def provider_specialisms(session: Session) -> dict[str, str]:
    """Each provider's specialism for the return: the first service it lists."""
    return {
        code: (services[0] if services else case_facts.NONE_KEY)
        for code, services in session.execute(select(Provider.code, Provider.services))
    }


def rebuild(
    factory: sessionmaker[Session], *, now: datetime, settings: Settings, batch: int = BATCH
) -> int:
    """Empty the rollups and fold every referral again from its audit events."""
    with transaction(factory) as session:
        session.execute(delete(ReportCount))
        session.execute(delete(ReportCase))
        session.execute(update(Referral.__table__).values(reported_version=0))
    return fold_pending(factory, now=now, settings=settings, batch=batch)


def _by_referral(rows: Iterable[Mapping]) -> dict[UUID, list[Mapping]]:
    grouped: dict[UUID, list[Mapping]] = defaultdict(list)
    for row in rows:
        grouped[row["referral_id"]].append(row)
    return grouped
