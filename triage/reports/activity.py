"""Activity in a period, not a cohort: the MoJ quarterly return and provider performance."""

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from triage.lifecycle.codes import AnswerReason, Outcome
from triage.providers import repository as provider_repository
from triage.reports import repository
from triage.reports.tables import Cells, percentile

OUTCOMES = tuple(outcome.value for outcome in Outcome)
ANSWERS = ("made", "accepted", "declined", "expired", "withdrawn")
# The coded reasons a provider declines with (an expiry's `no_response` is not one).
DECLINE_REASONS = tuple(r.value for r in AnswerReason if r != AnswerReason.no_response)
MOJ_COLUMNS = ("section", "key", "count", "share")
PROVIDER_COLUMNS = (
    "provider", "name", *ANSWERS, "acceptance_rate", "median_hours_to_answer", "handed_back",
    "annual_volume", "expected_in_period", "offers_against_expected",
    *(f"declined:{reason}" for reason in DECLINE_REASONS),
)  # fmt: skip
Row = dict[str, Any]


def quarter_dates(quarter: str) -> tuple[date, date]:
    """`2026Q3` -> 1 July 2026 to 30 September 2026."""
    year, number = int(quarter[:4]), int(quarter[5])
    start = date(year, 3 * number - 2, 1)
    end = date(year + (number == 4), 1 if number == 4 else 3 * number + 1, 1)
    return start, end - timedelta(days=1)


def _by(sums: repository.Sums, key: str) -> dict[str, int]:
    return {subkey: count for (k, subkey), count in sorted(sums.items()) if k == key}


def _breakdown(cells: Cells, name: str, counts: dict[str, int]) -> str:
    """A total and its parts as cells, the parts adding up to the total."""
    total = cells.put((name, "total"), sum(counts.values()))
    cells.line(total, [cells.put((name, k), v) for k, v in counts.items()])
    return name


def _show(cells: Cells, name: str, keys: list[str]) -> dict[str, Any]:
    return {"total": cells.show((name, "total")), **{k: cells.show((name, k)) for k in keys}}


def moj_return(
    session: Session, *, quarter: str, as_of: datetime
) -> tuple[dict[str, Any], list[Row]]:
    """The quarter's activity as the MoJ asks for it (DOMAIN: what the MoJ asks for)."""
    start, end = quarter_dates(quarter)
    got = repository.sums(
        session, ["received", "referred", "closed", "closed_from_support", "decline"], start, end
    )
    started = repository.sums_until(session, ["support_started"], end)["support_started"]
    ended = repository.sums_until(session, ["support_ended"], start - timedelta(days=1))
    active = {k: v - ended["support_ended"].get(k, 0) for k, v in started.items()}
    declines: dict[str, int] = defaultdict(int)
    for (_, reason), count in got["decline"].items():
        declines[reason] += count
    sections = {
        "received_by_source": _by(got["received"], "source"),
        "received_by_crime_type": _by(got["received"], "crime_type"),
        "received_enhanced": _by(got["received"], "enhanced"),
        "referred_by_crime_type": _by(got["referred"], "crime_type"),
        "referred_by_specialism": _by(got["referred"], "specialism"),
        "supported_by_crime_type": _by(active, "crime_type"),
        "supported_by_specialism": _by(active, "specialism"),
        "supported_enhanced": _by(active, "enhanced"),
        "closed_by_reason": _by(got["closed"], "reason"),
        "decline_reasons": dict(sorted(declines.items())),
    }
    cells = Cells()
    for name, counts in sections.items():
        _breakdown(cells, name, counts)
    support = got["closed_from_support"]
    cases = cells.put(("outcomes", "cases"), support.get(("all", "cases"), 0))
    for outcome in OUTCOMES:
        cells.put(("outcomes", outcome), support.get(("outcome", outcome), 0))
    cells.seal()
    answer: dict[str, Any] = {
        "quarter": quarter,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "as_of": as_of.isoformat(),
        **{name: _show(cells, name, list(counts)) for name, counts in sections.items()},
        "closed_from_support": {
            "cases": cells.show(cases),
            "outcomes": {
                o: {
                    "count": cells.show(("outcomes", o)),
                    "share": cells.rate(("outcomes", o), cases),
                }
                for o in OUTCOMES
            },
        },
    }
    rows = [
        {"section": name, "key": key, "count": value}
        for name in sections
        for key, value in answer[name].items()
    ]
    rows.append({"section": "closed_from_support", "key": "cases", "count": cells.show(cases)})
    rows += [
        {"section": "outcomes", "key": o, "count": v["count"], "share": v["share"]}
        for o, v in answer["closed_from_support"]["outcomes"].items()
    ]
    return answer, rows


def provider_performance(
    session: Session, *, start: date, end: date, as_of: datetime
) -> tuple[dict[str, Any], list[Row]]:
    """Offers, answers, time to answer and declines per provider, against contracted volume."""
    got = repository.sums(session, ["offer", "offer_hours", "decline", "hand_back"], start, end)
    directory = provider_repository.names_and_funding(session)
    codes = [code for code, _, _ in directory]
    cells = Cells()
    for answer_kind in ANSWERS:
        parts = [cells.put((c, answer_kind), got["offer"].get((c, answer_kind), 0)) for c in codes]
        cells.line(cells.put(("total", answer_kind), sum(cells.values[p] for p in parts)), parts)
    reasons = sorted({r for _, r in got["decline"]})
    for code in codes:
        parts = [cells.put((code, "decline", r), got["decline"].get((code, r), 0)) for r in reasons]
        cells.line((code, "declined"), parts)
    cells.seal()
    days = (end - start).days + 1
    rows: list[Row] = []
    for code, name, funding in directory:
        volume = (funding or {}).get("annual_volume")
        expected = round(volume * days / 365, 1) if volume else None
        histogram = {int(b): n for (c, b), n in got["offer_hours"].items() if c == code}
        made = cells.values[(code, "made")]
        rows.append(
            {
                "provider": code,
                "name": name,
                **{a: cells.show((code, a)) for a in ANSWERS},
                "acceptance_rate": cells.rate((code, "accepted"), (code, "made")),
                "median_hours_to_answer": percentile(histogram, 0.5),
                "decline_reasons": {r: cells.show((code, "decline", r)) for r in reasons},
                "handed_back": sum(n for (c, _), n in got["hand_back"].items() if c == code),
                "annual_volume": volume,
                "expected_in_period": expected,
                "offers_against_expected": (
                    round(made / expected, 3)
                    if expected and (code, "made") not in cells.marks
                    else None
                ),
            }
        )
    for row in rows:
        if 1 <= row["handed_back"] <= 4:
            row["handed_back"] = "<5"
    answer = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "as_of": as_of.isoformat(),
        "providers": rows,
        "total": {a: cells.show(("total", a)) for a in ANSWERS},
    }
    flat = [
        {**{k: v for k, v in r.items() if k != "decline_reasons"},
         **{f"declined:{k}": 0 for k in DECLINE_REASONS},  # a reason not given, given 0 times
         **{f"declined:{k}": v for k, v in r["decline_reasons"].items()}}
        for r in rows
    ]  # fmt: skip
    return answer, flat
