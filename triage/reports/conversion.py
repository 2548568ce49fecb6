"""The conversion funnel (DESIGN 5): a cohort received in a period, followed to now."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from triage.reports import repository
from triage.reports.facts import EXCLUDED_REASONS, STAGES, TRANSITIONS
from triage.reports.tables import Cells, timing

# Dimensions whose groups add up to the whole (each referral in exactly one group).
ADDITIVE = frozenset({"crime_type", "provider", "area", "source", "enhanced", "month"})

Row = dict[str, Any]
# The columns of its CSV and spreadsheet, whatever the period holds.
COLUMNS = (
    "group_by", "group", "measure", "count", "rate_of_received", "rate_of_previous",
    "median_hours", "p90_hours",
)  # fmt: skip


def conversion(
    session: Session,
    *,
    start: date,
    end: date,
    group_by: str | None,
    as_of: datetime,
    where: tuple[str, str] | None = None,
) -> tuple[dict[str, Any], list[Row]]:
    """The funnel for referrals received from `start` to `end`, overall and by group; of
    one slice (an area, a crime type or both) when `where` names it, then grouped by month
    at most (the rollups keep each slice whole, not crossed with every other grouping)."""
    if where is not None and group_by not in (None, "month"):
        raise ValueError("a slice is grouped by month or not at all")
    dimension = where[0] if where else "all" if group_by in (None, "month") else group_by
    measures = [f"stage:{dimension}", f"excluded:{dimension}"]
    measures += [f"hours:{dimension}:{later}" for _, later in TRANSITIONS]
    grouped = repository.sums(session, measures, start, end, by_month=group_by == "month",
                              key=where[1] if where else None)  # fmt: skip
    groups = _split(grouped) if group_by else {}
    keys = sorted(groups)
    if group_by is None:
        overall, overall_dimension = grouped, dimension
    elif group_by in ADDITIVE:  # the whole is the sum of its groups: no second query
        overall, overall_dimension = _total(groups.values()), dimension
    else:
        overall = repository.sums(session, _all_measures(), start, end)
        overall_dimension = "all"
    cells = Cells()
    _fill(cells, None, overall, overall_dimension)
    for key in keys:
        _fill(cells, key, groups[key], dimension)
    if group_by in ADDITIVE:
        for stage in STAGES:
            cells.line((None, "stage", stage), [(k, "stage", stage) for k in keys])
        for reason in EXCLUDED_REASONS:
            cells.line((None, "excluded", reason), [(k, "excluded", reason) for k in keys])
    cells.seal()
    answer = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "as_of": as_of.isoformat(),
        "group_by": group_by,
        **_group(cells, None, overall, overall_dimension),
        "groups": [{"key": key, **_group(cells, key, groups[key], dimension)} for key in keys],
    }
    return answer, _rows(answer)


def _all_measures() -> list[str]:
    return ["stage:all", "excluded:all", *(f"hours:all:{later}" for _, later in TRANSITIONS)]


def _total(groups: Iterable[dict[str, repository.Sums]]) -> dict[str, repository.Sums]:
    total: dict[str, repository.Sums] = defaultdict(lambda: defaultdict(int))
    for group in groups:
        for measure, sums in group.items():
            for keys, count in sums.items():
                total[measure][keys] += count
    return total


def _split(grouped: dict[str, repository.Sums]) -> dict[str, dict[str, repository.Sums]]:
    """Each group's sums, re-keyed by subkey alone like the overall ones (one pass)."""
    answer: dict[str, dict[str, repository.Sums]] = defaultdict(dict)
    for measure, sums in grouped.items():
        for (key, *rest), count in sums.items():
            answer[key].setdefault(measure, defaultdict(int))[("all", *rest)] += count
    return answer


def _count(sums: dict[str, repository.Sums], measure: str, subkey: str) -> int:
    return sum(c for keys, c in sums.get(measure, {}).items() if keys[-1] == subkey)


def _fill(cells: Cells, key: str | None, sums: dict[str, repository.Sums], dim: str) -> None:
    for stage in STAGES:
        cells.put((key, "stage", stage), _count(sums, f"stage:{dim}", stage))
    for reason in EXCLUDED_REASONS:
        cells.put((key, "excluded", reason), _count(sums, f"excluded:{dim}", reason))


def _group(
    cells: Cells, key: str | None, sums: dict[str, repository.Sums], dim: str
) -> dict[str, Any]:
    stages = []
    for index, stage in enumerate(STAGES):
        cell = (key, "stage", stage)
        previous = (key, "stage", STAGES[index - 1]) if index else None
        stages.append(
            {
                "stage": stage,
                "count": cells.show(cell),
                "rate_of_received": cells.rate(cell, (key, "stage", "received")),
                "rate_of_previous": cells.rate(cell, previous) if previous else None,
            }
        )
    timings = []
    for earlier, later in TRANSITIONS:
        histogram: dict[int, int] = defaultdict(int)
        for keys, count in sums.get(f"hours:{dim}:{later}", {}).items():
            histogram[int(keys[-1])] += count
        timings.append(timing(histogram, earlier, later))
    return {
        "stages": stages,
        "excluded": {r: cells.show((key, "excluded", r)) for r in EXCLUDED_REASONS},
        "timings": timings,
    }


def _rows(answer: dict[str, Any]) -> list[Row]:
    """The same figures as flat rows, for CSV and spreadsheets."""
    rows: list[Row] = []
    for key, group in [("all", answer), *((g["key"], g) for g in answer["groups"])]:
        base = {"group_by": answer["group_by"] or "", "group": key}
        for stage in group["stages"]:
            rates = {k: stage[k] for k in ("rate_of_received", "rate_of_previous")}
            rows.append({**base, "measure": stage["stage"], "count": stage["count"], **rates})
        for reason, count in group["excluded"].items():
            rows.append({**base, "measure": f"excluded:{reason}", "count": count})
        for item in group["timings"]:
            hours = {k: item[k] for k in ("median_hours", "p90_hours")}
            rows.append({**base, "measure": f"hours:{item['from']}->{item['to']}", **hours})
    return rows
