"""`triage report …`: the commissioners' reports on the command line, and the rollups' upkeep."""

import json
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import typer

from triage.config import get_settings
from triage.db import session_factory_for, transaction
from triage.errors import InvalidInput
from triage.reports import fold, formats
from triage.reports.service import COLUMNS, TITLES, ReportRequest, run_report
from triage.rule_sources import RuleSources

report_app = typer.Typer(help="Reports: conversion, VCOP compliance, MoJ return, providers.")

Format = Literal["json", "csv", "xlsx"]
FROM = typer.Option(None, "--from", help="first day (YYYY-MM-DD); default 1 January")
TO = typer.Option(None, "--to", help="last day, inclusive; default today")
FORMAT = typer.Option("json", "--format", help="json, csv or xlsx")
OUTPUT = typer.Option(None, "--output", "-o", help="file to write; default standard output")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def _option(field: str | int) -> str:
    """The option as typed on the command line: `group_by` is `--group-by`."""
    return "--" + str(field).replace("_", "-")


def _emit(request: ReportRequest, fmt: Format, output: Path | None) -> None:
    settings = get_settings()
    rules = RuleSources.from_settings(settings)
    now = datetime.now(UTC)
    try:
        with transaction(session_factory_for(settings.database_url)) as session:
            answer, rows = run_report(
                session,
                fold_first=True,
                caller=None,
                request=request,
                now=now,
                rules=rules,
                settings=settings,
            )
    except InvalidInput as error:
        raise typer.BadParameter(str(error), param_hint=_option(error.field[-1])) from None
    if fmt == "json":
        data = (json.dumps(answer, indent=2) + "\n").encode()
    else:
        data = formats.render(
            rows, fmt=fmt, title=TITLES[request.kind], fixed=COLUMNS[request.kind]
        )
    if output is not None:
        output.write_bytes(data)
        typer.echo(f"{request.kind} report: {len(rows)} rows written to {output}", err=True)
    elif fmt == "xlsx":
        raise typer.BadParameter("a spreadsheet needs --output FILE", param_hint="--output")
    else:
        sys.stdout.buffer.write(data)


@report_app.command("conversion")
def conversion(
    start: str | None = FROM,
    end: str | None = TO,
    group_by: str | None = typer.Option(None, "--group-by", help="crime_type, month, …"),
    fmt: Format = FORMAT,
    output: Path | None = OUTPUT,
) -> None:
    """The conversion funnel for referrals received in the period."""
    request = ReportRequest("conversion", _day(start, "--from"), _day(end, "--to"), group_by)
    _emit(request, fmt, output)


@report_app.command("vcop")
def vcop(
    start: str | None = FROM,
    end: str | None = TO,
    fmt: Format = FORMAT,
    output: Path | None = OUTPUT,
) -> None:
    """Victims' Code compliance per right for rights due in the period."""
    _emit(ReportRequest("vcop", _day(start, "--from"), _day(end, "--to")), fmt, output)


@report_app.command("moj")
def moj(
    quarter: str | None = typer.Option(None, help="e.g. 2026Q3; default the last whole one"),
    fmt: Format = FORMAT,
    output: Path | None = OUTPUT,
) -> None:
    """The Ministry of Justice quarterly return."""
    _emit(ReportRequest("moj", quarter=quarter), fmt, output)


@report_app.command("providers")
def providers(
    start: str | None = FROM,
    end: str | None = TO,
    fmt: Format = FORMAT,
    output: Path | None = OUTPUT,
) -> None:
    """Provider performance against contracted volume."""
    _emit(ReportRequest("providers", _day(start, "--from"), _day(end, "--to")), fmt, output)


@report_app.command("fold")
def fold_now() -> None:
    """Fold every referral changed since the rollups last read it (the scheduler does this)."""
    started = time.perf_counter()
    settings = get_settings()
    factory = session_factory_for(settings.database_url)
    count = fold.fold_pending(factory, now=datetime.now(UTC), settings=settings)
    typer.echo(f"folded {count} referrals in {time.perf_counter() - started:.1f} s")


@report_app.command("rebuild")
def rebuild() -> None:
    """Empty the rollups and rebuild them from the audit events."""
    started = time.perf_counter()
    settings = get_settings()
    factory = session_factory_for(settings.database_url)
    count = fold.rebuild(factory, now=datetime.now(UTC), settings=settings)
    typer.echo(
        f"rebuilt the rollups from {count} referrals in {time.perf_counter() - started:.1f} s"
    )
