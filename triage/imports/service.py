"""The police feed import (DESIGN 10): every row validated by the model `POST /api/referrals`
validates, given the same Victims' Code evaluation and audit, and stored in batches, each
one transaction; bad rows to the rejects without stopping the good ones.

Idempotent by `(police, external_ref)`: a row whose crime reference is stored already is
"already present" when it says the same, and rejected naming the fields when it does not, so
a file imported twice, or cut off at any point and sent again, creates nothing twice.
"""

import gc
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from queue import Full, Queue
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from triage.caller import Caller
from triage.config import Settings
from triage.db import transaction
from triage.errors import InvalidInput
from triage.imports import repository
from triage.imports.feed import SOURCE, FeedReader, FeedRow, body_of, column_of
from triage.imports.models import ImportReject
from triage.referrals import service as referrals
from triage.referrals.schemas import ReferralCreate
from triage.reports.formats import cell
from triage.rule_sources import RuleSources
from triage.vcop import service as vcop_service

BATCH = 2000  # rows a transaction: large enough for COPY to pay, small enough to redo
REF_SHOWN = 100  # a crime reference in the rejects is cut to this (the column's width)


@dataclass
class Summary:
    """Rows read (data rows, the header not counted), created, already present, rejected."""

    read: int = 0
    created: int = 0
    already_present: int = 0
    rejected: int = 0

    def add(self, other: "Summary") -> None:
        self.read += other.read
        self.created += other.created
        self.already_present += other.already_present
        self.rejected += other.rejected


@dataclass(frozen=True)
class Reject:
    """One problem of one row: `row` 1-based (the header not counted)."""

    row: int
    external_ref: str
    field: str
    reason: str


REJECT_COLUMNS = ("row", "external_ref", "field", "reason")


def reject_row(reject: Reject | ImportReject) -> list[object]:
    """A rejects file's line, formula-safe (a spreadsheet opens it)."""
    return [reject.row, cell(reject.external_ref), cell(reject.field), cell(reject.reason)]


@dataclass
class Batch:
    """What one transaction did: its counts, its rejects, the last row it covered."""

    summary: Summary = field(default_factory=Summary)
    rejects: list[Reject] = field(default_factory=list)
    last_row: int = 0


@dataclass(frozen=True)
class Context:
    caller: Caller
    rules: RuleSources
    settings: Settings
    clock: Callable[[], datetime]


def import_feed(
    factory: sessionmaker[Session],
    reader: FeedReader,
    context: Context,
    *,
    done: Callable[[Session, Batch], None] = lambda session, batch: None,
    committed: Callable[[Summary], None] = lambda summary: None,
    after_row: int = 0,
    batch_size: int = BATCH,
    workers: int = 0,
) -> Summary:
    """Import every row after `after_row` (a job resumed). `done(session, batch)` runs in
    each batch's transaction (a job's progress commits with its rows), `committed(summary)`
    after it. With `workers`, batches are validated and worked out in that many processes
    while this one stores the batch before, in file order (ADR 17). Answers the summary."""
    total = Summary()
    batches = _batches(reader.rows(), after_row, batch_size)
    database_url = repository.copy_url(factory)  # None: SQLite, one writer, row by row
    for rows, work in _work_out(batches, context, workers, database_url):
        with transaction(factory) as session:
            if isinstance(work, Encoded):
                batch = _store_encoded(session, rows, work, context)
            else:
                batch = _store(session, rows, work, context)
            done(session, batch)
        committed(batch.summary)
        total.add(batch.summary)
    return total


def _batches(rows: Iterable[FeedRow], after_row: int, size: int) -> Iterator[list[FeedRow]]:
    pending: list[FeedRow] = []
    for row in rows:
        if row.number <= after_row:
            continue
        pending.append(row)
        if len(pending) >= size:
            yield pending
            pending = []
    if pending:
        yield pending


@dataclass(frozen=True)
class Made:
    """A new referral's row, its creation's audit line and its first check-log lines."""

    values: dict[str, Any]
    audit: dict[str, Any]
    checks: list[dict[str, Any]]


@dataclass
class Prepared:
    """A batch worked out without the database: the rows' problems, and for each valid row
    everything its creation would store."""

    now: datetime
    rejects: list[Reject] = field(default_factory=list)
    rejected: int = 0
    made: list[tuple[int, str, Made]] = field(default_factory=list)  # row, crime ref, rows


def prepare(
    rows: list[FeedRow], now: datetime, caller: Caller, rules: RuleSources, settings: Settings
) -> Prepared:
    """Validate a batch and work out what each valid row would store (pure: no database,
    so a worker process can do it)."""
    prepared = Prepared(now)
    for row in rows:
        body, problems = validated(row, rules, now)
        if problems:
            prepared.rejects.extend(problems)
            prepared.rejected += 1
        elif body is not None:
            made = _made(body, caller, rules, settings, now)
            prepared.made.append((row.number, body.external_ref or "", made))
    return prepared


@dataclass
class Encoded:
    """A batch worked out in a worker process: its rows' problems, and the binary COPY data
    of the referrals that come first for their crime reference, with their lines."""

    now: datetime
    rejects: list[Reject]
    rejected: int
    created: int  # referrals in the data
    later: list[int]  # rows whose crime reference came earlier in the batch
    data: repository.CopyData


def _work_out(
    batches: Iterator[list[FeedRow]], context: Context, workers: int, database_url: str | None
) -> Iterator[tuple[list[FeedRow], Prepared | Encoded]]:
    """Each batch worked out, in file order: in this process, or (`workers` > 0, PostgreSQL)
    encoded in worker processes while this one stores the batch before, and by this one's
    feed reader whenever every worker has a batch waiting (ADR 17); at most `workers` + 3
    batches in flight, so memory stays flat."""
    if workers <= 0 or database_url is None:
        for rows in batches:
            now = context.clock()
            yield rows, prepare(rows, now, context.caller, context.rules, context.settings)
        return
    here = _Worker(context.caller, context.rules, context.settings, database_url)
    sent: deque[Future[Encoded]] = deque()

    def submit(rows: list[FeedRow]) -> Future[Encoded]:
        while sent and sent[0].done():
            sent.popleft()
        if len(sent) >= 2 * workers:  # every worker busy, with one more waiting
            future: Future[Encoded] = Future()
            future.set_result(here.encode(rows, context.clock()))
            return future
        sent.append(pool.submit(_encode_in_worker, rows, context.clock()))
        return sent[-1]

    # spawn: workers start from a clean process (not a fork of this one and its threads),
    # children of this one, so they can tell when it is gone.
    try:
        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(context.caller, context.rules, context.settings, database_url, os.getpid()),
        ) as pool:
            for rows, future in _read_ahead(batches, submit, workers):
                yield rows, future.result()
    finally:
        here.close()


_END = object()


def _read_ahead(
    batches: Iterator[list[FeedRow]],
    submit: Callable[[list[FeedRow]], Future[Encoded]],
    depth: int,
) -> Iterator[tuple[list[FeedRow], Future[Encoded]]]:
    """The batches, each handed to `submit` by a thread that reads the feed while this one
    waits for the database (the file's parsing off the path each batch waits on); at most
    `depth` + 2 in flight. An error reading the feed is raised here, in file order."""
    handed: Queue[object] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def read() -> None:
        try:
            for rows in batches:
                if not put((rows, submit(rows))):
                    return
            put(_END)
        except BaseException as error:  # raised in the thread that reads the answers
            put(error)

    thread = threading.Thread(target=read, name="feed reader", daemon=True)
    thread.start()
    try:
        while (item := handed.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


class _Worker:
    """Works a batch out and encodes it as COPY data: in a worker process, or in the
    importer's feed reader."""

    def __init__(
        self, caller: Caller, rules: RuleSources, settings: Settings, database_url: str
    ) -> None:
        self.caller, self.rules, self.settings = caller, rules, settings
        self.encoder = repository.Encoder(database_url)

    def encode(self, rows: list[FeedRow], now: datetime) -> Encoded:
        prepared = prepare(rows, now, self.caller, self.rules, self.settings)
        first, later = _firsts(prepared)
        made = [m for _, m in first.values()]
        data = self.encoder.encode(
            [m.values for m in made], [m.audit for m in made], [r for m in made for r in m.checks]
        )
        return Encoded(now, prepared.rejects, prepared.rejected, len(made), later, data)

    def close(self) -> None:
        self.encoder.close()


_worker: _Worker | None = None


def _start_worker(
    caller: Caller, rules: RuleSources, settings: Settings, database_url: str, parent: int
) -> None:
    global _worker
    _worker = _Worker(caller, rules, settings, database_url)
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    fewer_collections()


def _end_with(parent: int) -> None:
    """A worker outlives no import: killed (SIGKILL), it cannot stop its workers itself."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _encode_in_worker(rows: list[FeedRow], now: datetime) -> Encoded:
    assert _worker is not None, "a worker process starts with _start_worker"
    return _worker.encode(rows, now)


def _firsts(prepared: Prepared) -> tuple[dict[str, tuple[int, Made]], list[int]]:
    """The rows that come first for their crime reference (by reference), and the later
    rows of the same references."""
    first: dict[str, tuple[int, Made]] = {}
    later: list[int] = []
    for number, ref, made in prepared.made:
        if ref in first:
            later.append(number)
        else:
            first[ref] = (number, made)
    return first, later


def fewer_collections() -> None:
    """What is loaded now lives as long as the process: the cycle collector need not walk
    it again, and a batch's short-lived objects need not set it off every 700 allocations
    (a quarter of an import's time went to collections)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def validated(
    row: FeedRow, rules: RuleSources, now: datetime
) -> tuple[ReferralCreate | None, list[Reject]]:
    """A row as the body `POST /api/referrals` takes, or its problems (one per field)."""
    ref = row.record.get("external_ref")
    ref_text = ref[:REF_SHOWN] if isinstance(ref, str) else ""
    if row.problem is not None:
        return None, [Reject(row.number, ref_text, *row.problem)]
    if not ref_text.strip():
        return None, [Reject(row.number, "", "external_ref", "the crime reference is required")]
    try:
        body = ReferralCreate.model_validate(body_of(row.record))
        referrals.check_new(body, rules=rules, now=now)
    except ValidationError as error:
        return None, [
            Reject(row.number, ref_text, column_of(tuple(e["loc"])), e["msg"])
            for e in error.errors(include_url=False, include_input=False, include_context=False)
        ]
    except InvalidInput as error:
        return None, [Reject(row.number, ref_text, column_of(error.field), error.message)]
    return body, []


def _store(session: Session, rows: list[FeedRow], prepared: Prepared, context: Context) -> Batch:
    """Insert the batch's new crime references; compare the rest with what is stored."""
    batch = Batch(last_row=rows[-1].number)
    batch.summary.read = len(rows)
    batch.summary.rejected = prepared.rejected
    batch.rejects.extend(prepared.rejects)
    first, later = _firsts(prepared)
    inserted = repository.insert_referrals(session, [m.values for _, m in first.values()])
    taken = {ref for ref, (_, m) in first.items() if m.values["id"] not in inserted}
    present = repository.refs_stored(session, SOURCE, taken) if taken else set()
    for ref in taken - present:
        # Not stored before: its random reference was taken. Drawn again, alone.
        values = first[ref][1].values
        if repository.insert_one(session, values, draw=referrals.new_reference):
            inserted.add(values["id"])
    created = [m for _, m in first.values() if m.values["id"] in inserted]
    repository.append_lines(
        session,
        audit_lines=[m.audit for m in created],
        check_rows=[row for m in created for row in m.checks],
    )
    batch.summary.created += len(created)
    _repeats(session, rows, sorted([first[ref][0] for ref in present] + later), context,
             prepared.now, batch)  # fmt: skip
    return batch


def _store_encoded(
    session: Session, rows: list[FeedRow], encoded: Encoded, context: Context
) -> Batch:
    """Send a batch a worker encoded; when one of its keys is taken, the careful way."""
    if not repository.copy_encoded(session, encoded.data):
        prepared = prepare(rows, encoded.now, context.caller, context.rules, context.settings)
        return _store(session, rows, prepared, context)
    batch = Batch(last_row=rows[-1].number)
    batch.summary.read = len(rows)
    batch.summary.rejected = encoded.rejected
    batch.summary.created = encoded.created
    batch.rejects.extend(encoded.rejects)
    _repeats(session, rows, encoded.later, context, encoded.now, batch)
    return batch


def _repeats(
    session: Session,
    rows: list[FeedRow],
    numbers: list[int],
    context: Context,
    now: datetime,
    batch: Batch,
) -> None:
    """Rows whose crime reference is stored: "already present" when they say the same,
    rejected naming the fields when not (validated again here: they are few)."""
    by_number = {row.number: row for row in rows}
    repeats = [
        (number, body)
        for number in numbers
        if (body := validated(by_number[number], context.rules, now)[0]) is not None
    ]
    stored = repository.stored_refs(
        session, SOURCE, {body.external_ref or "" for _, body in repeats}
    )
    for number, body in repeats:
        ref = body.external_ref or ""
        differ = referrals.fields_that_differ(stored[ref], body)
        if not differ:
            batch.summary.already_present += 1
            continue
        batch.summary.rejected += 1
        batch.rejects.extend(
            Reject(number, ref[:REF_SHOWN], column_of(tuple(place.split("."))),
                   "differs from the referral this crime reference created before")
            for place in differ
        )  # fmt: skip


def _made(
    body: ReferralCreate, caller: Caller, rules: RuleSources, settings: Settings, now: datetime
) -> Made:
    values, evaluation = referrals.new_referral(
        caller, body, idempotency_key=None, request_hash="", now=now, rules=rules,
        settings=settings,
    )  # fmt: skip
    values["reference"] = referrals.new_reference(now)
    checks = vcop_service.check_rows(
        referral_id=values["id"], evaluation=evaluation,
        check=referrals.creation_check(caller), now=now,
    )  # fmt: skip
    return Made(values, referrals.creation_audit(caller, values, body, evaluation), checks)
