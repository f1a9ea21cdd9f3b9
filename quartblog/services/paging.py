"""An offset page of a list, with what page links need: one shape for every list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
