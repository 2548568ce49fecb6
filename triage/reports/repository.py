"""Reading the rollups: sums of counts over a date range, never a scan of referrals."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import BigInteger, ColumnElement, and_, cast, false, func, or_, select
from sqlalchemy.orm import Session

from triage.reports.models import ReportCount

# (key, subkey) -> count, or with `by_month` (month, key, subkey) -> count
Sums = dict[tuple[str, ...], int]


@dataclass(frozen=True)
class Spans:
    """A date range as the rollup rows that cover it: whole quarters, whole months left
    over, and the ragged days at either end."""

    quarters: list[date]
    months: list[date]
    days: list[tuple[date, date]]


def spans(start: date, end: date, *, quarters: bool = True) -> Spans:
    """Split [start, end] into whole quarters (unless told not to), whole months and days."""
    months: list[date] = []
    days: list[tuple[date, date]] = []
    cursor = start
    while cursor <= end:
        month_end = _next_month(cursor) - timedelta(days=1)
        if cursor.day == 1 and month_end <= end:
            months.append(cursor)
        else:
            days.append((cursor, min(month_end, end)))
        cursor = month_end + timedelta(days=1)
    whole = set(months)
    starts = [m for m in months if quarters and m.month % 3 == 1]
    full = [q for q in starts if {q, _next_month(q), _next_month(_next_month(q))} <= whole]
    covered = {m for q in full for m in (q, _next_month(q), _next_month(_next_month(q)))}
    return Spans(full, [m for m in months if m not in covered], days)


def sums(
    session: Session,
    measures: list[str],
    start: date,
    end: date,
    *,
    by_month: bool = False,
) -> dict[str, Sums]:
    """Each measure's counts summed over [start, end], by (key, subkey)."""
    cover = spans(start, end, quarters=not by_month)
    table = ReportCount.__table__.c
    ranges = [
        and_(table.period == period, table.period_start.in_(starts))
        for period, starts in (("q", cover.quarters), ("m", cover.months))
        if starts
    ]
    ranges += [
        and_(table.period == "d", table.period_start.between(first, last))
        for first, last in cover.days
    ]
    return _sums(session, measures, or_(false(), *ranges), by_month=by_month)


def sums_until(session: Session, measures: list[str], end: date) -> dict[str, Sums]:
    """Each measure's counts summed over all time up to and including `end`."""
    table = ReportCount.__table__.c
    quarter = date(end.year, (end.month - 1) // 3 * 3 + 1, 1)
    month = end.replace(day=1)
    in_range = or_(
        and_(table.period == "q", table.period_start < quarter),
        and_(table.period == "m", table.period_start.between(quarter, month - timedelta(days=1))),
        and_(table.period == "d", table.period_start.between(month, end)),
    )
    return _sums(session, measures, in_range)


def _sums(
    session: Session, measures: list[str], in_range: ColumnElement[bool], *, by_month: bool = False
) -> dict[str, Sums]:
    table = ReportCount.__table__.c
    columns = [table.measure, table.key, table.subkey]
    if by_month:
        columns.insert(1, table.period_start)
    rows = session.execute(
        select(*columns, cast(func.sum(table.count), BigInteger))
        .where(table.measure.in_(measures), in_range)
        .group_by(*columns)
    ).all()
    answer: dict[str, Sums] = {m: defaultdict(int) for m in measures}
    if by_month:
        for measure, start, key, subkey, count in rows:
            answer[measure][(start.strftime("%Y-%m"), key, subkey)] += count
    else:  # each (measure, key, subkey) comes once: no month to merge
        for measure, key, subkey, count in rows:
            answer[measure][(key, subkey)] = count
    return answer


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
