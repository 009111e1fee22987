"""One page of a list, as every listing service returns it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Page:
    """The items of one page, how many there are in all, the page's number and size."""

    items: list[dict]
    total: int
    page: int
    per_page: int

    def to_dict(self) -> dict:
        return self.__dict__.copy()
