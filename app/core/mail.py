"""Outgoing mail: SMTP when configured, otherwise `.eml` files in the mail folder."""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from app.core.settings import Settings

log = logging.getLogger(__name__)


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def build(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="durc-exchange.invalid")
        # 8bit, not quoted-printable: long links stay on one line, greppable as written.
        message.set_content(body, cte="8bit")
        return message

    async def send(self, to: str, subject: str, body: str) -> None:
        message = self.build(to, subject, body)
        try:
            await asyncio.to_thread(self._deliver, message)
        except (OSError, smtplib.SMTPException):
            # Mail goes out after commit; a failed delivery must not undo the change, and
            # the user can ask again (e.g. resend verification).
            log.exception("mail to %s could not be delivered", to)

    def _deliver(self, message: EmailMessage) -> None:
        s = self._settings
        if s.smtp_host:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_username and s.smtp_password:
                    smtp.login(s.smtp_username, s.smtp_password)
                smtp.send_message(message)
            return
        folder = Path(s.mail_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        final = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        temp = final.with_suffix(".tmp")
        # Written then renamed, so a reader of the folder never sees half a message.
        temp.write_bytes(bytes(message))
        os.replace(temp, final)
