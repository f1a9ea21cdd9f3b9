"""How many words a reader sees in rendered HTML (the editor's counter, reading time)."""

from __future__ import annotations

import html
import re

from .cjk import CJK

_CJK_CHAR = re.compile(f"[{CJK}]")
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w")


def word_count(html_text: str) -> int:
    """Words a reader sees in rendered (sanitized) HTML: each CJK character counts one,
    other words are runs between spaces with at least one letter or digit."""
    text = html.unescape(_TAG.sub(" ", html_text))
    cjk = len(_CJK_CHAR.findall(text))
    return cjk + sum(1 for token in _CJK_CHAR.sub(" ", text).split() if _WORD.search(token))
