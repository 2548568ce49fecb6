"""The commissioner's dashboard: the conversion funnel and Victims' Code compliance, each a
chart beside its table, the MoJ return and provider performance; filtered by period, area
and crime type; every table downloadable as CSV or a spreadsheet. The figures are the
reports' own (the same function as the API), small counts suppressed the same way."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from triage.bounds import QUARTER
from triage.deps import AppSettings, Now, ReportsSession, Rules
from triage.lifecycle.codes import CrimeType
from triage.reports.api import report_answer
from triage.reports.service import ReportRequest, last_quarter, run_report
from triage.web.labels import options
from triage.web.pages import ReportsPage, render

router = APIRouter(include_in_schema=False)
AREA = r"^[a-z][a-z0-9_]{0,49}$"
Kind = Literal["conversion", "vcop", "moj", "providers"]


@dataclass(frozen=True)
class Period:
    code: str
    text: str
    start: date
    end: date


def periods(today: date) -> list[Period]:
    """The periods the dashboard offers: the year so far, the last 12 months, last year,
    and this quarter and the four before it."""
    answer = [
        Period("year", f"{today.year} so far", date(today.year, 1, 1), today),
        Period("12m", "The last 12 months", today - timedelta(days=364), today),
        Period(str(today.year - 1), f"All of {today.year - 1}", date(today.year - 1, 1, 1),
               date(today.year - 1, 12, 31)),
    ]  # fmt: skip
    first = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    for back in range(5):
        month = first.month - 3 * back
        year = first.year + (month - 1) // 12
        start = date(year, (month - 1) % 12 + 1, 1)
        end = min(_quarter_end(start), today)
        number = (start.month - 1) // 3 + 1
        words = f"{start:%B} to {end:%B %Y}" + (" so far" if end == today else "")
        answer.append(Period(f"{start.year}Q{number}", words, start, end))
    return answer


def _quarter_end(start: date) -> date:
    month = start.month + 3
    following = date(start.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    return following - timedelta(days=1)


def quarters(today: date) -> list[tuple[str, str]]:
    """The whole quarters the MoJ return may be read for (the last eight)."""
    answer = []
    code = last_quarter(today)
    for _ in range(8):
        year, number = int(code[:4]), int(code[5])
        first = date(year, 3 * number - 2, 1)
        answer.append((code, f"{first:%B} to {_quarter_end(first):%B %Y}"))
        code = f"{year - 1}Q4" if number == 1 else f"{year}Q{number - 1}"
    return answer


@router.get("/dashboard")
def dashboard(
    request: Request,
    signed: ReportsPage,
    session: ReportsSession,
    now: Now,
    rules: Rules,
    settings: AppSettings,
    period: Annotated[str, Query(max_length=10)] = "year",
    area: Annotated[str | None, Query(pattern=AREA)] = None,
    crime_type: CrimeType | None = None,
    quarter: Annotated[str | None, Query(pattern=QUARTER)] = None,
) -> HTMLResponse:
    today = _today(now, settings.timezone)
    chosen = _period(today, period)
    area = area if area in rules.areas else None
    crime = crime_type.value if crime_type else None
    quarter = quarter or last_quarter(today)

    def report(kind: Kind) -> dict[str, Any]:
        asked = _request(kind, chosen, area, crime, quarter)
        return run_report(session, fold_first=not request.app.state.reports_on_replica,
                          caller=signed.caller, request=asked, now=now, rules=rules,
                          settings=settings)[0]  # fmt: skip

    query = {"period": chosen.code, "area": area or "", "crime_type": crime or "",
             "quarter": quarter}  # fmt: skip
    return render(
        request,
        "commissioner/dashboard.html",
        signed,
        funnel=report("conversion"),
        vcop=report("vcop"),
        moj=report("moj"),
        providers=report("providers"),
        period=chosen,
        periods=periods(today),
        quarters=quarters(today),
        chosen={"area": area, "crime_type": crime, "quarter": quarter},
        areas=options(sorted(rules.areas)),
        crime_types=options(CrimeType),
        download=lambda kind, fmt: f"/dashboard/{kind}.{fmt}?{urlencode(query)}",
    )


@router.get("/dashboard/{kind}.{fmt}")
def download(
    request: Request,
    signed: ReportsPage,
    session: ReportsSession,
    now: Now,
    rules: Rules,
    settings: AppSettings,
    kind: Kind,
    fmt: Literal["csv", "xlsx"],
    period: Annotated[str, Query(max_length=10)] = "year",
    area: Annotated[str | None, Query(pattern=AREA)] = None,
    crime_type: CrimeType | None = None,
    quarter: Annotated[str | None, Query(pattern=QUARTER)] = None,
) -> Response:
    """One of the dashboard's tables as a file: the same report, the same filters."""
    chosen = _period(_today(now, settings.timezone), period)
    asked = _request(kind, chosen, area if area in rules.areas else None,
                     crime_type.value if crime_type else None, quarter)  # fmt: skip
    answer: Response = report_answer(request, session, signed.caller, asked, now, rules,
                                     settings, fmt)  # fmt: skip
    return answer


def _today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def _period(today: date, code: str) -> Period:
    """The period with this code; the year so far for one not offered."""
    offered = periods(today)
    return next((p for p in offered if p.code == code), offered[0])


def _request(
    kind: Kind, period: Period, area: str | None, crime: str | None, quarter: str | None
) -> ReportRequest:
    if kind == "moj":
        return ReportRequest("moj", quarter=quarter)
    sliced = kind in ("conversion", "vcop")
    return ReportRequest(kind, period.start, period.end, area=area if sliced else None,
                         crime_type=crime if sliced else None)  # fmt: skip
