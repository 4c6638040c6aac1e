"""How a day or a moment is written for the user (domain/when.py): the chat's replies and the
web page (frontend/words.js) write a due the same way, in the user's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from taskflow.domain.when import say_day, say_moment

KARACHI = ZoneInfo("Asia/Karachi")
NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)  # already 4 Dec in Karachi


def test_a_moment_is_written_on_the_users_wall_clock_24_hour() -> None:
    moment = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
    assert say_moment(moment, KARACHI, now=NOW) == "Fri 4 Dec 18:00"
    assert say_moment(moment, ZoneInfo("America/New_York"), now=NOW) == "Fri 4 Dec 08:00"


def test_the_year_is_written_only_when_it_is_not_this_year() -> None:
    assert say_day(date(2026, 12, 25), today=date(2026, 12, 4)) == "Fri 25 Dec"
    assert say_day(date(2027, 1, 1), today=date(2026, 12, 4)) == "Fri 1 Jan 2027"
    # New Year's Eve 20:00 UTC is already next year in Karachi: the year is the user's.
    eve = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    assert say_moment(eve, KARACHI, now=eve) == "Fri 1 Jan 01:00"
    assert say_moment(eve, KARACHI, now=NOW) == "Fri 1 Jan 2027 01:00"


def test_without_today_the_year_is_always_written() -> None:
    """The quick-add parser's notes explain a reading: the year is part of it."""
    assert say_day(date(2026, 12, 25)) == "Fri 25 Dec 2026"
    assert say_moment(datetime(2026, 12, 4, 4, 5, tzinfo=UTC), KARACHI) == "Fri 4 Dec 2026 09:05"
