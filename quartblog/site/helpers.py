"""What the site's views share: paging, forms with errors, safe redirects, filters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup
from quart import current_app, g, has_request_context, redirect, render_template, request, url_for

from ..text.markdown import render_markdown
from ..services import paging
from ..services.errors import ValidationFailed
from . import blueprint


# --- paging -------------------------------------------------------------------------

def page_window(per_page: int | None = None) -> tuple[int, int]:
    """(limit, offset) of the requested page, in the configured page size (or ``per_page``);
    404 past any list's end (``services.paging.page_window``)."""
    return paging.page_window(request.args.get("page"), per_page or current_app.config["POSTS_PER_PAGE"])


# --- forms --------------------------------------------------------------------------

async def form_value(name: str, default: str = "") -> str:
    return (await request.form).get(name, default)


async def render_invalid(template: str, exc: ValidationFailed, **context: Any):
    """The form again, with the messages at each field and the input kept.

    The status is 422, so the request's session is rolled back: nothing is saved half.
    """
    context.setdefault("form", await request.form)
    return await render_template(template, errors=exc.errors, **context), 422


@blueprint.app_template_global()
def current_path() -> str:
    """This page's path and query, to come back to after an action."""
    query = request.query_string.decode()
    return request.path + (f"?{query}" if query else "")


def go_back(default: str):
    """303 to the page named by ``?next=`` (a same-site path), else to ``default``."""
    return redirect(safe_next(request.args.get("next")) or default, 303)


def form_errors(errors: dict[str, list], names: dict[str, str]) -> dict[str, list]:
    """The services' field names (the API's: ``tagList``, ``password`` ...) as a form names them."""
    return {names.get(name, name): messages for name, messages in errors.items()}


def safe_next(target: str | None) -> str | None:
    """A same-site path to go back to (open redirects refused), or None."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        site_url = current_app.config.get("SITE_URL")
        if parts.netloc != (urlsplit(site_url).netloc if site_url else request.host):
            return None
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


# --- template filters and globals (dates and numbers: i18n.py) -------------------------

@blueprint.app_template_filter("markdown")
def markdown_filter(source: str | None) -> Markup:
    return Markup(render_markdown(source or ""))


@blueprint.app_template_global("url_for")
def remembered_url_for(endpoint: str, **values: Any) -> str:
    """Templates' ``url_for``, each URL built once per request: a list page links the
    same tags and authors many times, and building a URL is the dearest call a
    template makes (werkzeug's MapAdapter.build)."""
    if not has_request_context():
        return url_for(endpoint, **values)
    try:
        key = (endpoint, *sorted(values.items()))
        hash(key)
    except TypeError:  # a list value: build it afresh
        return url_for(endpoint, **values)
    urls = g.setdefault("_urls", {})
    url = urls.get(key)
    if url is None:
        url = urls[key] = url_for(endpoint, **values)
    return url


@blueprint.app_template_global()
def page_links(page: int, pages: int, around: int = 2) -> list[int | None]:
    """The page numbers to link: the first, the last and ``around`` either side of
    ``page``; None where numbers are skipped. Its cost does not grow with ``pages``."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    links: list[int | None] = []
    for previous, n in zip([0, *shown], shown):
        if n - previous > 1:
            links.append(None)
        links.append(n)
    return links


@blueprint.app_template_global()
def page_url(page: int) -> str:
    """This page's URL with another page number (other query arguments kept)."""
    args = {**request.args.to_dict(), **(request.view_args or {}), "page": page}
    if page == 1:
        args.pop("page")
    return url_for(request.endpoint, **args)
