"""Sweeps in separate processes: two at once fire each expiry once; a killed one loses nothing."""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from tests.support import FakeClock
from triage.audit.models import AuditEvent
from triage.auth.models import User
from triage.config import Settings
from triage.db import transaction
from triage.deadlines.sweeps import expire_overdue_offers
from triage.notifications.models import OutboxMessage
from triage.providers.models import Provider
from triage.referrals.models import Offer, Referral
from triage.rule_sources import RuleSources

ROOT = Path(__file__).resolve().parents[2]
SWEEPER = """
import sys, time
from datetime import datetime
from pathlib import Path
from triage.config import Settings
from triage.db import make_engine, make_session_factory
from triage.deadlines import sweeps
from triage.rule_sources import RuleSources

url, now, marker = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3]
if marker != "-":
    real = sweeps.raise_alerts
    def stall(*args, **kwargs):
        real(*args, **kwargs)
        Path(marker).touch()  # claimed and changed, not committed: now kill me
        time.sleep(600)
    sweeps.raise_alerts = stall
settings = Settings(database_url=url, scheduler=False)
rules = RuleSources.from_settings(settings)
factory = make_session_factory(make_engine(url))
print(sweeps.expire_overdue_offers(factory, now=now, rules=rules, settings=settings, batch=50))
"""


def overdue_offers(
    session_factory, settings: Settings, clock: FakeClock, count: int, first: int = 0
) -> None:
    """`count` referrals awaiting core-general, each offer past its respond-by time; their
    references are numbered from `first`."""
    rule_set_hash = RuleSources.from_settings(settings).engine.hash
    past = clock() - timedelta(days=3)
    with transaction(session_factory) as session:
        provider_id = session.scalar(select(Provider.id).where(Provider.code == "core-general"))
        user = User(
            username=f"bulk-{uuid.uuid4().hex[:6]}",
            password_hash="x",
            role="intake",
            provider_id=None,
            active=True,
            created_at=past,
        )
        session.add(user)
        session.flush()
        referrals, offers = [], []
        for number in range(count):
            referral_id = uuid.uuid4()
            referrals.append(
                {
                    "id": referral_id,
                    "reference": f"VR-26-B{first + number:07d}",
                    "source": "police",
                    "external_ref": f"BULK-{uuid.uuid4().hex}",
                    "idempotency_key": None,
                    "request_hash": "",
                    "created_by": user.id,
                    "area": "derby_city",
                    "crime_type": "burglary",
                    "hate_strands": [],
                    "crime_reported_at": past,
                    "received_at": past,
                    "victim_full_name": "Sam Example",
                    "victim_name_key": "sam example",
                    "victim_date_of_birth": None,
                    "victim_phone": None,
                    "victim_phone_key": None,
                    "victim_email": None,
                    "victim_address": None,
                    "victim_postcode": None,
                    "safe_channels": [],
                    "safe_times": None,
                    "language": None,
                    "notes": None,
                    "state": "awaiting_provider",
                    "version": 1,
                    "holder_provider_id": None,
                    "vcop_edition": "2021",
                    "enhanced": False,
                    "enhanced_reasons": [],
                    "closure_reason": None,
                    "outcomes": None,
                    "closed_at": None,
                    "updated_at": past,
                }
            )
            offers.append(
                {
                    "referral_id": referral_id,
                    "provider_id": provider_id,
                    "offered_at": past,
                    "offered_by": None,
                    "respond_by": past + timedelta(hours=1),
                    "answer": None,
                    "rule_set_hash": rule_set_hash,
                }
            )
        session.execute(insert(Referral.__table__), referrals)
        session.execute(insert(Offer.__table__), offers)


def sweeper(url: str, now, marker: str = "-") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SWEEPER, url, now.isoformat(), marker],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def tally(session_factory) -> tuple[int, int, int]:
    with session_factory() as session:
        expired = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "expire")
        )
        open_offers = session.scalar(
            select(func.count()).select_from(Offer).where(Offer.answer.is_(None))
        )
        messages = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "offer_expired")
        )
    return expired, open_offers, messages


def two_sweepers_at_once(session_factory, settings, clock, database_url, count: int) -> None:
    overdue_offers(session_factory, settings, clock, count)
    processes = [sweeper(database_url, clock()) for _ in range(2)]
    outputs = [p.communicate(timeout=900) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    assert sum(int(out.strip()) for out, _ in outputs) == count
    assert tally(session_factory) == (count, 0, count)


class TestTwoProcesses:
    def test_two_sweepers_expire_every_offer_once(
        self, providers, session_factory, settings: Settings, clock: FakeClock, database_url: str
    ) -> None:
        two_sweepers_at_once(session_factory, settings, clock, database_url, 300)

    @pytest.mark.slow
    def test_a_burst_of_ten_thousand_expires_each_once(
        self, providers, session_factory, settings: Settings, clock: FakeClock, database_url: str
    ) -> None:
        if not database_url.startswith("postgresql"):
            pytest.skip("the burst is for PostgreSQL")
        two_sweepers_at_once(session_factory, settings, clock, database_url, 10_000)


def until_its_transaction_is_gone(session_factory, timeout: float = 30) -> None:
    """PostgreSQL ends a killed client's transaction (and frees its row locks) once it sees
    the connection close, which on a busy machine takes a moment: wait for that, not for luck.
    SQLite's lock goes with the killed process's file handle."""
    if session_factory.kw["bind"].dialect.name != "postgresql":
        return
    abandoned = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_factory() as session:
            if session.scalar(abandoned) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the killed sweeper's transaction is still open")


class TestKilledSweeper:
    def test_a_sweeper_killed_before_committing_leaves_its_batch_to_the_next_run(
        self,
        providers,
        session_factory,
        settings: Settings,
        rules: RuleSources,
        clock: FakeClock,
        database_url: str,
        tmp_path: Path,
    ) -> None:
        overdue_offers(session_factory, settings, clock, 60)
        marker = tmp_path / "claimed"
        process = sweeper(database_url, clock(), str(marker))
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        until_its_transaction_is_gone(session_factory)
        assert tally(session_factory) == (0, 60, 0)  # nothing of the killed batch remains
        assert (
            expire_overdue_offers(session_factory, now=clock(), rules=rules, settings=settings)
            == 60
        )
        assert tally(session_factory) == (60, 0, 60)
