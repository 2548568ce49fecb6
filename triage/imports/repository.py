"""Every query of the feed import: referrals and their first audit and check-log lines in
bulk. On PostgreSQL by binary COPY: a batch encoded by a worker process straight into the
tables under a savepoint; else, or when a key of it turns out taken, the referrals into a
staging table and one `INSERT ... SELECT ... ON CONFLICT DO NOTHING`. On SQLite by the plain
statements intake uses."""

import io
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.copy import FileWriter
from psycopg.errors import UniqueViolation
from psycopg.types.json import set_json_dumps
from sqlalchemy import Table, and_, func, insert, or_, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from triage.audit.models import AuditEvent
from triage.audit.repository import append_many
from triage.db import table_of
from triage.imports.models import ImportJob, ImportReject
from triage.referrals.models import Referral
from triage.referrals.repository import insert_unless_exists
from triage.vcop.models import EntitlementCheck
from triage.vcop.repository import add_checks

STAGING = "import_referrals"


def insert_referrals(session: Session, rows: list[dict[str, Any]]) -> set[UUID]:
    """Insert the referrals whose unique keys are free; answers the ids inserted."""
    if not rows:
        return set()
    if not _postgres(session):
        return {row["id"] for row in rows if insert_unless_exists(session, row)}
    columns = list(rows[0])
    session.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} (LIKE referrals INCLUDING DEFAULTS) "
            "ON COMMIT DELETE ROWS"
        )
    )
    _copy(session, table_of(Referral), columns, ([row[c] for c in columns] for row in rows),
          into=STAGING)  # fmt: skip
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    statement = sql.SQL(
        "INSERT INTO referrals ({names}) SELECT {names} FROM {staging} "
        "ON CONFLICT DO NOTHING RETURNING id"
    ).format(names=names, staging=sql.Identifier(STAGING))
    with _driver(session).cursor() as cursor:
        cursor.execute(statement)
        inserted = {row[0] for row in cursor.fetchall()}
        cursor.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(STAGING)))
    return inserted


def insert_one(
    session: Session, values: dict[str, Any], *, draw: Callable[[datetime], str]
) -> bool:
    """Insert one referral, drawing a new reference up to 5 times while its own is taken."""
    for _ in range(5):
        values["reference"] = draw(values["received_at"])
        if insert_unless_exists(session, values):
            return True
    return False


def refs_stored(session: Session, source: str, refs: Collection[str]) -> set[str]:
    """Which of these crime references are stored."""
    found = session.scalars(
        select(Referral.external_ref).where(
            Referral.source == source, Referral.external_ref.in_(list(refs))
        )
    )
    return {ref for ref in found if ref is not None}


def stored_refs(session: Session, source: str, refs: Collection[str]) -> dict[str, Referral]:
    """The stored referrals of these crime references, by reference."""
    if not refs:
        return {}
    found = session.scalars(
        select(Referral).where(Referral.source == source, Referral.external_ref.in_(list(refs)))
    )
    return {r.external_ref: r for r in found if r.external_ref is not None}


def append_lines(
    session: Session, *, audit_lines: list[dict[str, Any]], check_rows: list[dict[str, Any]]
) -> None:
    """The new referrals' creation audit lines and first check-log rows."""
    if not _postgres(session):
        if audit_lines:
            append_many(session, audit_lines)
        if check_rows:
            add_checks(session, check_rows, supersede=None)
        return
    for table, rows in ((table_of(AuditEvent), audit_lines),
                        (table_of(EntitlementCheck), check_rows)):  # fmt: skip
        if rows:
            columns = list(rows[0])
            _copy(session, table, columns, ([row[c] for c in columns] for row in rows))


def copy_url(factory: sessionmaker[Session]) -> str | None:
    """The database's URL when it takes COPY (PostgreSQL: batches can be encoded by worker
    processes), else None."""
    bind = factory.kw.get("bind")
    if bind is None or bind.dialect.name != "postgresql":
        return None
    return str(bind.url.render_as_string(hide_password=False))


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _driver(session: Session) -> Any:
    """The psycopg connection under the session's (its transaction already begun)."""
    return session.connection().connection.driver_connection


_OIDS: dict[str, dict[str, int]] = {}


def _types(connection: Any, table: Table, columns: Sequence[str]) -> list[int]:
    """The PostgreSQL type of each column, for binary COPY (read once per process)."""
    if table.name not in _OIDS:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (table.name,),
            )
            _OIDS[table.name] = dict(cursor.fetchall())
    return [_OIDS[table.name][column] for column in columns]


def _copy_statement(table: Table, columns: Sequence[str], into: str | None = None) -> Any:
    return sql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)").format(
        table=sql.Identifier(into or table.name),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
    )


def _copy(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    into: str | None = None,
) -> None:
    """Binary COPY of `rows` (values in `columns` order) into `into`, else `table`."""
    connection = _driver(session)
    types = _types(connection, table, columns)
    with connection.cursor() as cursor, cursor.copy(_copy_statement(table, columns, into)) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


# A batch's binary COPY data, made in a worker process and sent by the importing one.
CopyData = list[tuple[str, list[str], bytes]]  # (table, columns, binary COPY data)
_TABLES = {t.name: t for t in map(table_of, (Referral, AuditEvent, EntitlementCheck))}


class Encoder:
    """Makes a batch's binary COPY data without sending it (a worker process's half of the
    import, on PostgreSQL): its connection only lends psycopg the column types and their
    adapters; no statement changes anything through it."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._connection = psycopg.connect(url.render_as_string(hide_password=False))
        set_json_dumps(_json_remembered, context=self._connection)

    def encode(
        self,
        referrals: list[dict[str, Any]],
        audit_lines: list[dict[str, Any]],
        check_rows: list[dict[str, Any]],
    ) -> CopyData:
        encoded: CopyData = []
        for table, rows in ((table_of(Referral), referrals), (table_of(AuditEvent), audit_lines),
                            (table_of(EntitlementCheck), check_rows)):  # fmt: skip
            if not rows:
                continue
            columns = list(rows[0])
            out = io.BytesIO()
            with (
                self._connection.cursor() as cursor,
                psycopg.Copy(cursor, binary=True, writer=FileWriter(out)) as copy,
            ):
                copy.set_types(_types(self._connection, table, columns))
                for row in rows:
                    copy.write_row([row[c] for c in columns])
            encoded.append((table.name, columns, out.getvalue()))
        self._connection.rollback()  # the type lookup's transaction
        return encoded

    def close(self) -> None:
        self._connection.close()


_JSON_REMEMBERED: dict[Any, bytes] = {}
_JSON_REMEMBERS = 4096


def _json_remembered(value: Any) -> bytes:
    """`json.dumps`, each list of codes (hate strands, channels, enhanced reasons) and each
    flat object of text and numbers (a check's evidence) written once a process: they repeat
    on almost every row, and the JSON was a tenth of a worker's time. Anything else is
    written each time. Keys are exact in type (True is not 1, 1 is not "1")."""
    key = _flat(value)
    if key is None:
        return json.dumps(value).encode()
    remembered = _JSON_REMEMBERED.get(key)
    if remembered is None:
        remembered = json.dumps(value).encode()
        if len(_JSON_REMEMBERED) < _JSON_REMEMBERS:
            _JSON_REMEMBERED[key] = remembered
    return remembered


def _flat(value: Any) -> tuple[Any, ...] | None:
    if type(value) is list and all(type(item) is str for item in value):
        return (list, *value)
    if type(value) is dict and all(
        type(k) is str and type(v) in (str, int) for k, v in value.items()
    ):
        return (dict, *value.items())
    return None


def copy_encoded(session: Session, encoded: CopyData) -> bool:
    """Send COPY data made by an Encoder, all of it or (a unique key taken: a crime reference
    stored already, a reference drawn twice) none of it: False."""
    connection = _driver(session)
    try:
        with connection.transaction():  # a savepoint
            for name, columns, data in encoded:
                statement = _copy_statement(_TABLES[name], columns)
                with connection.cursor() as cursor, cursor.copy(statement) as copy:
                    copy.write(data)
    except UniqueViolation:
        return False
    return True


# Jobs ---------------------------------------------------------------------------------------


def add_job(session: Session, job: ImportJob) -> None:
    session.add(job)
    session.flush()


def job(session: Session, job_id: UUID) -> ImportJob | None:
    return session.get(ImportJob, job_id)


def claim(session: Session, job_id: UUID, *, now: datetime, stale_before: datetime) -> bool:
    """Take a job to run: queued, or running without a heartbeat since `stale_before` (its
    process gone). One statement, so two processes never both take it."""
    taken = session.execute(
        update(ImportJob)
        .where(
            ImportJob.id == job_id,
            or_(
                ImportJob.status == "queued",
                and_(ImportJob.status == "running", ImportJob.heartbeat_at < stale_before),
            ),
        )
        .values(
            status="running", heartbeat_at=now, started_at=func.coalesce(ImportJob.started_at, now)
        )  # fmt: skip
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def waiting(session: Session, *, stale_before: datetime) -> list[ImportJob]:
    """Jobs no process is running: queued, or running with a stale heartbeat."""
    return list(
        session.scalars(
            select(ImportJob).where(
                or_(
                    ImportJob.status == "queued",
                    and_(ImportJob.status == "running", ImportJob.heartbeat_at < stale_before),
                )
            )
        )
    )


def progress(session: Session, job_id: UUID, *, last_row: int, counts: dict[str, int],
             rejects: list[dict[str, Any]], now: datetime) -> None:  # fmt: skip
    """A batch's progress, in the batch's transaction."""
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(
            rows_done=last_row,
            heartbeat_at=now,
            **{name: getattr(ImportJob, name) + count for name, count in counts.items()},
        )
    )
    if rejects:
        session.execute(insert(ImportReject), [{"job_id": job_id, **r} for r in rejects])


def finish(session: Session, job_id: UUID, *, status: str, now: datetime,
           error: str | None = None) -> None:  # fmt: skip
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(
            status=status,
            finished_at=None if status == "queued" else now,
            heartbeat_at=now,
            error=error,
        )  # fmt: skip
    )


def rejects_of(session: Session, job_id: UUID, *, limit: int | None = None) -> list[ImportReject]:
    statement = select(ImportReject).where(ImportReject.job_id == job_id).order_by(ImportReject.id)
    return list(session.scalars(statement.limit(limit) if limit else statement))
