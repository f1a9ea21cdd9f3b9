"""Search: the text a post is searched by (``posts.search_text``) and the query's terms.

One rule on every database (docs/architecture.md, "Search").  A post's title and body
are normalized (Unicode NFKC, case folded) and cut into tokens kept in
``posts.search_text``, separated by single spaces (with one before the first and one
after the last):

* a run of letters and digits that is not CJK is one token (``mariadb``, ``python3``);
* a run of CJK characters (Chinese, Japanese kana, Korean), which has no spaces between
  words, becomes one token per character: that character and the next two, padded with
  ``_`` at the end of the run (``数据库是`` gives ``数据库 据库是 库是_ 是__``).  Every token
  is then 3 characters long, the shortest word InnoDB's FULLTEXT index keeps.

A query is cut the same way into terms, and a post matches when every term is found:
a Latin term at the start of a word (``datab`` finds ``database``), a CJK term anywhere
in a run (``数据库`` finds ``我喜欢数据库和Python``).  The exact test is a LIKE on
``search_text`` (the same pattern on every database):

* Latin term ``w``, CJK term of 1 or 2 characters: ``% w%`` (a token starting with it);
* CJK term of 3 or more characters: ``% t1 t2 … %``, its own tokens, consecutive.

An index only narrows the rows that LIKE then decides, so it can never change an answer:
MariaDB's FULLTEXT index (``MATCH … AGAINST ('+term*' IN BOOLEAN MODE)``, for the terms
it can answer: see ``Term.match``), PostgreSQL's trigram index (pg_trgm, which serves
LIKE itself); SQLite reads the column.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .cjk import CJK

_TOKENS = re.compile(rf"([{CJK}]+)|([^\W_{CJK}]+)")
PAD = "_"
TOKEN_MAX = 60        # InnoDB does not index words longer than 84 characters
TERMS_MAX = 8         # terms of a query that count
MATCH_TOKENS_MAX = 8  # tokens of one CJK term given to MATCH (more would not narrow much)
FULLTEXT_MIN = 3      # innodb_ft_min_token_size (the server's default)
# InnoDB's default stop words are not in its index: a term that could be the start of
# one (``the``, ``abo``) is left to LIKE alone.
_INNODB_STOPWORDS = (
    "a about an are as at be by com de en for from how i in is it la of on or that the this "
    "to was what when where who will with und www").split()
_STOPWORD_PREFIXES = frozenset(w[:n] for w in _INNODB_STOPWORDS for n in range(1, len(w) + 1))


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _grams(run: str) -> list[str]:
    padded = run + PAD * 2
    return [padded[i:i + 3] for i in range(len(run))]


def tokens(text: str) -> list[str]:
    """The tokens of ``text``, in order (see the module's docstring)."""
    out: list[str] = []
    for cjk, word in _TOKENS.findall(_normalize(text or "")):
        if cjk:
            out.extend(_grams(cjk))
        else:
            out.append(word[:TOKEN_MAX])
    return out


def search_text(title: str | None, body: str | None) -> str:
    """What ``posts.search_text`` holds for a post with this title and body."""
    return " " + " ".join(tokens(title or "") + tokens(body or "")) + " "


@dataclass(frozen=True, slots=True)
class Term:
    """One word of a query: ``like`` is the text a matching post's ``search_text``
    contains (to put between ``%``), ``match`` the FULLTEXT boolean-mode expression
    that finds at least those posts, or None when the index cannot answer it."""

    like: str
    match: str | None


def query_terms(query: str) -> list[Term]:
    """The terms of a query (at most ``TERMS_MAX``, duplicates dropped)."""
    terms: dict[str, Term] = {}
    for cjk, word in _TOKENS.findall(_normalize(query or "")):
        if cjk:
            if len(cjk) <= 2:
                term = Term(" " + cjk, f"+{cjk}*")
            else:
                grams = [cjk[i:i + 3] for i in range(len(cjk) - 2)]
                term = Term(" " + " ".join(grams) + " ",
                            " ".join(f"+{g}" for g in grams[:MATCH_TOKENS_MAX]))
        else:
            word = word[:TOKEN_MAX]
            usable = len(word) >= FULLTEXT_MIN and word not in _STOPWORD_PREFIXES
            term = Term(" " + word, f"+{word}*" if usable else None)
        terms.setdefault(term.like, term)
        if len(terms) >= TERMS_MAX:
            break
    return list(terms.values())
