"""The police feed import (DESIGN 10): every row validated by the model `POST /api/referrals`
validates, given the same Victims' Code evaluation and audit, and stored in batches, each
one transaction; bad rows to the rejects without stopping the good ones.

Idempotent by `(police, external_ref)`: a row whose crime reference is stored already is
"already present" when it says the same, and rejected naming the fields when it does not, so
a file imported twice, or cut off at any point and sent again, creates nothing twice.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
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
from triage.vcop.rights import Evaluation

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
) -> Summary:
    """Import every row after `after_row` (a job resumed). `done(session, batch)` runs in
    each batch's transaction (a job's progress commits with its rows), `committed(summary)`
    after it. Answers the summary."""
    total = Summary()
    pending: list[FeedRow] = []
    for row in reader.rows():
        if row.number <= after_row:
            continue
        pending.append(row)
        if len(pending) >= batch_size:
            total.add(_import_batch(factory, pending, context, done, committed))
            pending = []
    if pending:
        total.add(_import_batch(factory, pending, context, done, committed))
    return total


def _import_batch(
    factory: sessionmaker[Session],
    rows: list[FeedRow],
    context: Context,
    done: Callable[[Session, Batch], None],
    committed: Callable[[Summary], None],
) -> Summary:
    now = context.clock()
    batch = Batch(last_row=rows[-1].number)
    batch.summary.read = len(rows)
    valid: list[tuple[int, ReferralCreate]] = []
    for row in rows:
        body, problems = validated(row, context.rules, now)
        if problems:
            batch.rejects.extend(problems)
            batch.summary.rejected += 1
        elif body is not None:
            valid.append((row.number, body))
    with transaction(factory) as session:
        _store(session, valid, context, now, batch)
        done(session, batch)
    committed(batch.summary)
    return batch.summary


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


def _store(
    session: Session,
    valid: list[tuple[int, ReferralCreate]],
    context: Context,
    now: datetime,
    batch: Batch,
) -> None:
    """Insert the batch's new crime references; compare the rest with what is stored."""
    first: dict[str, tuple[int, ReferralCreate]] = {}
    later: list[tuple[int, ReferralCreate]] = []  # a crime reference seen earlier in the batch
    for number, body in valid:
        ref = body.external_ref or ""
        if ref in first:
            later.append((number, body))
        else:
            first[ref] = (number, body)
    made = {ref: _made(body, context, now) for ref, (_, body) in first.items()}
    inserted = repository.insert_referrals(session, [m.values for m in made.values()])
    taken = {ref for ref, m in made.items() if m.values["id"] not in inserted}
    present = repository.refs_stored(session, SOURCE, taken) if taken else set()
    for ref in taken - present:
        # Not stored before: its random reference was taken. Drawn again, alone.
        if repository.insert_one(session, made[ref].values, draw=referrals.new_reference):
            inserted.add(made[ref].values["id"])
    created = [m for m in made.values() if m.values["id"] in inserted]
    repository.append_lines(
        session,
        audit_lines=[
            referrals.creation_audit(context.caller, m.values, m.body, m.evaluation)
            for m in created
        ],
        check_rows=[
            row
            for m in created
            for row in vcop_service.check_rows(
                referral_id=m.values["id"],
                evaluation=m.evaluation,
                check=referrals.creation_check(context.caller),
                now=now,
            )
        ],
    )
    batch.summary.created += len(created)
    repeats = sorted([first[ref] for ref in present] + later, key=lambda r: r[0])
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


@dataclass(frozen=True)
class Made:
    """A new referral's row, the body it came from, and its first evaluation."""

    values: dict[str, Any]
    body: ReferralCreate
    evaluation: Evaluation


def _made(body: ReferralCreate, context: Context, now: datetime) -> Made:
    values, evaluation = referrals.new_referral(
        context.caller, body, idempotency_key=None, request_hash="", now=now,
        rules=context.rules, settings=context.settings,
    )  # fmt: skip
    values["reference"] = referrals.new_reference(now)
    return Made(values, body, evaluation)
