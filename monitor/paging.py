"""Pages of a dated history, newest first: page 1 is the last `days` days up to today, page 2
the `days` before those, and so on back to the page of the earliest date. A page is named by
its number only, so its address carries no dates of care and no health information.

Pure: dates in, a window out; no Flask, no SQL."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .wording import plural


class NoSuchPage(Exception):
    """The page asked for is not a page number (400) or lies past the last page (404)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Window:
    number: int
    pages: int
    first: date  # the page's earliest day
    last: date  # its latest day

    @property
    def newer(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def older(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None

    def holds(self, day: date) -> bool:
        # Page 1 also holds anything dated after today (a patient ahead of the clinic's clock).
        return self.first <= day and (day <= self.last or self.number == 1)


def page_number(raw: str | None) -> int:
    """A page number from the query string: absent is page 1; anything but 1, 2, 3... is refused."""
    if raw is None:
        return 1
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or int(raw) < 1:
        raise NoSuchPage("Pages are numbered 1, 2, 3 and so on.", 400)
    return int(raw)


def window(number: int, today: date, earliest: date | None, days: int) -> Window:
    """Page `number` of a history whose earliest entry is on `earliest` (None: no entries)."""
    pages = 1 if earliest is None or earliest >= today else (today - earliest).days // days + 1
    if number > pages:
        raise NoSuchPage(f"There {'is' if pages == 1 else 'are'} only {plural(pages, 'page')}.", 404)
    last = today - timedelta(days=days * (number - 1))
    return Window(number, pages, last - timedelta(days=days - 1), last)


@dataclass(frozen=True)
class ListPage:
    """Page `number` of a list of `count` rows, `size` a page. A number past the end gives the
    last page: the list may have shrunk since its link was made (a triage list does, all day)."""

    number: int
    pages: int
    size: int
    count: int

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size

    @property
    def end(self) -> int:
        return min(self.start + self.size, self.count)

    def of(self, rows: list) -> list:
        return rows[self.start:self.end]


def list_page(number: int, count: int, size: int) -> ListPage:
    pages = max(1, -(-count // size))
    return ListPage(min(max(1, number), pages), pages, size, count)
