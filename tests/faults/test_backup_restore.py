"""Backup and restore (docs/operations.md): `pg_dump -Fc` of a filled database, `pg_restore`
into an empty one, and the copy is the same database.

The same tables with the same rows (counted, and a sum of each row's md5, computed by
PostgreSQL: the check docs/operations.md gives an operator), the same sequence positions,
indexes and constraints; the `alembic_version` row comes along, so `triage db upgrade` on the
copy changes nothing; the same conversion report; and the service runs on the copy: ready, a
referral read, a new one logged (its ids drawn from the restored sequences).
"""

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

from tests.faults.served import (
    PASSWORD,
    create_postgres,
    drop_postgres,
    libpq_url,
    triage_commands,
)
from tests.support import referral_body
from triage.app import create_app
from triage.config import Settings

REFERRALS = 300

TABLES = """
SELECT table_name FROM information_schema.tables
WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name
"""
SEQUENCES = "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
CONSTRAINTS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE connamespace = 'public'::regnamespace
"""


@dataclass
class Snapshot:
    """What a database holds: per table its rows' count and fingerprint; its sequences'
    positions, its indexes and its constraints."""

    tables: dict[str, tuple[int, int]]
    sequences: set[tuple[Any, ...]]
    indexes: set[tuple[Any, ...]]
    constraints: set[tuple[Any, ...]]


def fingerprint(connection: psycopg.Connection[Any], table: str) -> tuple[int, int]:
    """A table's rows counted, and the sum of each row's md5 (its first 64 bits): what
    docs/operations.md has an operator compare. Any order, any size (an md5 over one string
    of all the rows would pass PostgreSQL's 1 GB limit on a real database)."""
    query = sql.SQL(
        "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint), 0) "
        "FROM {} AS t"
    ).format(sql.Identifier(table))
    count, digest = connection.execute(query).fetchone() or (0, 0)
    return int(count), int(digest)


def snapshot(url: str) -> Snapshot:
    with psycopg.connect(libpq_url(url)) as connection:
        tables = [row[0] for row in connection.execute(TABLES)]
        return Snapshot(
            tables={table: fingerprint(connection, table) for table in tables},
            sequences=set(connection.execute(SEQUENCES).fetchall()),
            indexes=set(connection.execute(INDEXES).fetchall()),
            constraints=set(connection.execute(CONSTRAINTS).fetchall()),
        )


def run(*command: str) -> float:
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"
    return time.monotonic() - started


def conversion(printed: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(printed)
    report.pop("as_of")  # when it was asked
    return report


def test_a_dump_restored_into_an_empty_database_is_the_same_database(tmp_path: Path) -> None:
    began = time.monotonic()
    source, copy = create_postgres(), create_postgres()
    try:
        *_, report_before = triage_commands(
            source,
            ["db", "upgrade"],
            ["demo", "--referrals", str(REFERRALS), "--days", "120"],
            ["report", "conversion"],
        )
        filled = time.monotonic()
        dump = tmp_path / "triage.dump"
        dump_s = run("pg_dump", "--format=custom", f"--file={dump}", libpq_url(source))
        restore_s = run(
            "pg_restore", "--exit-on-error", "--no-owner", f"--dbname={libpq_url(copy)}", str(dump)
        )
        original, restored = snapshot(source), snapshot(copy)

        assert restored == original
        rows = {table: count for table, (count, _) in original.tables.items()}
        assert rows["referrals"] >= REFERRALS and rows["alembic_version"] == 1, rows
        assert sum(1 for count in rows.values() if count) >= 10, rows  # a full history
        # The comparison can tell: one field changed in the copy, and its table differs.
        with psycopg.connect(libpq_url(copy)) as connection:
            connection.execute(
                "UPDATE referrals SET notes = coalesce(notes, '') || '.' "
                "WHERE id = (SELECT id FROM referrals ORDER BY id LIMIT 1)"
            )
            assert fingerprint(connection, "referrals") != original.tables["referrals"]
            connection.rollback()

        upgraded, report_after = triage_commands(copy, ["db", "upgrade"], ["report", "conversion"])
        assert upgraded.strip() == "database at head"
        # The upgrade found nothing to do: the same schema, version and rows, but for the
        # mark of the report's fold pass (a report folds what is pending first, and notes
        # when: `report_folds`).
        after = snapshot(copy)
        assert (after.sequences, after.indexes, after.constraints) == (
            original.sequences,
            original.indexes,
            original.constraints,
        )
        folds = "report_folds"
        assert after.tables.pop(folds)[0] == original.tables[folds][0]
        assert after.tables == {t: v for t, v in original.tables.items() if t != folds}
        assert conversion(report_after) == conversion(report_before)
        assert conversion(report_after)["stages"][0]["count"] > 0

        app = create_app(Settings(database_url=copy, scheduler=False))
        try:
            with TestClient(app) as client:
                assert client.get("/readyz").json() == {"status": "ok"}
                answer = client.post(
                    "/api/auth/token", data={"username": "demo-triage", "password": PASSWORD}
                )
                assert answer.status_code == 200, answer.text
                client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
                listed = client.get("/api/referrals", params={"limit": 5})
                assert listed.status_code == 200 and listed.json()["items"], listed.text
                first = listed.json()["items"][0]
                read = client.get(f"/api/referrals/{first['id']}")
                assert read.status_code == 200 and read.json()["reference"] == first["reference"]
                logged = client.post("/api/referrals", json=referral_body())
                assert logged.status_code == 201, logged.text
        finally:
            app.state.engine.dispose()
    finally:
        drop_postgres(source)
        drop_postgres(copy)
    figures = {
        "tables": len(original.tables),
        "rows": sum(rows.values()),
        "referrals": rows["referrals"],
        "sequences": len(original.sequences),
        "indexes": len(original.indexes),
        "constraints": len(original.constraints),
        "dump_bytes": dump.stat().st_size,
        "dump_s": round(dump_s, 2),
        "restore_s": round(restore_s, 2),
        "fill_s": round(filled - began, 1),
        "test_s": round(time.monotonic() - began, 1),
    }
    print(f"\nbackup and restore: {figures}")
