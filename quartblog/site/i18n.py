"""The site's language, English or Simplified Chinese, from Babel catalogs: the visitor's
choice (the ``quartblog_lang`` cookie), else ``Accept-Language``, else
``QUARTBLOG_DEFAULT_LOCALE``, resolved once per request (``get_locale``).  The services'
messages stay English and are translated here when a page shows them (``translate``,
``field_message``).  docs/architecture.md, "Languages", and the README say more."""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from quart import Quart, abort, current_app, g, has_request_context, request, url_for

from ..config import ConfigError
from ..services.errors import Message, N_
from . import blueprint
from .helpers import go_back

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"
COOKIE = "quartblog_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
# The site's languages: catalog name -> (BCP 47 tag for <html lang> and URLs, own name).
# zh-Hans (not a bare "zh", nor "ja"-looking text) makes browsers pick Simplified Chinese glyphs.
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("en", "English"),
    "zh_Hans": ("zh-Hans", "简体中文"),
}
SOURCE_LOCALE = "en"  # the msgids are English: no catalog needed
# Chinese regions that write Simplified characters; zh-TW/zh-HK/zh-Hant are not matched.
SIMPLIFIED_REGIONS = {None, "CN", "SG", "MY"}


# --- which language -------------------------------------------------------------------

def match_locale(tag: str | None) -> str | None:
    """The site's catalog name for a language tag ("zh-CN", "zh_Hans", "en-GB", ...), or None."""
    if not tag or tag == "*":
        return None
    try:
        locale = Locale.parse(tag.strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    if locale.language == "en":
        return "en"
    if locale.language == "zh" and (
        locale.script == "Hans" or (locale.script is None and locale.territory in SIMPLIFIED_REGIONS)
    ):
        return "zh_Hans"
    return None


def _resolve() -> str:
    chosen = match_locale(request.cookies.get(COOKIE))
    if chosen:
        return chosen
    for tag, quality in request.accept_languages:
        if quality > 0:
            found = match_locale(tag)
            if found:
                return found
    return current_app.config["DEFAULT_LOCALE"]


def get_locale() -> str:
    """The catalog name of this request's language ("en" or "zh_Hans").

    Anything that stores a rendered page must key it by this too
    (the response cache: see the README's "Languages")."""
    if not has_request_context():  # a job writing a mail sets the recipient's (quartblog/mail/compose.py)
        return g.get("locale") or current_app.config["DEFAULT_LOCALE"]
    locale = g.get("locale")
    if locale is None:
        locale = g.locale = _resolve()
    return locale


def html_lang() -> str:
    return LANGUAGES[get_locale()][0]


# --- messages -------------------------------------------------------------------------

def _translations() -> NullTranslations:
    return current_app.extensions["quartblog_translations"][get_locale()]


def gettext(message: str, /, **variables: Any) -> str:
    text = _translations().gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, /, **variables: Any) -> str:
    variables.setdefault("num", num)
    return _translations().ngettext(singular, plural, num) % variables


_ = gettext


def translate(message: str) -> str:
    """A message from the services (``N_``/``Message``) or a description of an HTTP
    error, in the request's language; a message without a translation stays as it is."""
    if isinstance(message, Message):
        return gettext(message.msgid) % message.params if message.params else gettext(message.msgid)
    return gettext(message)


# The forms' field names, as the subject of the services' messages ("Title can't be blank").
FIELD_NAMES = {
    "username": N_("Username"),
    "email": N_("Email"),
    "password": N_("Password"),
    "new_password": N_("The new password"),
    "current_password": N_("The current password"),
    "title": N_("Title"),
    "description": N_("Description"),
    "body": N_("The text"),
    "tags": N_("Tags"),
    "tagList": N_("Tags"),
    "image": N_("The image URL"),
    "bio": N_("The bio"),
    "role": N_("Role"),
    "publish_at": N_("The publish time"),
    "publishAt": N_("The publish time"),
    "timezone": N_("The time zone"),
    "name": N_("The name"),
    "into": N_("The tag to merge into"),
    "posts": N_("The choice of posts"),
    "disabled": N_("The account"),
    "delete_password": N_("The password"),
    "password_again": N_("The new password, again"),
    "token": N_("The link"),
}
# Messages that say something about their field start like this; the others are sentences
# of their own ("the email or the password is wrong") and are shown without the field's name.
PREDICATES = ("is ", "can't ", "has ", "must ", "may ")


def field_message(name: str, message: str) -> str:
    """A form error, whole and translated: "Title can't be blank" / "标题不能为空"."""
    english = message.msgid if isinstance(message, Message) else str(message)
    text = translate(message)
    if english.startswith(PREDICATES):
        subject = FIELD_NAMES.get(name) or name.replace("_", " ").capitalize()
        return gettext("%(field)s %(message)s", field=gettext(subject), message=text)
    return text[:1].upper() + text[1:]


# Messages the error page shows that come from elsewhere (quartblog/errors.py, werkzeug):
# listed here so that ``pybabel extract`` puts them in the catalog.
ERROR_MESSAGES = (
    N_("Article not found"),
    N_("Comment not found"),
    N_("Profile not found"),
    N_("User not found"),
    N_("Tag not found"),
    N_("Too many attempts: please wait a minute and try again."),
    N_("The requested URL was not found on the server. If you entered the URL manually "
       "please check your spelling and try again."),
    N_("The method is not allowed for the requested URL."),
    N_("The server encountered an internal error and was unable to complete your request. "
       "Either the server is overloaded or there is an error in the application."),
    N_("The browser (or proxy) sent a request that this server could not understand."),
)


# --- dates and numbers -----------------------------------------------------------------

# A list page formats dozens of dates and counts: Babel parses a locale named by a
# string on every call, so each locale is parsed once, and a day's text is kept.
@lru_cache(maxsize=None)
def _babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


@lru_cache(maxsize=4096)
def _day(day: date, locale: str) -> str:
    return format_date(day, "medium", locale=_babel_locale(locale))


def format_day(value: datetime | None) -> str:
    """25 Nov 2026 as "Nov 25, 2026" / "2026年11月25日"."""
    return _day(value.date(), get_locale()) if value else ""


def format_moment(value: datetime | None) -> str:
    """A date and time in UTC: "Nov 25, 2026, 14:03 UTC" / "2026年11月25日 14:03 UTC"."""
    if not value:
        return ""
    value = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    locale = get_locale()
    return gettext("%(datetime)s UTC", datetime=_moment(value.replace(second=0, microsecond=0), locale))


@lru_cache(maxsize=4096)
def _moment(value: datetime, locale_name: str) -> str:
    """A minute's text (a post page shows its comments' times on every visit)."""
    locale = _babel_locale(locale_name)
    pattern = get_datetime_format("medium", locale=locale)
    return pattern.replace("'", "").format(format_time(value, "HH:mm", tzinfo=timezone.utc, locale=locale),
                                           format_date(value, "medium", locale=locale))


@lru_cache(maxsize=4096)
def _count(value: int, locale: str) -> str:
    return format_decimal(value, locale=_babel_locale(locale))


def format_count(value: int | None) -> str:
    """12345 as "12,345" (per locale; a list page formats the same few counts often)."""
    return _count(value or 0, get_locale())


# --- the switch ------------------------------------------------------------------------

@blueprint.get("/language/<tag>")
async def set_language(tag: str):
    """Remember the visitor's language in a cookie and go back where they were."""
    locale = {code: name for name, (code, _own) in LANGUAGES.items()}.get(tag)
    if locale is None:
        abort(404)
    response = go_back(url_for("site.index"))
    response.set_cookie(COOKIE, locale, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True,
                        secure=current_app.config["ENV"] == "production")
    return response


def language_links() -> list[dict[str, Any]]:
    """The switch in the page header: each language, in its own name, with its link."""
    here = request.full_path.rstrip("?") if has_request_context() else "/"
    current = get_locale()
    return [
        {"tag": tag, "name": name, "current": locale == current,
         "url": url_for("site.set_language", tag=tag, next=here)}
        for locale, (tag, name) in LANGUAGES.items()
    ]


@blueprint.after_app_request
async def _vary(response):
    """Pages differ by language: shared caches (proxies) must keep them apart."""
    if response.mimetype in ("text/html", "application/atom+xml"):
        response.vary.update(("Accept-Language", "Cookie"))
    return response


# --- setting up -------------------------------------------------------------------------

def load_catalogs(directory: Path = TRANSLATIONS_DIR) -> dict[str, NullTranslations]:
    """Every language's compiled catalog, read once at start-up."""
    catalogs: dict[str, NullTranslations] = {}
    for locale in LANGUAGES:
        if locale == SOURCE_LOCALE:
            catalogs[locale] = NullTranslations()
            continue
        path = directory / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
        with path.open("rb") as mo:
            catalogs[locale] = Translations(mo, domain=DOMAIN)
    return catalogs


def _check_default(config: dict) -> str:
    value = config.get("DEFAULT_LOCALE") or SOURCE_LOCALE
    locale = match_locale(value)
    if locale is None:
        names = ", ".join(tag for tag, _name in LANGUAGES.values())
        raise ConfigError(f"QUARTBLOG_DEFAULT_LOCALE={value!r} is not a language of the site ({names})")
    return locale


def init_app(app: Quart) -> None:
    app.config["DEFAULT_LOCALE"] = _check_default(app.config)
    app.extensions["quartblog_translations"] = load_catalogs()
    env = app.jinja_env
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message: _translations().gettext(message),
        ngettext=lambda singular, plural, n: _translations().ngettext(singular, plural, n),
        newstyle=True,
    )
    env.globals.update(html_lang=html_lang, language_links=language_links, translate=translate,
                       field_message=field_message)
    env.filters.update(date=format_day, datetime=format_moment, number=format_count)

