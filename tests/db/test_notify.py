"""GOV.UK Notify: the outbox delivered through Notify's own client to a local fake of its API.

The fake (tests/fake_notify.py) checks the JWT on every request as Notify does; each test
queues messages, dispatches them through `make_notifier`'s Notify adapter and reads the
outbox rows back, on SQLite and PostgreSQL.
"""

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest
from sqlalchemy import select

from adapters.notifications.notify import NotifyNotifier
from tests.api.flows import assessing, ok
from tests.fake_notify import API_KEY, BROKEN, HANG, LIMITED, REFUSED, SECRET, FakeNotify
from tests.support import Api, FakeClock
from triage.app import make_notifier
from triage.config import PROJECT_ROOT, Settings
from triage.db import transaction
from triage.deadlines.sweeps import sweep_all
from triage.notifications.models import OutboxMessage
from triage.notifications.protocol import Notifier
from triage.notifications.service import dispatch, enqueue
from triage.rule_sources import RuleSources

EMAIL_TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
SMS_TEMPLATE = "0e5c4a4c-91a8-4d1e-9d52-6c2b7f1f3c0e"
TIMEOUT = 0.5


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        scheduler=False,
        token_hours=24 * 365,
        unit_notify_address="triage-unit@pcc.example.org",
    )


@pytest.fixture
def fake() -> Iterator[FakeNotify]:
    with FakeNotify() as notify:
        yield notify


def notify_settings(fake: FakeNotify) -> Settings:
    return Settings(
        notifier="notify",
        notify_api_key=API_KEY,
        notify_email_template_id=EMAIL_TEMPLATE,
        notify_sms_template_id=SMS_TEMPLATE,
        notify_base_url=fake.base_url,
        notify_timeout_seconds=TIMEOUT,
    )


@pytest.fixture
def notifier(fake: FakeNotify) -> Notifier:
    return make_notifier(notify_settings(fake))


def put(session_factory, clock: FakeClock, recipient: str = "unit@example.invalid") -> UUID:
    with transaction(session_factory) as session:
        return enqueue(
            session,
            kind="offer_expired",
            recipient=recipient,
            subject="[offer_expired] referral VR-26-7K3M9QXD",
            body="offer expired.\nOpen: http://127.0.0.1:8000/api/referrals/x\n",
            now=clock(),
        )


def row(session_factory, message_id: UUID) -> OutboxMessage:
    with session_factory() as session:
        return session.get_one(OutboxMessage, message_id)


def assert_all_signed(fake: FakeNotify) -> None:
    assert fake.received, "Notify was never called"
    problems = [r.token_problem for r in fake.received if not r.token_valid]
    assert problems == []


class TestSending:
    def test_an_email_address_goes_by_email_with_the_outbox_id_as_reference(
        self, session_factory, clock: FakeClock, fake: FakeNotify, notifier: Notifier
    ) -> None:
        message_id = put(session_factory, clock)
        assert dispatch(session_factory, notifier, now=clock()) == 1
        (request,) = fake.received
        assert request.path == "/v2/notifications/email"
        assert request.json == {
            "email_address": "unit@example.invalid",
            "template_id": EMAIL_TEMPLATE,
            "reference": str(message_id),
            "personalisation": {
                "subject": "[offer_expired] referral VR-26-7K3M9QXD",
                "body": "offer expired.\nOpen: http://127.0.0.1:8000/api/referrals/x\n",
            },
        }
        sent = row(session_factory, message_id)
        assert (sent.sent_at, sent.failed_at, sent.attempts) == (clock(), None, 1)
        assert_all_signed(fake)

    def test_a_phone_number_goes_by_sms_through_the_sms_template(
        self, session_factory, clock: FakeClock, fake: FakeNotify, notifier: Notifier
    ) -> None:
        message_id = put(session_factory, clock, recipient="+44 7700 900000")
        assert dispatch(session_factory, notifier, now=clock()) == 1
        (request,) = fake.received
        assert request.path == "/v2/notifications/sms"
        assert request.json["phone_number"] == "+44 7700 900000"
        assert request.json["template_id"] == SMS_TEMPLATE
        assert request.json["reference"] == str(message_id)
        assert set(request.json["personalisation"]) == {"subject", "body"}
        assert row(session_factory, message_id).sent_at == clock()
        assert_all_signed(fake)


class TestRefused:
    def test_a_400_fails_the_message_with_notifys_reason_and_it_is_not_sent_again(
        self, session_factory, clock: FakeClock, fake: FakeNotify, notifier: Notifier
    ) -> None:
        message_id = put(session_factory, clock)
        fake.answer(REFUSED)
        assert dispatch(session_factory, notifier, now=clock()) == 0
        failed = row(session_factory, message_id)
        assert (failed.failed_at, failed.sent_at, failed.attempts) == (clock(), None, 1)
        assert failed.last_error == (
            "GOV.UK Notify answered 400: BadRequestError: Missing personalisation: body"
        )
        assert dispatch(session_factory, notifier, now=clock.advance(hours=2)) == 0
        assert len(fake.received) == 1
        assert_all_signed(fake)

    def test_a_recipient_neither_email_nor_phone_fails_without_calling_notify(
        self, session_factory, clock: FakeClock, fake: FakeNotify, notifier: Notifier
    ) -> None:
        message_id = put(session_factory, clock, recipient="the triage unit")
        assert dispatch(session_factory, notifier, now=clock()) == 0
        failed = row(session_factory, message_id)
        assert failed.failed_at == clock() and "neither an email" in (failed.last_error or "")
        assert fake.received == []


class TestRetried:
    def test_a_500_backs_off_then_the_same_message_is_sent_once(
        self, session_factory, clock: FakeClock, fake: FakeNotify, notifier: Notifier
    ) -> None:
        message_id = put(session_factory, clock)
        fake.answer(BROKEN)
        assert dispatch(session_factory, notifier, now=clock()) == 0
        waiting = row(session_factory, message_id)
        assert (waiting.sent_at, waiting.failed_at, waiting.attempts) == (None, None, 1)
        assert waiting.last_error == (
            "NotifyUnavailable: GOV.UK Notify answered 500: Exception: Internal server error"
        )
        assert waiting.next_attempt_at == clock() + timedelta(minutes=1)
        assert dispatch(session_factory, notifier, now=clock.advance(seconds=30)) == 0
        assert len(fake.received) == 1  # not due yet
        assert dispatch(session_factory, notifier, now=clock.advance(seconds=30)) == 1
        assert dispatch(session_factory, notifier, now=clock.advance(hours=1)) == 0
        first, second = fake.received
        assert first.json == second.json and second.json["reference"] == str(message_id)
        sent = row(session_factory, message_id)
        assert (sent.sent_at, sent.failed_at, sent.attempts) == (
            clock() - timedelta(hours=1),
            None,
            2,
        )
        assert_all_signed(fake)

    def test_no_answer_within_the_timeout_is_retried(
        self, session_factory, clock: FakeClock, fake: FakeNotify, notifier: Notifier
    ) -> None:
        message_id = put(session_factory, clock)
        fake.answer(HANG)
        assert dispatch(session_factory, notifier, now=clock()) == 0
        waiting = row(session_factory, message_id)
        assert (waiting.sent_at, waiting.failed_at, waiting.attempts) == (None, None, 1)
        assert waiting.last_error == "NotifyUnavailable: no answer from GOV.UK Notify (ReadTimeout)"
        assert dispatch(session_factory, notifier, now=clock.advance(minutes=1)) == 1
        assert [r.json["reference"] for r in fake.received] == [str(message_id)] * 2
        assert_all_signed(fake)

    def test_notifys_rate_limit_429_is_retried_not_failed(
        self, session_factory, clock: FakeClock, fake: FakeNotify, notifier: Notifier
    ) -> None:
        message_id = put(session_factory, clock)
        fake.answer(LIMITED)
        assert dispatch(session_factory, notifier, now=clock()) == 0
        assert row(session_factory, message_id).failed_at is None
        assert dispatch(session_factory, notifier, now=clock.advance(minutes=1)) == 1

    def test_a_key_notify_rejects_403_is_retried_so_the_messages_go_once_it_is_put_right(
        self, session_factory, clock: FakeClock, fake: FakeNotify
    ) -> None:
        wrong_secret = API_KEY.replace(SECRET, "00000000-0000-4000-8000-000000000000")
        message_id = put(session_factory, clock)
        wrong = make_notifier(
            notify_settings(fake).model_copy(update={"notify_api_key": wrong_secret})
        )
        assert dispatch(session_factory, wrong, now=clock()) == 0
        (refused,) = fake.received
        assert not refused.token_valid and "Signature" in (refused.token_problem or "")
        assert row(session_factory, message_id).failed_at is None
        right = make_notifier(notify_settings(fake))
        assert dispatch(session_factory, right, now=clock.advance(minutes=1)) == 1


class TestNoPersonalData:
    def test_notify_receives_no_victims_name_phone_email_or_address(
        self,
        triage: Api,
        session_factory,
        clock: FakeClock,
        settings: Settings,
        rules: RuleSources,
        fake: FakeNotify,
        notifier: Notifier,
    ) -> None:
        person = {
            "full_name": "Zebedee Quillfeather-Okonkwo",
            "date_of_birth": "1987-06-19",
            "phone": "07700 900461",
            "email": "zebedee.quill@example.net",
            "address": "7 Larkspur Mews, Derby",
            "postcode": "DE22 3XY",
        }
        victim = {
            **person,
            "safe_channels": ["phone"],
            "safe_times": "any",
            "language": "en",
        }
        ref = assessing(triage, victim=victim, notes="Zebedee's neighbour saw it.")
        ok(triage.event(ref["id"], "route", ref["version"]))
        triage.create(victim=victim)  # uncontacted: a contact_overdue alert, later escalated
        clock.advance(hours=80)
        sweep_all(session_factory, now=clock(), rules=rules, settings=settings)
        assert dispatch(session_factory, notifier, now=clock()) >= 3
        kinds = {m.kind for m in _messages(session_factory)}
        assert {"offer", "offer_expired", "contact_overdue"} <= kinds
        assert all(m.sent_at for m in _messages(session_factory))

        seen = "\n".join(r.path + str(r.headers) + r.raw.decode() for r in fake.received)
        for message in _messages(session_factory):  # a unit's or a provider's, not the victim's
            seen = seen.replace(message.recipient, "")
        for value in [*person.values(), "Zebedee", "Quillfeather", "Okonkwo", "Larkspur"]:
            assert value.lower() not in seen.lower()
        assert "7700900461" not in re.sub(r"[\s()+-]", "", seen)
        assert_all_signed(fake)


def _messages(session_factory) -> list[OutboxMessage]:
    with session_factory() as session:
        return list(session.scalars(select(OutboxMessage)))


class TestWiring:
    def test_notify_without_its_key_or_templates_will_not_start_and_names_the_settings(
        self,
    ) -> None:
        with pytest.raises(ValueError) as raised:
            make_notifier(Settings(notifier="notify", notify_api_key=None))
        assert str(raised.value) == (
            "TRIAGE_NOTIFIER=notify needs TRIAGE_NOTIFY_API_KEY and "
            "TRIAGE_NOTIFY_EMAIL_TEMPLATE_ID and TRIAGE_NOTIFY_SMS_TEMPLATE_ID set"
        )

    def test_a_key_cut_short_or_a_template_id_that_is_no_uuid_will_not_start(self) -> None:
        with FakeNotify() as fake:
            with pytest.raises(ValueError, match="not a GOV.UK Notify API key"):
                make_notifier(
                    notify_settings(fake).model_copy(update={"notify_api_key": API_KEY[:-1]})
                )
            bad_template = {"notify_sms_template_id": "sms-template"}
            with pytest.raises(ValueError, match="SMS template id is not a UUID"):
                make_notifier(notify_settings(fake).model_copy(update=bad_template))
            assert isinstance(make_notifier(notify_settings(fake)), NotifyNotifier)


class TestLogNotifier:
    def test_each_message_shows_in_the_output_of_triage_serves_logging(self) -> None:
        """Under the logging `triage serve` sets up (uvicorn's, which shows only its own
        loggers), the log notifier's messages still reach stderr."""
        script = r"""
import logging.config, uuid
from triage.logs import uvicorn_log_config
logging.config.dictConfig(uvicorn_log_config())
from adapters.notifications.log import LogNotifier
from triage.notifications.protocol import Outgoing
subject = "[escalation] referral r"
LogNotifier().send(Outgoing(uuid.UUID(int=7), "unit@example.invalid", subject, "Open: /x\n"))
"""
        run = subprocess.run(
            [sys.executable, "-c", script],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert run.stderr.splitlines() == [
            "INFO:     triage.notifications to unit@example.invalid: [escalation] referral r "
            "[00000000-0000-0000-0000-000000000007] Open: /x"
        ]
