"""URLs in and out: path converters, the site's public URL, trusted proxies.

* ``<id:name>`` is the one integer in any URL path, site and API alike: 1 .. 2**31-1
  (a 32-bit key on every database); anything else does not match (404), so no
  out-of-range number reaches a query.
* ``<article:slug>`` is a path segment that is not a reserved slug: ``/api/articles/feed``
  is the feed, and ``OPTIONS`` on it must not offer ``/api/articles/<slug>``'s PUT/DELETE.
* ``SiteUrlMixin`` (of the app class) builds every URL from ``SITE_URL`` when it is set (scheme, host and
  path prefix), never from the request's ``Host`` header: a cached feed can no
  longer carry a host some client made up.
* ``base_url()`` is where links in mails point when ``SITE_URL`` is unset
  (development): the host of the request that asked for the mail; the site's and
  the API's "forgot password" both pass it to the job that writes the link.
* ``PROXY_HOPS`` > 0 wraps the ASGI app in hypercorn's ``ProxyFixMiddleware``, so
  the client address (rate limits), scheme (secure cookies) and host are the ones the
  trusted proxies saw.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from hypercorn.middleware import ProxyFixMiddleware
from quart import Quart, current_app, request
from werkzeug.routing import BaseConverter, IntegerConverter, Map, MapAdapter

from ..types import ID_MAX
from ..services.posts import RESERVED_SLUGS


class IdConverter(IntegerConverter):
    """A positive 32-bit id: ``<id:comment_id>``."""

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=ID_MAX)


class ArticleSlugConverter(BaseConverter):
    """One path segment, except the slugs that other routes own (``feed``)."""

    regex = "(?!(?:%s)$)[^/]+" % "|".join(re.escape(slug) for slug in sorted(RESERVED_SLUGS))


class SiteUrlMixin:
    """For the app class: URLs from ``SITE_URL`` (see the module)."""

    def create_url_adapter(self, request) -> MapAdapter | None:
        site_url = self.config.get("SITE_URL")
        if request is None or not site_url:
            return super().create_url_adapter(request)  # type: ignore[misc]
        parts = urlsplit(site_url)
        return self.url_map.bind(  # type: ignore[attr-defined]
            parts.netloc,
            script_name=parts.path or request.root_path or None,
            url_scheme=parts.scheme,
            default_method=request.method,
            path_info=request.path,
            query_args=request.query_string.decode(),
        )


def base_url() -> str | None:
    """Where links in mails point when SITE_URL is unset (development): this request's host.
    None with SITE_URL set (the mail job builds every link from it)."""
    return None if current_app.config.get("SITE_URL") else request.host_url


def init_app(app: Quart) -> None:
    """Before any blueprint: rules are compiled with the converters known then."""
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["article"] = ArticleSlugConverter
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        app.asgi_app = ProxyFixMiddleware(app.asgi_app, mode="legacy", trusted_hops=hops)  # type: ignore[method-assign]
