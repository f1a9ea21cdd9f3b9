"""A message as mail clients expect it: text and HTML parts rendered from
``templates/mail/<name>.txt`` and ``.html`` in the recipient's language, a stable
``Message-ID`` made from the delivery's key (the same message sent again is the same
message), ``Date``, ``Content-Language`` and, for anything a person can stop receiving,
``List-Unsubscribe`` with one-click unsubscribing (RFC 8058)."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any
from urllib.parse import urlsplit

from quart import Quart, g

from ..site.i18n import LANGUAGES, gettext, match_locale
from ..types import utcnow

DEV_BASE_URL = "http://127.0.0.1:8000"  # hypercorn's default bind, for development without SITE_URL


def external_url(app: Quart, endpoint: str, *, base_url: str | None = None, **values: Any) -> str:
    """An absolute URL outside any request: from ``SITE_URL`` (required in production),
    else the address of the request that caused the job, else hypercorn's default."""
    parts = urlsplit(app.config.get("SITE_URL") or base_url or DEV_BASE_URL)
    adapter = app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def sender(app: Quart) -> str:
    configured = app.config.get("MAIL_FROM")
    if configured:
        return configured
    host = urlsplit(app.config.get("SITE_URL") or "").hostname or "localhost"
    return formataddr((app.config.get("SITE_NAME") or "quartblog", f"noreply@{host}"))


def message_id(app: Quart, key: str) -> str:
    domain = parseaddr(sender(app))[1].rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


async def compose(app: Quart, *, to: str, template: str, subject: str, key: str, locale: str | None = None,
                  context: dict[str, Any] | None = None, unsubscribe_url: str | None = None,
                  subject_values: dict[str, Any] | None = None) -> EmailMessage:
    """The message ``template`` for ``to`` in ``locale`` (else the site's default);
    ``subject`` is an English msgid, translated.  Call inside the app context."""
    locale = match_locale(locale) or app.config.get("DEFAULT_LOCALE") or "en"
    g.locale = locale  # gettext, the templates' _() and the date filters follow it
    values = {"site_name": app.config.get("SITE_NAME") or "quartblog",
              "site_url": external_url(app, "site.index"), "unsubscribe_url": unsubscribe_url,
              "lang": LANGUAGES[locale][0], **(context or {})}
    text = await app.jinja_env.get_template(f"mail/{template}.txt").render_async(**values)
    html = await app.jinja_env.get_template(f"mail/{template}.html").render_async(**values)
    message = EmailMessage()
    message["Subject"] = gettext(subject, **(subject_values or {}))
    message["From"] = sender(app)
    message["To"] = to
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id(app, key)
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message["Content-Language"] = LANGUAGES[locale][0]  # after the parts: set_content drops Content-*
    return message
