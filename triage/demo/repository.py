"""Every query of the demo fill: who and what the demo's rows name, and writing the rows:
COPY in PostgreSQL's binary format, batched inserts on SQLite (each chunk one transaction,
referrals first so every other row finds its referral)."""

import json
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.orm import Session

from triage.auth.models import User
from triage.demo.rows import COLUMNS, JSON_COLUMNS, Rows
from triage.providers.models import Provider
from triage.referrals.models import Referral

TEXT_OID = 25


def demo_referral_count(session: Session) -> int:
    """Referrals the demo made before (external reference `DEMO-<n>`)."""
    count = session.scalar(
        select(func.count()).select_from(Referral).where(Referral.external_ref.like("DEMO-%"))
    )
    return count or 0


def referral_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Referral)) or 0


def provider_ids(session: Session) -> dict[str, int]:
    return {code: i for code, i in session.execute(select(Provider.code, Provider.id))}


def users(session: Session) -> list[tuple[int, str, str, int | None]]:
    """(id, username, role, provider id) of every user, oldest first."""
    rows = session.execute(
        select(User.id, User.username, User.role, User.provider_id).order_by(User.id)
    )
    return [(user_id, name, role, provider_id) for user_id, name, role, provider_id in rows]


def copy_rows(connection: Any, tables: Rows) -> int:
    """COPY every table's rows on a psycopg connection (in its current transaction), in
    PostgreSQL's binary format: measured against text, a third less of the server's time
    and of ours (no timestamps or UUIDs written out and parsed back)."""
    written = 0
    types = binary_types(connection)
    texts: dict[int, str] = {}  # see _with_json
    with connection.cursor() as cursor:
        for name, columns in COLUMNS.items():
            rows = tables[name]
            if not rows:
                continue
            json_at = [columns.index(c) for c in JSON_COLUMNS.get(name, ())]
            quoted = ", ".join(f'"{c}"' for c in columns)
            with cursor.copy(f"COPY {name} ({quoted}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([types[name][c] for c in columns])
                write_row = copy.write_row
                if not json_at:
                    for row in rows:
                        write_row(row)
                else:
                    for row in rows:
                        write_row(_with_json(row, json_at, texts))
            written += len(rows)
    return written


def binary_types(connection: Any) -> dict[str, dict[str, int]]:
    """Each loaded column's type as binary COPY writes it: the column's own type, except
    `json`, whose binary form is its text (so JSON is sent as made by `_to_json`)."""
    found: dict[str, dict[str, int]] = defaultdict(dict)
    rows = connection.execute(
        "SELECT c.relname, a.attname, a.atttypid, t.typname FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE c.relname = ANY(%s) AND c.relnamespace = current_schema()::regnamespace "
        "AND a.attnum > 0 AND NOT a.attisdropped",
        (list(COLUMNS),),
    )
    for table, column, oid, type_name in rows:
        found[table][column] = TEXT_OID if type_name == "json" else oid
    return found


def _with_json(row: tuple[Any, ...], json_at: list[int], texts: dict[int, str]) -> list[Any]:
    """The row with its JSON values as text (as json.dumps makes it). Rows share many
    values (the same evidence, the same decision's candidates), so each value's text is made
    once and kept by its id() in `texts`, which lives no longer than the rows holding them."""
    values = list(row)
    for i in json_at:
        value = values[i]
        if value is not None:
            text = texts.get(id(value))
            if text is None:
                text = texts[id(value)] = _to_json(value)
            values[i] = text
    return values


def insert_rows(connection: Connection, metadata_tables: dict[str, Table], tables: Rows) -> int:
    """The same rows through SQLAlchemy Core, in batches (SQLite and other databases)."""
    written = 0
    for name, columns in COLUMNS.items():
        rows = tables[name]
        for start in range(0, len(rows), 1000):
            batch = [dict(zip(columns, row, strict=True)) for row in rows[start : start + 1000]]
            connection.execute(metadata_tables[name].insert(), batch)
        written += len(rows)
    return written


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


# json.dumps(value, default=_plain) with its encoder made once, not once a call
_to_json = json.JSONEncoder(default=_plain).encode
