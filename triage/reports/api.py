"""Reports for commissioners and admins: aggregates only, small counts suppressed."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from triage.bounds import QUARTER, Day
from triage.caller import Caller
from triage.deps import AppSettings, NoUnknownQuery, Now, ReportReader, ReportsSession, Rules
from triage.lifecycle.codes import CrimeType
from triage.reports import formats
from triage.reports.service import COLUMNS, TITLES, ReportRequest, run_report

# JSON by default; a file with ?format=csv or xlsx.
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the report: JSON, or a CSV or XLSX file (`format`)",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            formats.MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
router = APIRouter(prefix="/api/reports", tags=["reports"], responses=FILES)
Reader = ReportReader
Format = Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")]
From = Annotated[Day | None, Query(alias="from", description="first day received (London)")]
To = Annotated[Day | None, Query(alias="to", description="last day, inclusive")]
Area = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,49}$", description="only this area")]
Crime = Annotated[CrimeType | None, Query(description="only this crime type")]
GroupBy = Literal["crime_type", "hate_strand", "provider", "area", "source", "enhanced", "month"]


def report_answer(
    request: Request,
    session: ReportsSession,
    caller: Caller,
    report: ReportRequest,
    now: Any,
    rules: Rules,
    settings: AppSettings,
    fmt: str,
) -> Any:
    """A report as JSON data, or as a CSV or spreadsheet download (the pages' links too)."""
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
    area: Area = None, crime_type: Crime = None, _unknown: NoUnknownQuery = None,
) -> Any:  # fmt: skip
    """The funnel for referrals received from `from` to `to`, followed to now (DESIGN 5); of
    one area, crime type or both when asked (then grouped by month at most)."""
    report = ReportRequest("conversion", start, end, group_by, area=area,
                           crime_type=crime_type.value if crime_type else None)  # fmt: skip
    return report_answer(request, session, caller, report, now, rules, settings, fmt)


@router.get("/vcop-compliance")
def vcop_compliance_report(
    request: Request, caller: Reader, session: ReportsSession, now: Now, rules: Rules,
    settings: AppSettings,
    start: From = None, end: To = None, fmt: Format = "json",
    area: Area = None, crime_type: Crime = None, _unknown: NoUnknownQuery = None,
) -> Any:  # fmt: skip
    """Each Victims' Code right due in the period: met in time, late, breached, excluded; of
    one area, crime type or both when asked."""
    report = ReportRequest("vcop", start, end, area=area,
                           crime_type=crime_type.value if crime_type else None)  # fmt: skip
    return report_answer(request, session, caller, report, now, rules, settings, fmt)


@router.get("/moj-return")
def moj_return_report(
    request: Request, caller: Reader, session: ReportsSession, now: Now, rules: Rules,
    settings: AppSettings,
    quarter: Annotated[str | None, Query(pattern=QUARTER)] = None,
    fmt: Format = "json", _unknown: NoUnknownQuery = None,
) -> Any:  # fmt: skip
    """The quarter's Ministry of Justice return (the last whole quarter by default)."""
    report = ReportRequest("moj", quarter=quarter)
    return report_answer(request, session, caller, report, now, rules, settings, fmt)


@router.get("/providers")
def providers_report(
    request: Request, caller: Reader, session: ReportsSession, now: Now, rules: Rules,
    settings: AppSettings,
    start: From = None, end: To = None, fmt: Format = "json", _unknown: NoUnknownQuery = None,
) -> Any:  # fmt: skip
    """Offers, acceptance, time to answer and declines per provider, against contract."""
    report = ReportRequest("providers", start, end)
    return report_answer(request, session, caller, report, now, rules, settings, fmt)
