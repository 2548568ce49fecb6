"""Simulated histories as table rows, and writing them: COPY on PostgreSQL, batched
executemany on SQLite. Each chunk of referrals is one transaction, referrals first so every
other row finds its referral."""

import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table

from triage.history.rows import simulate
from triage.history.world import World
from triage.reports import facts as case_facts
from triage.reports import fold

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
    contributions = []
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
        contributions.append(case_facts.contribution(facts, timezone))
        tables["report_cases"].append(
            (rid, case.referral[25], case_facts.to_json(facts), world.now)
        )
    for contribution in contributions:
        summed.update(contribution)
    return tables


def to_delta(summed: Counter[case_facts.Key]) -> fold.Delta:
    """What `fold.add` of every summed contribution makes: each count by every period."""
    delta: fold.Delta = defaultdict(int)
    fold.add_counts(delta, summed)
    return delta


def check_lines(checks: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Check rows as the fold reads them (`right`, `edition`, `status`, `due_at`, ...)."""
    names = ("right", "edition", "status", "due_at", "met_at", "reason")
    return [dict(zip(names, row[1:7], strict=True)) for row in checks]


def copy_rows(connection: Any, tables: Rows) -> int:
    """COPY every table's rows on a psycopg connection (in its current transaction)."""
    written = 0
    with connection.cursor() as cursor:
        for name, columns in COLUMNS.items():
            rows = tables[name]
            if not rows:
                continue
            json_at = [columns.index(c) for c in JSON_COLUMNS.get(name, ())]
            quoted = ", ".join(f'"{c}"' for c in columns)
            sql = f"COPY {name} ({quoted}) FROM STDIN"
            with cursor.copy(sql) as copy:
                for row in rows:
                    if json_at:
                        row = list(row)
                        for i in json_at:
                            if row[i] is not None:
                                row[i] = json.dumps(row[i], default=_plain)
                    copy.write_row(row)
            written += len(rows)
    return written


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


def copy_rollups(connection: Any, delta: fold.Delta) -> int:
    """Add a delta to `report_counts` as the fold does (COPY, then one upsert in key order)."""
    rows = [(*key, count) for key, count in sorted(delta.items()) if count]
    return fold.copy_delta(connection, rows) if rows else 0


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")
