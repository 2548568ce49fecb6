"""Reports for commissioners and admins: aggregates only, small counts suppressed."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from triage.caller import Caller
from triage.deps import AppSettings, Now, ReportReader, ReportsSession, Rules
from triage.reports import formats
from triage.reports.service import COLUMNS, TITLES, ReportRequest, run_report

router = APIRouter(prefix="/api/reports", tags=["reports"])
Reader = ReportReader
Format = Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")]
From = Annotated[date | None, Query(alias="from", description="first day received (London)")]
To = Annotated[date | None, Query(alias="to", description="last day, inclusive")]
GroupBy = Literal["crime_type", "hate_strand", "provider", "area", "source", "enhanced", "month"]


def _answer(
    request: Request,
    session: ReportsSession,
    caller: Caller,
    report: ReportRequest,
    now: Any,
    rules: Rules,
    settings: AppSettings,
    fmt: str,
) -> Any:
    answer, rows = run_report(
        session,
        fold_first=not request.app.state.reports_on_replica,
        caller=caller,
        request=report,
        now=now,
        rules=rules,
        settings=settings,
    )
    if fmt == "json":
        return answer
    name = f"{report.kind}-{now:%Y%m%d}.{fmt}"
    return Response(
        formats.render(rows, fmt=fmt, title=TITLES[report.kind], fixed=COLUMNS[report.kind]),
        media_type=formats.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/conversion")
def conversion_report(
    request: Request, caller: Reader, session: ReportsSession, now: Now, rules: Rules,
    settings: AppSettings,
    start: From = None, end: To = None, group_by: GroupBy | None = None, fmt: Format = "json",
) -> Any:  # fmt: skip
    """The funnel for referrals received from `from` to `to`, followed to now (DESIGN 5)."""
    report = ReportRequest("conversion", start, end, group_by)
    return _answer(request, session, caller, report, now, rules, settings, fmt)


@router.get("/vcop-compliance")
def vcop_compliance_report(
    request: Request, caller: Reader, session: ReportsSession, now: Now, rules: Rules,
    settings: AppSettings,
    start: From = None, end: To = None, fmt: Format = "json",
) -> Any:  # fmt: skip
    """Each Victims' Code right due in the period: met in time, late, breached, excluded."""
    report = ReportRequest("vcop", start, end)
    return _answer(request, session, caller, report, now, rules, settings, fmt)


@router.get("/moj-return")
def moj_return_report(
    request: Request, caller: Reader, session: ReportsSession, now: Now, rules: Rules,
    settings: AppSettings,
    quarter: Annotated[str | None, Query(pattern=r"^\d{4}Q[1-4]$")] = None,
    fmt: Format = "json",
) -> Any:  # fmt: skip
    """The quarter's Ministry of Justice return (the last whole quarter by default)."""
    report = ReportRequest("moj", quarter=quarter)
    return _answer(request, session, caller, report, now, rules, settings, fmt)


@router.get("/providers")
def providers_report(
    request: Request, caller: Reader, session: ReportsSession, now: Now, rules: Rules,
    settings: AppSettings,
    start: From = None, end: To = None, fmt: Format = "json",
) -> Any:  # fmt: skip
    """Offers, acceptance, time to answer and declines per provider, against contract."""
    report = ReportRequest("providers", start, end)
    return _answer(request, session, caller, report, now, rules, settings, fmt)
