"""Markdown to safe HTML: markdown-it-py (CommonMark, raw HTML off) then nh3.

Raw HTML in the source is escaped by the parser; nh3 (ammonia) then removes
anything dangerous that could still come through (``javascript:`` links, event
handlers) and marks every link ``rel="nofollow noopener"``.
"""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # "js-default": CommonMark with raw HTML disabled and dangerous link schemes refused.
    return MarkdownIt("js-default", {"linkify": False, "typographer": False}).enable("table").enable("strikethrough")


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener",
    )


@lru_cache(maxsize=512)
def render_markdown(source: str) -> str:
    """Safe HTML for a Markdown text.  Cached by the text itself (in each worker):
    the same post body is rendered once, and an edited body is a new key, so the
    cache is never stale."""
    return sanitize(_parser().render(source or ""))


def plain_summary(source: str, length: int = 200) -> str:
    """The start of a Markdown text as plain text, cut at a word."""
    text = html.unescape(nh3.clean(_parser().render(source or ""), tags=set()))
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    cut = text[:length].rsplit(" ", 1)[0]
    return cut + "…"
