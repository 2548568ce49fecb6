"""The admins' access report (DESIGN 11): who read or changed a referral, or what one user
read or changed, from the audit log, as JSON or a CSV file. A route over the audit log, kept
here with the other reports: every domain writes to the audit log, so it sits beneath them
all and holds no route."""

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from triage.audit import service as audit
from triage.audit.schemas import COLUMNS, AccessQuery, Key, ReferralAccess, UserAccess
from triage.bounds import INT_MAX, Day
from triage.deps import AdminOnly, DbSession, NoUnknownQuery, Now
from triage.reports import formats

router = APIRouter(tags=["audit"])  # /api/audit/access: not under /api/reports
FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the report: JSON, or a CSV file (`format=csv`)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
    404: {
        "description": "no such referral or user",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
}

From = Annotated[
    Day | None, Query(alias="from", description="first day (UTC); by default 29 days before `to`")
]
To = Annotated[
    Day | None, Query(alias="to", description="last day, inclusive (UTC); by default today")
]


@router.get("/api/audit/access", response_model=ReferralAccess | UserAccess, responses=FILE)
def access_report(
    caller: AdminOnly,
    session: DbSession,
    now: Now,
    referral: Annotated[
        Key | None, Query(description="the referral's id or VR- reference (or give `user`)")
    ] = None,
    user: Annotated[Key | None, Query(description="a username (or give `referral`)")] = None,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=INT_MAX)] = 0,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    _unknown: NoUnknownQuery = None,
) -> Any:  # fmt: skip
    """Who read or changed a referral, or what one user read or changed, over a period
    (admin): each audit line oldest first, as `read` or `change`, never its detail. Giving
    both `referral` and `user`, or neither, is a 422. Producing the report is audited."""
    query = AccessQuery.model_validate({"referral": referral, "user": user, "from": start,
                                        "to": end})  # fmt: skip
    report = audit.access_report(
        session, caller=caller, query=query, limit=limit, offset=offset, now=now
    )
    return access_csv(report) if fmt == "csv" else report


def access_csv(report: ReferralAccess | UserAccess) -> Response:
    """The report's lines as a CSV download (every cell guarded against formulas)."""
    rows = [line.model_dump(mode="json") for line in report.items]
    subject = report.reference if isinstance(report, ReferralAccess) else report.user
    subject = re.sub(r"[^A-Za-z0-9._@-]", "_", subject)  # a filename, whatever a name holds
    name = f"access-{subject}-{report.start:%Y%m%d}-{report.end:%Y%m%d}.csv"
    return Response(
        formats.to_csv(rows, COLUMNS),
        media_type=formats.MEDIA_TYPES["csv"],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
