"""A Notifier that writes each message to the log: the demo's and development's delivery.

`triage serve` sets up uvicorn's logging, which gives only uvicorn's own loggers a handler,
so a message logged here would go nowhere. When nothing above this logger has a handler, it
gets one of its own, writing to stderr beside uvicorn's lines; where logging is set up
(`triage worker`, the tests), the messages go where everything else goes.
"""

import logging

from triage.notifications.protocol import Outgoing

log = logging.getLogger("triage.notifications")


class LogNotifier:
    def __init__(self) -> None:
        if not log.hasHandlers():
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)

    def send(self, message: Outgoing) -> None:
        body = " | ".join(line for line in message.body.splitlines() if line.strip())
        log.info("to %s: %s [%s] %s", message.recipient, message.subject, message.message_id, body)
