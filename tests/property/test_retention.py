"""Retention at a random date after random histories (issue 16): every report figure before
equals after, and no anonymised referral's removed values remain anywhere in the database
(every text and JSON column of every table, the audit log's included)."""

import itertools
from datetime import timedelta
from typing import Any

from faker import Faker
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.api.flows import found_anywhere, ok
from tests.property.test_report_recount import build, plans
from tests.support import Api, FakeClock, victim
from triage.referrals.models import Referral
from triage.referrals.privacy import run_retention
from triage.referrals.repository import personal_values
from triage.retention import Period, RetentionRules

RULES = RetentionRules(version="t", default_months=3, periods=[
    Period(id="excluded", closure_reasons=["duplicate", "out_of_area"], months=1),
    Period(id="violence", crime_types=["violence"], months=6),
])  # fmt: skip
REPORTS = ("/api/reports/conversion?group_by=crime_type", "/api/reports/conversion?group_by=month",
           "/api/reports/vcop-compliance", "/api/reports/providers", "/api/reports/activity",
           "/api/reports/moj-return?quarter=2026Q4")  # fmt: skip


def published(reader: Api) -> list[Any]:
    out = []
    for path in REPORTS:
        answer = reader.get(path)
        if answer.status_code == 404:
            continue  # a report this build does not publish
        body = ok(answer)
        body.pop("as_of", None)
        out.append((path, body))
    return out


def test_retention_changes_no_report_figure_and_leaves_nothing_behind(
    sign_in: Any, clock: FakeClock, session_factory: sessionmaker[Session]
) -> None:
    class Workers(dict[str, Api]):
        def __missing__(self, code: str) -> Api:
            self[code] = sign_in("provider", code)
            return self[code]

    fake = Faker("en_GB")
    numbers = itertools.count(1)  # values unique across examples (the database is shared)
    anonymised: list[int] = []

    @hypothesis_settings(max_examples=6, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(plans, st.integers(0, 250), st.integers(0, 10**6))
    def examples(drawn: list[dict[str, Any]], days: int, seed: int) -> None:
        fake.seed_instance(seed)
        for number, plan in enumerate(drawn):
            clock.advance(hours=plan["hours"])
            unique = f"{next(numbers):07d}{number:02d}"
            person = victim(full_name=f"{fake.first_name()} Zq{unique}",
                            phone=f"07700 9{unique[-5:]}", email=f"p{unique}@example.net",
                            address=f"{unique} {fake.street_name()}",
                            safe_times=f"after {unique}")  # fmt: skip
            build(plan, sign_in("triage"), Workers(), clock, victim=person,
                  notes=f"Note {unique}: {fake.sentence()}")  # fmt: skip
        reader = sign_in("commissioner")
        before = published(reader)
        with session_factory() as session:
            ids = list(session.scalars(select(Referral.id).where(Referral.anonymised_at.is_(None))))
            held = personal_values(session, ids)
        as_of = clock() + timedelta(days=days)
        report = run_retention(session_factory, retention=RULES, as_of=as_of, now=clock())
        with session_factory() as session:
            gone = set(session.scalars(select(Referral.id).where(
                Referral.anonymised_at.is_not(None), Referral.id.in_(ids))))  # fmt: skip
            due = {
                r.id
                for r in session.scalars(select(Referral).where(Referral.id.in_(ids)))
                if r.closed_at is not None
                and RULES.is_due(r.closure_reason, r.crime_type, r.closed_at, as_of)
            } | gone
        assert report.anonymised == len(gone) and gone == due
        anonymised.append(len(gone))
        assert published(sign_in("commissioner")) == before
        # What only anonymised referrals held (a postcode or birth date shared with a
        # referral still kept may stay with it).
        kept = {v.lower() for i in set(ids) - gone for v in held[i]}
        values = [v for i in gone for v in held[i] if len(v) >= 4 and v.lower() not in kept]
        assert found_anywhere(session_factory, values) == []

    examples()
    assert sum(anonymised) > 0, "no example reached a period's end: the test tested nothing"
