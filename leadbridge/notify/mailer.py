"""Sending e-mail over SMTP with the standard library.

Rules: one connection per batch (``send_many``); STARTTLS when the server offers it and login only
when credentials are configured; a failure raises ``RetriableError`` for connection problems and
temporary (4xx) SMTP replies, so callers retry with the shared policy, ``FatalConnectorError`` for a
refused message or recipient (5xx), and is never swallowed.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

from leadbridge.core.errors import FatalConnectorError, RetriableError


class Mailer(Protocol):
    sender: str

    def send_many(self, messages: Sequence[EmailMessage]) -> None: ...


class SmtpMailer:
    """Sends through one SMTP server; ``sender`` fills ``From`` when a message has none."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.timeout = username, password, timeout

    def send(self, message: EmailMessage) -> None:
        self.send_many([message])

    def send_many(self, messages: Sequence[EmailMessage]) -> None:
        if not messages:
            return
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                for message in messages:
                    if "From" not in message:
                        message["From"] = self.sender
                    smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            # An SMTPException is an OSError: without this a refused address read as "unreachable".
            codes = sorted({code for code, _ in error.recipients.values()})
            server = f"SMTP {self.host}:{self.port}"
            if all(400 <= code < 500 for code in codes):
                raise RetriableError(f"{server} deferred the recipient: {codes}") from error
            raise FatalConnectorError(f"{server} refused the recipient: {codes}") from error
        except smtplib.SMTPResponseException as error:
            if 400 <= error.smtp_code < 500:
                raise RetriableError(f"SMTP {self.host}:{self.port} busy: {error.smtp_code}") from error
            raise FatalConnectorError(
                f"SMTP {self.host}:{self.port} refused the message: {error.smtp_code} {error.smtp_error!r}"
            ) from error
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            raise RetriableError(f"SMTP {self.host}:{self.port} unreachable: {error}") from error
