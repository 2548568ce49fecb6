"""`triage import police-feed`: a police feed file into the database, with a progress bar,
a rejects file and a summary (DESIGN 10)."""

import csv
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from triage.auth import service as auth_service
from triage.config import get_settings
from triage.db import session_factory_for, transaction
from triage.errors import InvalidInput
from triage.imports.feed import FeedReader, FeedUnreadable
from triage.imports.service import (
    REJECT_COLUMNS,
    Batch,
    Context,
    Reject,
    Summary,
    fewer_collections,
    import_feed,
    reject_row,
)
from triage.rule_sources import RuleSources

SOME_REJECTED = 3  # the exit status when rows were rejected (the rest imported)


def police_feed(
    file: Path,
    *,
    mapping: Path | None,
    rejects: Path | None,
    acting_as: str,
    make_reader: Callable[[Path, Path | None], FeedReader],
) -> None:
    """`triage import police-feed` (its options in triage/cli.py)."""
    settings = get_settings()
    factory = session_factory_for(settings.database_url)
    rejects = rejects or file.with_name(file.name + ".rejects.csv")
    try:
        reader = make_reader(file, mapping)
        rules = RuleSources.from_settings(settings)
        with transaction(factory) as session:
            caller = auth_service.feed_caller(session, username=acting_as, now=datetime.now(UTC))
    except (FeedUnreadable, InvalidInput) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    context = Context(
        caller=caller, rules=rules, settings=settings, clock=lambda: datetime.now(UTC)
    )
    started = time.perf_counter()
    with rejects.open("w", encoding="utf-8", newline="") as out, _progress() as progress:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(REJECT_COLUMNS)
        so_far = Summary()
        task = progress.add_task("importing", read=0, rate=0.0, rejected=0, total=None)
        written: list[Reject] = []

        def done(session: Session, batch: Batch) -> None:
            written.extend(batch.rejects)  # written once the batch's transaction commits

        def committed(batch_summary: Summary) -> None:
            so_far.add(batch_summary)
            writer.writerows(reject_row(reject) for reject in written)
            written.clear()
            out.flush()
            seconds = max(time.perf_counter() - started, 1e-9)
            progress.update(task, read=so_far.read, rate=so_far.read / seconds,
                            rejected=so_far.rejected)  # fmt: skip

        try:
            fewer_collections()
            summary = import_feed(factory, reader, context, done=done, committed=committed,
                                  workers=settings.import_workers)  # fmt: skip
        except FeedUnreadable as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
    seconds = time.perf_counter() - started
    typer.echo(
        f"read {summary.read:,}, created {summary.created:,}, already present "
        f"{summary.already_present:,}, rejected {summary.rejected:,} "
        f"({summary.read / max(seconds, 1e-9):,.0f} rows/s)"
    )
    if summary.rejected:
        typer.echo(f"rejects: {rejects}")
        raise typer.Exit(SOME_REJECTED)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.fields[read]:,} rows read"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TextColumn("{task.fields[rejected]:,} rejected"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
