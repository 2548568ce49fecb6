"""A Notifier that delivers by SMTP with the standard library.

The outbox id becomes the `Message-ID`, so a message sent twice (a crash between sending and
marking it sent) carries the same id and mail systems and people can tell it is a resend.
"""

import smtplib
from email.message import EmailMessage

from triage.notifications.protocol import Outgoing


class SmtpNotifier:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        domain: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender, self.domain = host, port, sender, domain
        self.username, self.password, self.starttls, self.timeout = (
            username,
            password,
            starttls,
            timeout,
        )

    def send(self, message: Outgoing) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Message-ID"] = f"<{message.message_id}@{self.domain}>"
        email.set_content(message.body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(email)
