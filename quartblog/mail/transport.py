"""Where messages go: an SMTP server (``QUARTBLOG_SMTP_URL``), or, with none configured,
.eml files under ``<instance>/mail/`` and a log line (development and testing only: in
production a message with nowhere to go is an error, so its job waits in the admin)."""

from __future__ import annotations

import logging
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib


log = logging.getLogger("quartblog.mail")
TRUE = ("1", "true", "yes", "on")


class MailNotConfigured(RuntimeError):
    """Production without ``QUARTBLOG_SMTP_URL``: nothing can be sent."""


class Transport:
    """Sends messages over one connection: ``async with open_transport(app) as mail``."""

    async def __aenter__(self) -> "Transport":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, message: EmailMessage) -> None:
        raise NotImplementedError


class SmtpTransport(Transport):
    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        implicit_tls = parts.scheme == "smtps"
        self.client = aiosmtplib.SMTP(
            hostname=parts.hostname, port=parts.port or (465 if implicit_tls else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit_tls, start_tls=options.get("starttls", "").lower() in TRUE,
            timeout=timeout)

    async def __aenter__(self) -> "SmtpTransport":
        await self.client.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client.is_connected:
            try:
                await self.client.quit()
            except aiosmtplib.SMTPException:
                self.client.close()

    async def send(self, message: EmailMessage) -> None:
        if not self.client.is_connected:  # the server dropped an idle connection
            await self.client.connect()
        await self.client.send_message(message)


class FileTransport(Transport):
    """Each message as ``<instance>/mail/<date>-<message id>.eml``, and one log line."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        import asyncio

        name = re.sub(r"[^\w.-]", "_", str(message["Message-ID"]).strip("<>"))
        path = self.directory / f"{name}.eml"

        def write() -> None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path.write_bytes(message.as_bytes())

        await asyncio.to_thread(write)
        log.info("mail to %s, %r: no SMTP server is configured (QUARTBLOG_SMTP_URL), written to %s",
                 message["To"], str(message["Subject"]), path)


def open_transport(config: Mapping[str, Any], instance_path: str) -> Transport:
    """The app's transport (see the module)."""
    if config.get("SMTP_URL"):
        return SmtpTransport(config["SMTP_URL"], float(config.get("SMTP_TIMEOUT") or 30))
    if config.get("ENV") == "production":
        raise MailNotConfigured("mail is not configured: set QUARTBLOG_SMTP_URL (and QUARTBLOG_MAIL_FROM)")
    return FileTransport(Path(instance_path) / "mail")
