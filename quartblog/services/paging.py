"""An offset page of a list, with what page links need: one shape for every list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import NotFound

# Past any real list (a billion rows): bigger offsets never reach the database, where they
# overflow its integers (PostgreSQL's bigint, SQLite's int64) and answer 500.
OFFSET_MAX = 1_000_000_000


def page_window(page: str | int | None, per_page: int) -> tuple[int, int]:
    """(limit, offset) of the page numbered ``page`` (a query string's ``page``), every paged
    view's one parser.  Absent, not a whole number or below 1: the first page (a link that
    lost its number).  Past the last page any list can have: NotFound, like any page past
    the end of its list."""
    try:
        number = max(int(page), 1) if page is not None else 1
    except ValueError:
        number = 1
    offset = (number - 1) * per_page
    if offset > OFFSET_MAX:
        raise NotFound("page")
    return per_page, offset


@dataclass
class Page:
    items: list[Any]
    total: int
    limit: int
    offset: int

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1 if self.limit else 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit)) if self.limit else 1

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total

    @property
    def has_prev(self) -> bool:
        return self.offset > 0
