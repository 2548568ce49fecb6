"""Walking a referral to a given state through the API, and reading its audit rows."""

import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.orm import Session, sessionmaker

import triage.models  # noqa: F401  (every table in Base.metadata)
from tests.support import Api
from triage.audit.models import AuditEvent
from triage.db import Base

Referral = dict[str, Any]


def ok(answer: Any, status: int = 200) -> Referral:
    """The JSON of an answer that must have `status`."""
    assert answer.status_code == status, answer.text
    body: Referral = answer.json()
    return body


def contacting(triage: Api, **create: Any) -> Referral:
    ref = triage.create(**create)
    return ok(
        triage.event(
            ref["id"], "log_contact_attempt", ref["version"], channel="phone", outcome="no_answer"
        )
    )


def assessing(
    triage: Api,
    *,
    assess: bool = True,
    assessment: dict[str, Any] | None = None,
    **create: Any,
) -> Referral:
    """Created, contact made and, unless told not to, an assessment recorded.

    `assessment` overrides fields of the default (complete, consenting) assessment body.
    """
    ref = triage.create(**create)
    ref = ok(triage.event(ref["id"], "contact_made", ref["version"], channel="phone"))
    if assess:
        ref = ok(triage.assess(ref["id"], ref["version"], **(assessment or {})))
    return ref


def offered(
    triage: Api,
    provider: str = "core-general",
    *,
    assessment: dict[str, Any] | None = None,
    **create: Any,
) -> Referral:
    """Routed to `provider`, which has not answered yet."""
    ref = assessing(triage, assessment=assessment, **create)
    return ok(triage.event(ref["id"], "route", ref["version"], provider=provider))


def held(triage: Api, worker: Api, provider: str = "core-general", **create: Any) -> Referral:
    """Accepted by `provider` (whose worker is `worker`): in support."""
    ref = offered(triage, provider, **create)
    return ok(worker.event(ref["id"], "accept", ref["version"]))


def audit_rows(session_factory: sessionmaker[Session], referral_id: str) -> list[AuditEvent]:
    """The referral's audit rows straight from the database (reading them audits nothing)."""
    with session_factory() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.referral_id == UUID(referral_id))
                .order_by(AuditEvent.id)
            )
        )


def actions(session_factory: sessionmaker[Session], referral_id: str) -> list[str]:
    return [row.action for row in audit_rows(session_factory, referral_id)]


def conflict(answer: Any) -> dict[str, Any]:
    """The detail of a 409, checked for the shape DESIGN 4 fixes."""
    assert answer.status_code == 409, answer.text
    detail: dict[str, Any] = answer.json()["detail"]
    assert set(detail) == {"message", "state", "version", "allowed_events", "failed"}, detail
    assert detail["message"]
    return detail


def error_locs(answer: Any) -> list[list[Any]]:
    """The `loc` of every error of a 422."""
    assert answer.status_code == 422, answer.text
    return [error["loc"] for error in answer.json()["detail"]]


def names_field(answer: Any, field: str) -> bool:
    return any(field in loc for loc in error_locs(answer))


def found_anywhere(factory: sessionmaker[Session], values: Iterable[str]) -> list[str]:
    """Where any of `values` (case-blind) is still held: every text and JSON column of every
    table, the audit log's included, as "table.column: value"."""
    wanted = [v.lower() for v in values if v]
    found = []
    with factory() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)
                       or "json" in type(c.type).__name__.lower()]  # fmt: skip
            for column in columns:
                for (held,) in session.execute(select(column).where(column.is_not(None))):
                    text = held if isinstance(held, str) else json.dumps(held, default=str)
                    found.extend(f"{table.name}.{column.name}: {v}" for v in wanted
                                 if v in text.lower())  # fmt: skip
    return found
