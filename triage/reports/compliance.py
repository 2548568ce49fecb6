"""Victims' Code compliance: each tracked right that fell due in a period, and how it went."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from triage.reports import repository
from triage.reports.tables import Cells
from triage.vcop.editions import EXCLUSIONS, Edition
from triage.vcop.rights import NOT_APPLICABLE_REASONS

OUTCOMES = ("met_in_time", "met_late", "breached", "pending")
Row = dict[str, Any]
COLUMNS = (
    "right", "edition", "title", "force_return", "due", *OUTCOMES, "met_in_time_rate",
    *(f"excluded:{reason}" for reason in EXCLUSIONS),
    *(f"not_applicable:{reason}" for reason in NOT_APPLICABLE_REASONS),
)  # fmt: skip


def vcop_compliance(
    session: Session,
    *,
    start: date,
    end: date,
    as_of: datetime,
    timezone: str,
    editions: tuple[Edition, ...],
    where: tuple[str, str] | None = None,
) -> tuple[dict[str, Any], list[Row]]:
    """Per right and edition: due in the period, met in time, late, breached, pending and
    excluded (by reason), with the share met in time of those whose time has come; of one
    slice (an area, a crime type or both) when `where` names it."""
    today = as_of.astimezone(ZoneInfo(timezone)).date()
    counted = _counts(session, start, end, where)
    # A right due today is not breached until its day ends.
    past_end = min(end, today - timedelta(days=1))
    past = _counts(session, start, past_end, where) if past_end >= start else {}
    cells = Cells()
    rights: list[dict[str, Any]] = []
    for right in sorted({key for key, _ in counted}, key=_order(editions)):
        unmet = counted.get((right, "unmet"), 0)
        breached = past.get((right, "unmet"), 0)
        outcome = {
            "met_in_time": counted.get((right, "met_in_time"), 0),
            "met_late": counted.get((right, "met_late"), 0),
            "breached": breached,
            "pending": unmet - breached,
        }
        for name, value in outcome.items():
            cells.put((right, name), value)
        cells.put((right, "due"), sum(outcome.values()))
        cells.line((right, "due"), [(right, name) for name in OUTCOMES])
        cells.put((right, "decided"), sum(outcome.values()) - outcome["pending"])
        cells.line(
            (right, "decided"), [(right, n) for n in ("met_in_time", "met_late", "breached")]
        )
        cells.line((right, "due"), [(right, "decided"), (right, "pending")])
        others = {
            subkey: count
            for (key, subkey), count in counted.items()
            if key == right and ":" in subkey
        }
        for subkey, count in others.items():
            cells.put((right, subkey), count)
        rights.append({"right": right, "others": sorted(others)})
    cells.seal()
    titles = {f"{r.id}@{e.edition}": (r.title, r.force_return) for e in editions for r in e.rights}
    items = [_right(cells, entry, titles) for entry in rights]
    answer = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "as_of": as_of.isoformat(),
        "rights": items,
        "force_return": _force_return(items, editions),
    }
    return answer, [_row(item) for item in items]


def _counts(
    session: Session, start: date, end: date, where: tuple[str, str] | None
) -> repository.Sums:
    """The `vcop` counts by (right, outcome), of the whole area or of one slice."""
    if where is None:
        return repository.sums(session, ["vcop"], start, end)["vcop"]
    dimension, group = where
    measure = f"vcop:{dimension}"
    sliced = repository.sums(session, [measure], start, end, key_prefix=f"{group}#")[measure]
    return {(key.partition("#")[2], subkey): n for (key, subkey), n in sliced.items()}


def _right(cells: Cells, entry: dict[str, Any], titles: dict) -> dict[str, Any]:
    right = entry["right"]
    code, edition = right.split("@")
    title, force_item = titles.get(right, (None, None))
    excluded: dict[str, int | str] = {}
    not_applicable: dict[str, int | str] = {}
    for subkey in entry["others"]:
        status, reason = subkey.split(":", 1)
        bucket = not_applicable if status == "not_applicable" else excluded
        bucket[reason if status in ("excluded", "not_applicable") else subkey] = cells.show(
            (right, subkey)
        )
    return {
        "right": code,
        "edition": edition,
        "title": title,
        "force_return": force_item,
        "due": cells.show((right, "due")),
        **{name: cells.show((right, name)) for name in OUTCOMES},
        "excluded": excluded,
        "not_applicable": not_applicable,
        "met_in_time_rate": cells.rate((right, "met_in_time"), (right, "decided")),
    }


def _force_return(items: list[dict[str, Any]], editions: tuple[Edition, ...]) -> list[dict]:
    """The forces' quarterly items: figures where this service tracks the right, else a
    plain statement that it does not know."""
    answer = []
    for item in (
        "written_acknowledgement",
        "referral_to_support_services",
        "updates",
        "victim_personal_statement_offered",
        "release_dates_told",
    ):
        tracked = [i for i in items if i["force_return"] == item]
        known = any(
            r.force_return == item and r.tracked for edition in editions for r in edition.rights
        )
        answer.append(
            {
                "item": item,
                "known": known,
                "rights": [
                    {
                        k: i[k]
                        for k in ("right", "edition", "due", "met_in_time", "met_in_time_rate")
                    }
                    for i in tracked
                ],
            }
        )
    return answer


def _order(editions: tuple[Edition, ...]) -> Any:
    position = {f"{r.id}@{e.edition}": (i, j) for i, e in enumerate(editions)
                for j, r in enumerate(e.rights)}  # fmt: skip
    return lambda right: position.get(right, (99, 99))


def _row(item: dict[str, Any]) -> Row:
    row = {k: v for k, v in item.items() if k not in ("excluded", "not_applicable")}
    row.update({f"excluded:{k}": v for k, v in item["excluded"].items()})
    row.update({f"not_applicable:{k}": v for k, v in item["not_applicable"].items()})
    return row
