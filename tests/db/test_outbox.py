"""The notification outbox: written with its cause, delivered once per dispatcher, retried."""

import socket
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.notifications.smtp import SmtpNotifier
from tests.api.flows import assessing, ok
from tests.support import Api, FakeClock
from triage.config import Settings
from triage.db import transaction
from triage.deadlines.sweeps import expire_overdue_offers
from triage.notifications.models import OutboxMessage
from triage.notifications.protocol import Outgoing
from triage.notifications.service import dispatch, enqueue
from triage.rule_sources import RuleSources


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, scheduler=False, token_hours=24 * 365)


class Recorder:
    """A Notifier that keeps what it was given; `fail` makes the next sends raise."""

    def __init__(self, fail: int = 0) -> None:
        self.sent: list[Outgoing] = []
        self.fail = fail
        self.lock = threading.Lock()

    def send(self, message: Outgoing) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("mail relay unreachable")
        with self.lock:
            self.sent.append(message)


def messages(session_factory) -> list[OutboxMessage]:
    with session_factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))


def put(session_factory, clock: FakeClock, count: int = 1) -> None:
    with transaction(session_factory) as session:
        for number in range(count):
            enqueue(
                session,
                kind="test",
                recipient="unit@example.invalid",
                subject=f"message {number}",
                body="body",
                now=clock(),
            )


class TestWrittenWithTheCause:
    def test_an_alert_writes_one_message_naming_no_victim(
        self, triage: Api, clock: FakeClock, session_factory, settings: Settings, rules: RuleSources
    ) -> None:
        ref = ok(triage.event((r := assessing(triage))["id"], "route", r["version"]))
        clock.advance(hours=49)
        expire_overdue_offers(session_factory, now=clock(), rules=rules, settings=settings)
        expire_overdue_offers(session_factory, now=clock(), rules=rules, settings=settings)
        (message,) = [m for m in messages(session_factory) if m.kind != "offer"]
        assert message.kind == "offer_expired" and message.recipient == settings.unit_notify_address
        assert f"/api/referrals/{ref['id']}" in message.body
        assert "Olivia" not in message.body + message.subject  # the victim in tests.support

    def test_an_offer_is_announced_to_the_providers_team_by_reference_and_link(
        self, triage: Api, session_factory
    ) -> None:
        ref = ok(triage.event((r := assessing(triage))["id"], "route", r["version"]))
        (message,) = messages(session_factory)
        assert (message.kind, message.recipient) == ("offer", "offers@core-general.example.org")
        assert ref["reference"] in message.subject and f"/api/referrals/{ref['id']}" in message.body
        assert "Olivia" not in message.body + message.subject


class TestDispatch:
    def test_each_message_is_sent_once_and_marked(self, session_factory, clock: FakeClock) -> None:
        put(session_factory, clock, 3)
        notifier = Recorder()
        assert dispatch(session_factory, notifier, now=clock()) == 3
        assert dispatch(session_factory, notifier, now=clock()) == 0
        assert len(notifier.sent) == 3
        assert all(m.sent_at == clock() for m in messages(session_factory))

    def test_a_failure_backs_off_then_succeeds(self, session_factory, clock: FakeClock) -> None:
        put(session_factory, clock)
        notifier = Recorder(fail=2)
        assert dispatch(session_factory, notifier, now=clock()) == 0
        (message,) = messages(session_factory)
        assert message.attempts == 1 and "unreachable" in message.last_error
        assert message.next_attempt_at == clock() + timedelta(minutes=1)
        assert dispatch(session_factory, notifier, now=clock.advance(seconds=30)) == 0
        assert dispatch(session_factory, notifier, now=clock.advance(minutes=1)) == 0  # 2nd failure
        assert messages(session_factory)[0].next_attempt_at == clock() + timedelta(minutes=2)
        assert dispatch(session_factory, notifier, now=clock.advance(minutes=2)) == 1
        assert messages(session_factory)[0].attempts == 3

    def test_a_crash_between_sending_and_marking_resends_with_the_same_id(
        self, session_factory, clock: FakeClock
    ) -> None:
        put(session_factory, clock)

        class CrashAfterSending(Recorder):
            def send(self, message: Outgoing) -> None:
                super().send(message)
                raise SystemExit("killed before the commit")

        crashing = CrashAfterSending()
        with pytest.raises(SystemExit):
            dispatch(session_factory, crashing, now=clock())
        again = Recorder()
        assert dispatch(session_factory, again, now=clock()) == 1
        assert crashing.sent[0].message_id == again.sent[0].message_id

    def test_two_dispatchers_never_send_the_same_message(
        self, session_factory, clock: FakeClock, database_url: str
    ) -> None:
        if not database_url.startswith("postgresql"):
            pytest.skip("SKIP LOCKED between concurrent dispatchers: PostgreSQL only")
        put(session_factory, clock, 60)
        notifier = Recorder()
        barrier = threading.Barrier(2)

        def run() -> None:
            barrier.wait()
            while dispatch(session_factory, notifier, now=clock(), batch=5):
                pass

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = [m.message_id for m in notifier.sent]
        assert len(ids) == 60 == len(set(ids))


class TestSmtp:
    def test_the_smtp_adapter_delivers_with_the_outbox_id_as_message_id(self) -> None:
        from aiosmtpd.controller import Controller

        received: list[bytes] = []

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
                received.append(envelope.content)
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        controller.start()
        try:
            notifier = SmtpNotifier(
                host="127.0.0.1", port=port, sender="triage@example.invalid", domain="triage.test"
            )
            message = Outgoing(
                message_id=uuid.uuid4(),
                recipient="unit@example.invalid",
                subject="[offer_expired] referral",
                body="Open: http://127.0.0.1:8000/api/referrals/x",
            )
            notifier.send(message)
        finally:
            controller.stop()
        (content,) = received
        assert f"Message-ID: <{message.message_id}@triage.test>".encode() in content
        assert b"Subject: [offer_expired] referral" in content
