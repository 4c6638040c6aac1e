"""How a day or a moment is written for the user, the one home of that wording on the server:
"Fri 4 Dec", "Fri 4 Dec 18:00", in the user's time zone, 24-hour clock, the year only when it
is not this year ("Fri 1 Jan 2027 09:00"). The chat's replies and the quick-add parser's notes
use it; the web page writes the same with frontend/words.js (sayDay, sayMoment), so a due reads
the same in the task list and in the assistant's answer (a browser test compares them).

English names on purpose, not the locale's: the page, the replies and the notes are English.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def say_day(day: date, *, today: date | None = None) -> str:
    """ "Fri 4 Dec"; the year too when `today` is another year's, or not given."""
    text = f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
    if today is None or today.year != day.year:
        text += f" {day.year}"
    return text


def say_moment(moment: datetime, zone: ZoneInfo, *, now: datetime | None = None) -> str:
    """ "Fri 4 Dec 18:00": the moment on the wall clock of `zone`; the year as say_day."""
    local = moment.astimezone(zone)
    today = now.astimezone(zone).date() if now is not None else None
    return f"{say_day(local.date(), today=today)} {local:%H:%M}"
