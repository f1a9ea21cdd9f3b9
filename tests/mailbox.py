"""A real SMTP server for the tests (aiosmtpd), on a free loopback port, on the test's own
event loop: what quartblog sends arrives here as parsed messages.  ``stop()`` and
``start()`` again (same port) are the mail server going down and coming back."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import SMTP

from .servers import free_port


class Mailbox:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self._server: asyncio.base_events.Server | None = None
        self._arrived = asyncio.Condition()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        async with self._arrived:
            self.messages.append(message)  # type: ignore[arg-type]
            self._arrived.notify_all()
        return "250 OK"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="mail.test"), "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        """The messages once ``count`` have arrived (bounded by ``timeout``)."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.messages) >= count), timeout)
        return self.messages

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture
async def mailbox():
    """A running Mailbox for the test (tests/conftest.py offers it to every test)."""
    box = Mailbox()
    await box.start()
    yield box
    await box.stop()


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def link_in(message: EmailMessage, path: str) -> str:
    """The path (and token) of the first link in the text part that goes to ``path``."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"[^\s]*)", text_of(message))
    assert match, text_of(message)
    return match.group(1)
