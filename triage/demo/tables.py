"""Simulated histories as table rows, and writing them: COPY on PostgreSQL, batched
executemany on SQLite. Each chunk of referrals is one transaction, referrals first so every
other row finds its referral."""

import gc
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table

from triage.demo.rows import simulate
from triage.demo.world import World
from triage.reports import facts as case_facts
from triage.reports import fold
from triage.reports.repository import Delta

COLUMNS: dict[str, tuple[str, ...]] = {
    "referrals": (
        "id", "reference", "source", "external_ref", "idempotency_key", "request_hash",
        "created_by", "area", "crime_type", "hate_strands", "crime_reported_at", "received_at",
        "victim_full_name", "victim_name_key", "victim_date_of_birth", "victim_phone",
        "victim_phone_key", "victim_email", "victim_address", "victim_postcode",
        "safe_channels", "safe_times", "language", "notes", "state", "version",
        "holder_provider_id", "vcop_edition", "enhanced", "enhanced_reasons", "closure_reason",
        "outcomes", "closed_at", "updated_at", "reported_version",
    ),
    "audit_events": (
        "referral_id", "at", "actor_id", "actor_name", "actor_role", "action", "from_state",
        "to_state", "version", "detail",
    ),
    "contact_attempts": (
        "referral_id", "at", "channel", "outcome", "made_contact", "recorded_by",
    ),
    "assessments": (
        "referral_id", "needs", "dash_score", "professional_judgement", "risk_level",
        "mental_disorder", "impaired_intelligence", "physical_disability", "intimidated",
        "persistently_targeted", "bereaved", "restorative_justice_interest", "care_leaver",
        "consent_to_share", "consent_method", "consent_recorded_by", "consent_recorded_at",
        "assessed_by", "assessed_at",
    ),
    "offers": (
        "referral_id", "provider_id", "offered_at", "offered_by", "respond_by", "answer",
        "answered_at", "answered_by", "reason", "note", "rule_set_hash", "handed_back_at",
        "hand_back_reason", "hand_back_note",
    ),
    "routing_decisions": (
        "referral_id", "decided_at", "decided_by", "trigger", "rule_set_version",
        "rule_set_hash", "matched_rules", "candidates", "skipped", "chosen_provider",
        "by_hand", "rules_would_choose", "no_route_reason",
    ),
    "entitlement_checks": (
        "referral_id", "right", "edition", "status", "due_at", "met_at", "reason", "trigger",
        "evidence", "checked_by", "checked_at", "current",
    ),
    "report_cases": ("referral_id", "version", "facts", "folded_at"),
}  # fmt: skip
JSON_COLUMNS = {
    "referrals": ("hate_strands", "safe_channels", "enhanced_reasons", "outcomes"),
    "audit_events": ("detail",),
    "assessments": ("needs",),
    "routing_decisions": ("matched_rules", "candidates", "skipped"),
    "entitlement_checks": ("evidence",),
    "report_cases": ("facts",),
}
Rows = dict[str, list[tuple[Any, ...]]]


def generate(
    world: World, numbers: Iterable[int], seed: int, summed: Counter[case_facts.Key]
) -> Rows:
    """Rows for referrals `numbers` (one random stream per chunk, from `seed`); their
    contributions to the rollups are added to `summed` (see `to_delta`)."""
    rng = random.Random(seed)
    tables: Rows = {name: [] for name in COLUMNS}
    timezone = world.settings.timezone
    counted: list[case_facts.Key] = []
    with _collector_paused():
        for number in numbers:
            case, _ = simulate(world, rng, number)
            rid = case.referral[0]
            tables["referrals"].append(case.referral)
            tables["audit_events"] += [
                (rid, e["at"], e["actor"].id, e["actor"].name, e["actor"].role, e["action"],
                 e["from_state"], e["to_state"], e["version"], e["detail"])
                for e in case.events
            ]  # fmt: skip
            tables["contact_attempts"] += case.attempts
            if case.assessment is not None:
                tables["assessments"].append(case.assessment)
            tables["offers"] += [tuple(o[:14]) for o in case.offers]
            tables["routing_decisions"] += case.decisions
            tables["entitlement_checks"] += case.checks
            facts = case_facts.fold(case.events, specialisms=world.specialisms)
            assert facts is not None
            facts = case_facts.rights(facts, check_lines(case.checks), timezone)
            counted += case_facts.contribution_keys(facts, timezone)
            tables["report_cases"].append(
                (rid, case.referral[25], case_facts.to_json(facts), world.now)
            )
    summed.update(counted)  # each contribution summed, in one counting pass in C
    return tables


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector: a chunk makes millions of acyclic objects, and each
    collection it would trigger walks the whole growing heap (a quarter of the time). The
    objects made meanwhile then join the oldest generation unscanned (freeze and unfreeze
    move whole lists), unless the process keeps objects frozen itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


def to_delta(summed: Counter[case_facts.Key]) -> Delta:
    """What `fold.add` of every summed contribution makes: each count by every period."""
    delta: Delta = defaultdict(int)
    fold.add_counts(delta, summed)
    return delta


def check_lines(checks: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Check rows as the fold reads them (`right`, `edition`, `status`, `due_at`, ...)."""
    names = ("right", "edition", "status", "due_at", "met_at", "reason")
    return [dict(zip(names, row[1:7], strict=True)) for row in checks]


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


TEXT_OID = 25


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
