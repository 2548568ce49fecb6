"""Reports for commissioners and admins: fold what changed, then read the rollups."""

import pickle
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from triage.bounds import FIRST_YEAR, LAST_YEAR, QUARTER
from triage.caller import Caller, require_role
from triage.config import Settings
from triage.errors import InvalidInput
from triage.lifecycle.codes import Role
from triage.reports import activity, compliance, conversion, fold, repository
from triage.reports.facts import DIMENSIONS, slice_of
from triage.rule_sources import RuleSources

READERS = frozenset({Role.commissioner, Role.admin})
Kind = Literal["conversion", "vcop", "moj", "providers"]
TITLES = {
    "conversion": "Conversion",
    "vcop": "VCOP compliance",
    "moj": "MoJ return",
    "providers": "Providers",
}
# Each report's file columns, the same whatever the period holds (an empty one included).
COLUMNS = {
    "conversion": conversion.COLUMNS,
    "vcop": compliance.COLUMNS,
    "moj": activity.MOJ_COLUMNS,
    "providers": activity.PROVIDER_COLUMNS,
}


@dataclass(frozen=True)
class ReportRequest:
    kind: Kind
    start: date | None = None
    end: date | None = None
    group_by: str | None = None
    quarter: str | None = None
    area: str | None = None  # the conversion and compliance reports of one area,
    crime_type: str | None = None  # one crime type, or both


Answer = tuple[dict[str, Any], list[dict[str, Any]]]


class _Remembered:
    """The last answers computed, by what was asked and the rollups' generation they were
    computed at (ReportGeneration): a fold, rebuild or fill that changes the rollups writes
    a new generation in its transaction, so an answer is reused only while its figures still
    hold. Each process keeps its own, pickled: each caller gets its own copy (unpickling is
    several times cheaper than a deep copy)."""

    def __init__(self, size: int) -> None:
        self.size, self.kept = size, OrderedDict[tuple[Any, ...], bytes]()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Answer | None:
        if key[0] is None:  # rollups never written: nothing to hold on to
            return None
        with self.lock:
            found = self.kept.get(key)
            if found is not None:
                self.kept.move_to_end(key)
        return pickle.loads(found) if found is not None else None  # noqa: S301 (our own bytes)

    def put(self, key: tuple[Any, ...], answer: Answer) -> Answer:
        if key[0] is not None:
            kept = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            with self.lock:
                self.kept[key] = kept
                while len(self.kept) > self.size:
                    self.kept.popitem(last=False)
        return answer


_CONVERSIONS = _Remembered(64)


def run_report(
    session: Session,
    *,
    fold_first: bool,
    caller: Caller | None,
    request: ReportRequest,
    now: datetime,
    rules: RuleSources,
    settings: Settings,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One report as JSON-ready data and as flat rows. With `fold_first`, changes not yet in
    the rollups are folded first, in this transaction; without (a read replica), the report
    is as of the last fold. `caller` None is the command line."""
    if caller is not None:
        require_role(caller, READERS)
    if fold_first:
        fold.fold_all_pending(session, now=now, settings=settings)
    else:  # a read replica: as of the last fold the primary's job made
        now = fold.folded_as_of(session) or now
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    if request.kind == "moj":
        quarter = request.quarter or last_quarter(today)
        check_quarter(quarter)
        return activity.moj_return(session, quarter=quarter, as_of=now)
    start, end = period(request, today)
    if request.area is not None and request.area not in rules.areas:
        raise InvalidInput(f"unknown area {request.area!r}", field=("query", "area"))
    where = slice_of(request.area, request.crime_type)
    match request.kind:
        case "conversion":
            if request.group_by is not None and request.group_by not in DIMENSIONS:
                raise InvalidInput(
                    f"group_by must be one of {', '.join(DIMENSIONS)}",
                    field=("query", "group_by"),
                )
            if where is not None and request.group_by not in (None, "month"):
                raise InvalidInput(
                    "with area or crime_type, group_by may only be month",
                    field=("query", "group_by"),
                )
            key = (repository.generation(session), start, end, request.group_by, where)
            answer, rows = _CONVERSIONS.get(key) or _CONVERSIONS.put(key, conversion.conversion(
                session, start=start, end=end, group_by=request.group_by, as_of=now, where=where
            ))  # fmt: skip
            answer = {**answer, "as_of": now.isoformat()}
        case "vcop":
            answer, rows = compliance.vcop_compliance(
                session,
                start=start,
                end=end,
                as_of=now,
                timezone=settings.timezone,
                editions=rules.editions,
                where=where,
            )
        case _:
            return activity.provider_performance(session, start=start, end=end, as_of=now)
    return {**answer, "area": request.area, "crime_type": request.crime_type}, rows


def period(request: ReportRequest, today: date) -> tuple[date, date]:
    """`from` and `to`, both inclusive; by default the year so far."""
    start = request.start or date(today.year, 1, 1)
    end = request.end or today
    for name, day in (("from", start), ("to", end)):
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise InvalidInput(
                f"{name} must be a date from {FIRST_YEAR} to {LAST_YEAR}", field=("query", name)
            )
    if start > end:
        raise InvalidInput("from must not be after to", field=("query", "from"))
    if (end - start).days > 366 * 10:
        raise InvalidInput("a report covers at most ten years", field=("query", "to"))
    return start, end


def last_quarter(today: date) -> str:
    """The last whole quarter before `today`, as `2026Q3`."""
    number = (today.month - 1) // 3  # the current quarter is number + 1
    return f"{today.year - 1}Q4" if number == 0 else f"{today.year}Q{number}"


def check_quarter(quarter: str) -> None:
    if not re.fullmatch(QUARTER, quarter):
        raise InvalidInput(
            "quarter must look like 2026Q3 (a year from 1900 to 2100, Q, then 1 to 4)",
            field=("query", "quarter"),
        )
