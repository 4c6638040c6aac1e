"""Plain words for what tools store in technical form, for the assistant's replies: a repeat rule
(RFC 5545 RRULE) becomes "every 2 days", a reminder offset "1 day before". The web page has the
same wording in frontend/words.js."""

from __future__ import annotations

from datetime import date

_UNITS = {"HOURLY": "hour", "DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
_DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_WEEKDAYS = ["MO", "TU", "WE", "TH", "FR"]


def ordinal(number: int) -> str:
    if 11 <= number % 100 <= 13:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def describe_rule(rule: str, mode: str | None = None, due_day: date | None = None) -> str:
    """ "FREQ=DAILY;INTERVAL=2" -> "every 2 days"; "FREQ=MONTHLY;BYMONTHDAY=1" -> "every month
    on the 1st". A plain weekly or monthly rule repeats on its due's weekday or day of the
    month, so `due_day` (the local day of the due) names it: "every month on the 1st"."""
    text = rule.upper().removeprefix("RRULE:")
    parts = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
    unit = _UNITS.get(parts.get("FREQ", ""))
    if unit is None:
        return "repeats"
    interval = int(parts.get("INTERVAL", "1") or 1)
    words = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    if days := [day.lstrip("+-0123456789") for day in parts.get("BYDAY", "").split(",") if day]:
        if days == _WEEKDAYS:
            words = "every weekday" if interval == 1 else f"{words} on weekdays"
        else:
            words += " on " + _join([_DAYS.get(day, day) for day in days])
    if month_days := parts.get("BYMONTHDAY"):
        names = [
            "last day" if day == "-1" else ordinal(int(day)) for day in month_days.split(",") if day
        ]
        words += " on the " + _join(names)
    if due_day is not None and not ({"BYDAY", "BYMONTHDAY", "BYMONTH"} & parts.keys()):
        if unit == "week":
            words += f" on {due_day:%A}"
        elif unit == "month":
            words += f" on the {ordinal(due_day.day)}"
    if months := parts.get("BYMONTH"):
        words += " in " + _join([_MONTHS[int(month) - 1] for month in months.split(",")])
    if count := parts.get("COUNT"):
        words += f", {count} times"
    if until := parts.get("UNTIL"):
        words += f", until {until[:4]}-{until[4:6]}-{until[6:8]}"
    if mode == "completion":
        words += ", counted from completion"
    return words


def describe_minutes(minutes: int) -> str:
    """A span of minutes in the largest whole unit: 60 -> "1 hour", 90 -> "90 minutes"."""
    for size, name in ((10080, "week"), (1440, "day"), (60, "hour"), (1, "minute")):
        if minutes and minutes % size == 0:
            count = minutes // size
            return f"{count} {name}{'' if count == 1 else 's'}"
    return f"{minutes} minutes"


def describe_offset(minutes: int) -> str:
    """Minutes before a due, in the largest whole unit: 1440 -> "1 day before"."""
    if minutes == 0:
        return "at the due time"
    return f"{describe_minutes(minutes)} before"
