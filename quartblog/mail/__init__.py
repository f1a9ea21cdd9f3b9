"""Mail: messages in the recipient's language with text and HTML parts (``compose``),
sent through SMTP with aiosmtplib or, with no SMTP server configured outside production,
written as .eml files under the instance folder (``transport``), at most once per
recipient and message (``delivery``).  Jobs send mail (quartblog/jobs/); requests never
do: they write a job in their transaction (quartblog/services/outbox.py)."""

from .compose import compose, external_url
from .delivery import send_once
from ..config import mail_configured
from .transport import MailNotConfigured, Transport, open_transport

__all__ = ["MailNotConfigured", "Transport", "compose", "external_url", "mail_configured", "open_transport",
           "send_once"]
