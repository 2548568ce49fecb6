"""A Notifier that sends through GOV.UK Notify with its official client.

Each message goes by email or, to a phone number, by SMS, through one template of each kind
whose personalisation fields are `subject` and `body`. Notify's `reference` is the outbox
id, so a message sent twice (a timeout after Notify took it, a crash before it was marked)
is recognisable in Notify as the same one.

Notify's 400 is a refusal of this message (a bad address, a template or personalisation that
does not fit): sending it again changes nothing, so it is `Undeliverable`, with Notify's
reason. Everything else passes and is retried by the outbox: a 5xx, no answer in time, a
429 (Notify's rate and daily limits) and a 403 (a wrong or revoked key, a clock out by more
than 30 s: wrong for every message alike, and once put right, the waiting ones go).
"""

import re
import threading
from typing import Any
from uuid import UUID

from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

from triage.notifications.protocol import Outgoing, Undeliverable

EMAIL = re.compile(r"[^@\s]+@[^@\s]+")  # Notify checks the rest, and answers 400
PHONE = re.compile(r"\+?[0-9 ()-]+")
RETRIED_4XX = {403, 429}


class NotifyUnavailable(Exception):
    """Notify did not take the message this time; the outbox tries again after a while."""


class NotifyNotifier:
    def __init__(
        self,
        *,
        api_key: str,
        email_template_id: str,
        sms_template_id: str,
        base_url: str = "https://api.notifications.service.gov.uk",
        timeout: float = 10.0,
    ) -> None:
        _check_api_key(api_key)
        for kind, template_id in (("email", email_template_id), ("SMS", sms_template_id)):
            if not _is_uuid(template_id):
                raise ValueError(f"the Notify {kind} template id is not a UUID: {template_id!r}")
        self.email_template_id, self.sms_template_id = email_template_id, sms_template_id
        self.client = NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout)
        # The client's requests session is not thread-safe, and dispatchers may share this.
        self.lock = threading.Lock()

    def send(self, message: Outgoing) -> None:
        personalisation = {"subject": message.subject, "body": message.body}
        reference = str(message.message_id)
        recipient = message.recipient.strip()
        try:
            with self.lock:
                if EMAIL.fullmatch(recipient):
                    self.client.send_email_notification(
                        email_address=recipient,
                        template_id=self.email_template_id,
                        personalisation=personalisation,
                        reference=reference,
                    )
                elif PHONE.fullmatch(recipient) and 7 <= sum(c.isdigit() for c in recipient) <= 15:
                    self.client.send_sms_notification(
                        phone_number=recipient,
                        template_id=self.sms_template_id,
                        personalisation=personalisation,
                        reference=reference,
                    )
                else:
                    raise Undeliverable("the recipient is neither an email address nor a phone")
        except HTTPError as error:
            if error.response is None:  # the client's 503 for a timeout or no connection
                cause = type(error.__cause__).__name__ if error.__cause__ else "no answer"
                raise NotifyUnavailable(f"no answer from GOV.UK Notify ({cause})") from error
            reason = f"GOV.UK Notify answered {error.status_code}: {_errors(error.message)}"
            if 400 <= error.status_code < 500 and error.status_code not in RETRIED_4XX:
                raise Undeliverable(reason) from error
            raise NotifyUnavailable(reason) from error


def _errors(message: Any) -> str:
    """Notify's `errors` list (`[{"error": "BadRequestError", "message": "..."}]`) as text."""
    if isinstance(message, list):
        return "; ".join(
            f"{e.get('error', '')}: {e.get('message', '')}" if isinstance(e, dict) else str(e)
            for e in message
        )
    return str(message)


def _check_api_key(api_key: str) -> None:
    """A Notify key is `name-<service id>-<secret>`, both UUIDs; the client slices them off the
    end unchecked, so a key cut short would otherwise fail every message with a 403."""
    if not (
        len(api_key) >= 73
        and api_key[-37] == "-"
        and _is_uuid(api_key[-73:-37])
        and _is_uuid(api_key[-36:])
    ):
        raise ValueError("not a GOV.UK Notify API key (name-<service id>-<secret>)")


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True
