"""The HTML site: server-rendered pages (blueprint ``site``).

Modules, by concern:

* ``identity``  the signed-in user (quart-auth cookie), loaded once per request; ``login_required``
* ``csrf``      a per-session token, checked on every state-changing request of the blueprint
* ``helpers``   paging, form errors, safe redirects and template filters shared by the views
* ``i18n``      the language of the pages (English, Simplified Chinese): Babel catalogs, dates, numbers
* ``views``     reading pages: home, post, tag, author, favorites, feed, search
* ``social``    comments, favorites, follows
* ``editor``    writing, editing, deleting posts (with a Markdown preview)
* ``accounts``  register, log in/out, settings
* ``recovery``  "Forgot password?" and the reset link it mails
* ``mail_links`` verifying an address (the banner, the link), one-click unsubscribe
* ``admin``     users and roles
* ``admin_jobs`` background jobs: counts, the failed ones with their errors, run again
* ``admin_subscribers`` the admin's list of subscribers, removal, CSV export
* ``subscriptions`` new posts by email: subscribe, confirm, unsubscribe (one-click)
* ``uploads``   images from the editor, avatars from the settings page
* ``feeds``     Atom feeds (site, tag, author)

Every view gets its data from ``quartblog.services`` with the request's session.
"""

from quart import Blueprint, Quart
from quart_auth import QuartAuth

from ..web.response_cache import vary_by

blueprint = Blueprint("site", __name__)


def init_app(app: Quart) -> None:
    """Cookies for the site (the API keeps its bearer tokens), then the blueprint."""
    production = app.config["ENV"] == "production"
    # Assigned, not setdefault: Quart already defines these keys (Secure off, no SameSite).
    app.config["SESSION_COOKIE_SECURE"] = production
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # In the config (not only QuartAuth's argument): the response cache reads it to
    # recognise signed-in requests.
    app.config.setdefault("QUART_AUTH_COOKIE_NAME", "quartblog_auth")
    QuartAuth(app, mode="cookie", cookie_secure=production, cookie_samesite="Lax",
              cookie_http_only=True)
    app.register_blueprint(blueprint)
    i18n.init_app(app)  # the language of the pages: Babel catalogs, Jinja's i18n extension
    vary_by(app, blueprint.name, i18n.get_locale)  # a cached page is in one language


from . import accounts, admin, admin_jobs, csrf, editor, feeds, helpers, i18n, identity, mail_links, recovery, seo, social, uploads, views  # noqa: E402,F401
from . import admin_subscribers, subscriptions  # noqa: E402,F401
