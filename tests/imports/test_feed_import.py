"""The police feed import (DESIGN 10, issue 15): every row validated as POST /api/referrals
validates, the same Victims' Code evaluation and audit, rejects by row and field, exact
counts, idempotent by crime reference."""

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.police_feed.reader import FeedFile
from tests.support import FakeClock
from triage.audit.models import AuditEvent
from triage.auth import service as auth_service
from triage.auth.passwords import NO_PASSWORD, verify_password
from triage.config import Settings
from triage.db import transaction
from triage.demo.feed import BAD_KINDS, Plan, write_feed
from triage.imports.feed import FeedUnreadable
from triage.imports.service import Context, Reject, Summary, import_feed
from triage.referrals.models import Referral
from triage.rule_sources import RuleSources
from triage.vcop.models import EntitlementCheck

TODAY = date(2026, 11, 24)  # the FakeClock's day


def importer(
    session_factory: sessionmaker[Session], rules: RuleSources, settings: Settings,
    clock: FakeClock,
) -> Context:  # fmt: skip
    with transaction(session_factory) as session:
        caller = auth_service.feed_caller(session, username=auth_service.FEED_USER, now=clock())
    return Context(caller, rules, settings, clock)


def run(
    session_factory: sessionmaker[Session], context: Context, path: Path, workers: int = 0,
    **reader: Any,
) -> tuple[Summary, list[Reject]]:  # fmt: skip
    rejects: list[Reject] = []
    summary = import_feed(session_factory, FeedFile(path, **reader), context,
                          done=lambda session, batch: rejects.extend(batch.rejects),
                          batch_size=500, workers=workers)  # fmt: skip
    return summary, rejects


def counts(session_factory: sessionmaker[Session]) -> tuple[int, int, int]:
    with session_factory() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Referral, AuditEvent, EntitlementCheck)
        )


def assert_as_planned(summary: Summary, rejects: list[Reject], plan: Plan) -> None:
    assert (summary.read, summary.created, summary.already_present, summary.rejected) == (
        plan.rows, plan.created, plan.already_present, plan.rejected)  # fmt: skip
    by_row: dict[int, set[str]] = {}
    for reject in rejects:
        by_row.setdefault(reject.row, set()).add(reject.field)
        assert reject.reason  # says what is wrong
    assert {row: plan.rejects[row] in fields for row, fields in by_row.items()} == {
        row: True for row in plan.rejects
    }


@pytest.mark.parametrize(
    ("json_lines", "workers"),
    [(False, 0), (True, 0), (False, 1), (False, 2)],
    # workers: PostgreSQL only, SQLite ignores them; with one, the importer works out a
    # batch itself whenever the worker has two
    ids=["csv", "jsonl", "csv-in-a-worker", "csv-in-workers"],
)
def test_counts_rejects_and_a_second_import_that_creates_nothing(
    session_factory: sessionmaker[Session], rules: RuleSources, settings: Settings,
    clock: FakeClock, tmp_path: Path, json_lines: bool, workers: int,
) -> None:  # fmt: skip
    feed = tmp_path / ("feed.jsonl" if json_lines else "feed.csv")
    plan = write_feed(feed, 1500, bad_share=0.05, repeat_share=0.05, today=TODAY,
                      json_lines=json_lines)  # fmt: skip
    kinds = [k for k in BAD_KINDS if not (json_lines and k.csv_only)]
    assert plan.rejected >= len(kinds)  # every kind of bad value at least once
    context = importer(session_factory, rules, settings, clock)

    summary, rejects = run(session_factory, context, feed, workers)
    assert_as_planned(summary, rejects, plan)
    referrals, audits, _ = counts(session_factory)
    assert referrals == plan.created and audits == plan.created  # one creation line each

    again, _ = run(session_factory, context, feed, workers)  # every batch's COPY refused
    assert (again.created, again.already_present, again.rejected) == (
        0, plan.created + plan.already_present, plan.rejected)  # fmt: skip
    assert counts(session_factory)[0] == plan.created


def test_a_row_is_stored_as_intake_stores_the_same_body(
    session_factory: sessionmaker[Session], rules: RuleSources, settings: Settings,
    clock: FakeClock, tmp_path: Path, client: TestClient, sign_in: Any,
) -> None:  # fmt: skip
    """The same row posted to /api/referrals and imported: the same values, evaluation and
    check lines (but for ids, reference, source and who)."""
    feed = tmp_path / "one.csv"
    write_feed(feed, 1, today=TODAY, seed=7)
    context = importer(session_factory, rules, settings, clock)
    assert run(session_factory, context, feed)[0].created == 1
    [row] = list(csv.DictReader(feed.open(encoding="utf-8")))
    from triage.imports.feed import body_of

    body = body_of(row)
    body["source"] = "partner_agency"  # another source: the same crime reference is free
    posted = sign_in("triage").post("/api/referrals", body)
    assert posted.status_code == 201, posted.text
    with session_factory() as session:
        imported, api = (
            session.scalars(select(Referral).where(Referral.source == source)).one()
            for source in ("police", "partner_agency")
        )
        skip = {"id", "reference", "source", "created_by", "request_hash", "received_at",
                "updated_at", "urgent_at"}  # fmt: skip
        columns = [c.key for c in Referral.__table__.columns if c.key not in skip]
        assert {c: getattr(imported, c) for c in columns} == {c: getattr(api, c) for c in columns}

        def lines(referral: Referral) -> list[tuple[Any, ...]]:
            checks = session.scalars(
                select(EntitlementCheck)
                .where(EntitlementCheck.referral_id == referral.id)
                .order_by(EntitlementCheck.right)
            )
            return [(c.right, c.status, c.due_at, c.trigger, c.current) for c in checks]

        assert lines(imported) == lines(api) and lines(imported)


def test_a_forces_own_columns_through_a_mapping(
    session_factory: sessionmaker[Session], rules: RuleSources, settings: Settings,
    clock: FakeClock, tmp_path: Path,
) -> None:  # fmt: skip
    feed = tmp_path / "force.csv"
    feed.write_text(
        "CrimeNo,Offence,Division,Victim,Contact,Ignored\r\n"
        "DB/1/26,Burglary Dwelling,City,Ann Example,Mobile;Letter,x\r\n"
        "DB/2/26,Shoplifting,County,Bob Example,,y\r\n"
        "DB/3/26,Unheard Of,City,Cy Example,,z\r\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[columns]\nexternal_ref = "CrimeNo"\ncrime_type = "Offence"\narea = "Division"\n'
        'full_name = "Victim"\nsafe_channels = "Contact"\n'
        '[values.crime_type]\n"Burglary Dwelling" = "burglary"\n"Shoplifting" = "theft"\n'
        '[values.area]\nCity = "derby_city"\nCounty = "derbyshire_county"\n'
        '[values.safe_channels]\nMobile = "phone"\nLetter = "letter"\n',
        encoding="utf-8",
    )
    context = importer(session_factory, rules, settings, clock)
    summary, rejects = run(session_factory, context, feed, mapping=mapping)
    assert (summary.created, summary.rejected) == (2, 1)
    assert [(r.row, r.external_ref, r.field) for r in rejects] == [(3, "DB/3/26", "crime_type")]
    with session_factory() as session:
        stored = session.scalars(select(Referral).order_by(Referral.external_ref)).all()
    assert [(r.external_ref, r.crime_type, r.area, r.safe_channels) for r in stored] == [
        ("DB/1/26", "burglary", "derby_city", ["phone", "letter"]),
        ("DB/2/26", "theft", "derbyshire_county", []),
    ]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("external_ref,crime_type,victim_name", "victim_name not v1 columns"),
        ("crime_type,area,full_name", "no external_ref column"),
        ("", "empty, not even a header row"),
    ],
)
def test_a_file_that_cannot_be_a_feed_stops_before_any_row(
    tmp_path: Path, header: str, problem: str
) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(header + ("\r\nX1,theft,someone\r\n" if header else ""), encoding="utf-8")
    with pytest.raises(FeedUnreadable, match=problem):
        list(FeedFile(feed).rows())


def test_rows_that_cannot_be_read_are_rejected_by_number(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b'{"external_ref": "A1", "crime_type": "theft"}\n\n[1, 2]\n{"bad json\n'
                     b'{"external_ref": "A5", "victim": "x"}\n')  # fmt: skip
    rows = list(FeedFile(feed).rows())
    assert [(r.number, r.problem) for r in rows] == [
        (1, None),
        (2, ("row", "not a JSON object")),
        (3, ("row", "not valid JSON (Unterminated string starting at, column 2)")),
        (4, ("victim", "not a v1 column")),
    ]


def test_a_repeat_that_says_something_else_is_rejected_naming_its_columns(
    session_factory: sessionmaker[Session], rules: RuleSources, settings: Settings,
    clock: FakeClock, tmp_path: Path,
) -> None:  # fmt: skip
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "external_ref,crime_type,area,full_name\r\n"
        "R/1,theft,derby_city,Ann Example\r\n"
        "R/2,theft,derby_city,Bob Example\r\n"
        "R/1,theft,derby_city,Ann Example\r\n"  # the same again: already present
        "R/2,burglary,derbyshire_county,Bob Example\r\n",  # in the same batch, said otherwise
        encoding="utf-8",
    )
    context = importer(session_factory, rules, settings, clock)
    summary, rejects = run(session_factory, context, feed)
    assert (summary.created, summary.already_present, summary.rejected) == (2, 1, 1)
    assert [(r.row, r.external_ref, r.field) for r in rejects] == [
        (4, "R/2", "crime_type"), (4, "R/2", "area")]  # fmt: skip
    again, rejects = run(session_factory, context, feed)  # and against what is stored
    assert (again.created, again.already_present, again.rejected) == (0, 3, 1)
    assert {(r.row, r.external_ref) for r in rejects} == {(4, "R/2")}


def test_the_feed_user_can_never_sign_in(
    session_factory: sessionmaker[Session], rules: RuleSources, settings: Settings,
    clock: FakeClock, client: TestClient,
) -> None:  # fmt: skip
    """Made the first time a feed is imported, with no password at all (no argon2 run)."""
    importer(session_factory, rules, settings, clock)
    with session_factory() as session:
        user = auth_service.repository.user_named(session, auth_service.FEED_USER)
        assert user is not None and user.password_hash == NO_PASSWORD and not user.active
    assert not verify_password(NO_PASSWORD, "")
    assert not verify_password(NO_PASSWORD, NO_PASSWORD)
    for password in ("", "!", "password"):
        answer = client.post(
            "/api/auth/token", data={"username": auth_service.FEED_USER, "password": password}
        )
        assert answer.status_code in (401, 422), answer.text  # 422: an empty password
