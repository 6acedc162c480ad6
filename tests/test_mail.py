"""Outgoing mail through a real SMTP server (aiosmtpd on loopback) and the mail folder."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from app.core.mail import Mailer
from app.core.settings import Settings


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_mail_goes_through_smtp_when_configured(
    smtp_server: tuple[Inbox, int], settings: Settings
) -> None:
    inbox, port = smtp_server
    smtp_settings = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    )
    await Mailer(smtp_settings).send("ada@example.org", "Confirm", "token=ev_abc\n")
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ada@example.org"
    assert "token=ev_abc" in message.get_payload()


async def test_undeliverable_mail_does_not_raise(settings: Settings) -> None:
    # Mail goes out after commit: a dead SMTP server is logged, never an error to the user.
    dead = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": _free_port(), "smtp_starttls": False}
    )
    await Mailer(dead).send("ada@example.org", "Confirm", "body\n")


async def test_mail_folder_when_no_smtp(settings: Settings, tmp_path: object) -> None:
    folder_settings = settings.model_copy(update={"mail_dir": str(tmp_path)})
    await Mailer(folder_settings).send("ada@example.org", "Hello", "token=ev_xyz\n")
    files = list(__import__("pathlib").Path(str(tmp_path)).glob("*.eml"))
    assert len(files) == 1
    assert "token=ev_xyz" in files[0].read_text()
