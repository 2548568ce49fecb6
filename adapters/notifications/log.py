"""A Notifier that writes each message to the log: the demo's and development's delivery."""

import logging

from triage.notifications.protocol import Outgoing

log = logging.getLogger("triage.notifications")


class LogNotifier:
    def send(self, message: Outgoing) -> None:
        log.info("to %s: %s [%s]", message.recipient, message.subject, message.message_id)
