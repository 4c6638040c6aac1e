"""Quick add: what a user types, and exactly what task it gives.

`now` is fixed at Tuesday 2026-11-24 15:00 in Berlin, so every expected date is exact.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from taskflow.domain.inputs import parse_task_fields
from taskflow.domain.model import Priority, Task
from taskflow.domain.quickadd import QuickAdd, parse_quick_add, parse_when
from taskflow.domain.recurrence import RecurrenceMode

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=BERLIN)  # a Tuesday


def parse(text: str, tz: ZoneInfo = BERLIN, now: datetime = NOW) -> QuickAdd:
    return parse_quick_add(text, tz, now=now)


def due_of(result: QuickAdd, tz: ZoneInfo = BERLIN) -> str | None:
    """The due as the user reads it: 'YYYY-MM-DD HH:MM' local, 'YYYY-MM-DD' all-day, or None."""
    assert result.due_at is None or result.due_date is None
    if result.due_at is not None:
        assert result.due_at.tzinfo == UTC
        return result.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return result.due_date.isoformat() if result.due_date else None


# (text, title, due, rule) — no ambiguity expected for any of these
PLAIN_PHRASES = [
    ("buy milk tomorrow", "buy milk", "2026-11-25", None),
    ("buy milk today", "buy milk", "2026-11-24", None),
    ("call mom tomorrow at 5pm", "call mom", "2026-11-25 17:00", None),
    ("call mom tomorrow at 17:00", "call mom", "2026-11-25 17:00", None),
    ("call mom at 5:30 pm tomorrow", "call mom", "2026-11-25 17:30", None),
    ("lunch with Ana at noon", "lunch with Ana", "2026-11-25 12:00", None),  # noon has passed
    ("send invoice at 6pm", "send invoice", "2026-11-24 18:00", None),
    ("send invoice 2pm", "send invoice", "2026-11-25 14:00", None),  # 2pm has passed today
    ("take out trash tonight", "take out trash", "2026-11-24 20:00", None),
    ("call mom monday 9am", "call mom", "2026-11-30 09:00", None),
    ("water plants tuesday", "water plants", "2026-11-24", None),  # today is Tuesday
    ("gym tuesday 7am", "gym", "2026-12-01 07:00", None),  # 7am today is gone
    ("pick up parcel friday", "pick up parcel", "2026-11-27", None),
    ("meet Sam next monday", "meet Sam", "2026-11-30", None),
    ("review budget next week", "review budget", "2026-11-30", None),
    ("plan holidays next month", "plan holidays", "2026-12-01", None),
    ("finish essay in 3 days", "finish essay", "2026-11-27", None),
    ("check the oven in 20 minutes", "check the oven", "2026-11-24 15:20", None),
    ("call back in 2 hours", "call back", "2026-11-24 17:00", None),
    ("renew lease in a week", "renew lease", "2026-12-01", None),
    ("pay rent on the 1st", "pay rent", "2026-12-01", None),
    ("ship it on the 31st", "ship it", "2026-12-31", None),  # November has no 31st
    ("dentist dec 5 at 10:30", "dentist", "2026-12-05 10:30", None),
    ("party 5 december", "party", "2026-12-05", None),
    ("renew passport jan 3", "renew passport", "2027-01-03", None),
    ("anniversary nov 24", "anniversary", "2026-11-24", None),  # today, not next year
    ("conference nov 23", "conference", "2027-11-23", None),  # yesterday: next year
    ("submit report 2026-12-05", "submit report", "2026-12-05", None),
    ("mow lawn this weekend", "mow lawn", "2026-11-28", None),
    ("stretch tomorrow morning", "stretch", "2026-11-25 09:00", None),
    ("dinner tonight at 9", "dinner", "2026-11-24 21:00", None),
    ("water plants every day at 9am", "water plants", "2026-11-25 09:00", "FREQ=DAILY"),
    ("weekly review every week", "weekly review", "2026-11-24", "FREQ=WEEKLY"),
    (
        "standup every weekday at 9:15",
        "standup",
        "2026-11-25 09:15",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    ),
    ("pay bills every month", "pay bills", "2026-11-24", "FREQ=MONTHLY"),
    ("renew domain every year", "renew domain", "2026-11-24", "FREQ=YEARLY"),
    ("clean bathroom every 2 weeks", "clean bathroom", "2026-11-24", "FREQ=WEEKLY;INTERVAL=2"),
    ("clean oven every other month", "clean oven", "2026-11-24", "FREQ=MONTHLY;INTERVAL=2"),
    ("team sync every monday and friday", "team sync", "2026-11-27", "FREQ=WEEKLY;BYDAY=MO,FR"),
    (
        "yoga every mon, wed and fri at 7pm",
        "yoga",
        "2026-11-25 19:00",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR",
    ),
    ("book club every 3rd friday", "book club", "2026-12-18", "FREQ=MONTHLY;BYDAY=+3FR"),
    ("board meeting every last thursday", "board meeting", "2026-11-26", "FREQ=MONTHLY;BYDAY=-1TH"),
    ("invoice every last day of the month", "invoice", "2026-11-30", "FREQ=MONTHLY;BYMONTHDAY=-1"),
    ("pay rent every 1st of the month", "pay rent", "2026-12-01", "FREQ=MONTHLY;BYMONTHDAY=1"),
    ("pills every day for 5 times", "pills", "2026-11-24", "FREQ=DAILY;COUNT=5"),
    (
        "course every tuesday until dec 15",
        "course",
        "2026-11-24",
        "FREQ=WEEKLY;UNTIL=20261215;BYDAY=TU",
    ),
    ("stretch every morning", "stretch", "2026-11-25 09:00", "FREQ=DAILY"),
    ("birthday every year on dec 5", "birthday", "2026-12-05", "FREQ=YEARLY"),
    ("buy flowers daily", "buy flowers", "2026-11-24", "FREQ=DAILY"),
    ("backup fortnightly", "backup", "2026-11-24", "FREQ=WEEKLY;INTERVAL=2"),
    ("review goals every week starting monday", "review goals", "2026-11-30", "FREQ=WEEKLY"),
    # Days said as a list or in the plural repeat, with or without "every" (now: Tue 15:00).
    ("gym mon wed fri 7am", "gym", "2026-11-25 07:00", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
    ("gym every mon wed fri at 7am", "gym", "2026-11-25 07:00", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
    ("gym on mondays and thursdays 6pm", "gym", "2026-11-26 18:00", "FREQ=WEEKLY;BYDAY=MO,TH"),
    ("swim tue/thu 18:30", "swim", "2026-11-24 18:30", "FREQ=WEEKLY;BYDAY=TU,TH"),
    ("call mom sat & sun", "call mom", "2026-11-28", "FREQ=WEEKLY;BYDAY=SA,SU"),
    ("yoga on sundays", "yoga", "2026-11-29", "FREQ=WEEKLY;BYDAY=SU"),
    ("piano every weds and fris", "piano", "2026-11-25", "FREQ=WEEKLY;BYDAY=WE,FR"),
    ("standup weekly on tue/thu 9:30", "standup", "2026-11-26 09:30", "FREQ=WEEKLY;BYDAY=TU,TH"),
    ("sun hat sale friday", "sun hat sale", "2026-11-27", None),  # one day is a date
    # Short day names: "tue", "thurs", "fri" anywhere; "mon", "wed", "sat", "sun" (also words)
    # only before a time or after on/by/due.
    ("dentist thu 3pm", "dentist", "2026-11-26 15:00", None),
    ("report due fri", "report", "2026-11-27", None),
    ("gym on sat", "gym", "2026-11-28", None),
    ("run sat 10am", "run", "2026-11-28 10:00", None),
    ("enjoy the sun", "enjoy the sun", None, None),
    ("standup weekdays 9am", "standup", "2026-11-25 09:00", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
    ("lie in on weekends", "lie in", "2026-11-28", "FREQ=WEEKLY;BYDAY=SA,SU"),
    # Every other day of the week starts at the next such day, not a fortnight on (a Tuesday).
    ("gym every other monday", "gym", "2026-11-30", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
    (
        "gym every other tuesday at 7am",
        "gym",
        "2026-12-01 07:00",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
    ),
    ("team sync biweekly on monday", "team sync", "2026-11-30", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
    ("backup every 2 weeks on saturday", "backup", "2026-11-28", "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA"),
    ("sync bi-weekly", "sync", "2026-11-24", "FREQ=WEEKLY;INTERVAL=2"),
    ("clean filters every fortnight", "clean filters", "2026-11-24", "FREQ=WEEKLY;INTERVAL=2"),
    ("review budget every quarter", "review budget", "2026-11-24", "FREQ=MONTHLY;INTERVAL=3"),
    ("review budget quarterly", "review budget", "2026-11-24", "FREQ=MONTHLY;INTERVAL=3"),
    # A day of every month, said the way people say it.
    ("pay bill on the 15th of every month", "pay bill", "2026-12-15", "FREQ=MONTHLY;BYMONTHDAY=15"),
    ("pay rent on the first of every month", "pay rent", "2026-12-01", "FREQ=MONTHLY;BYMONTHDAY=1"),
    (
        "electricity on the last day of every month",
        "electricity",
        "2026-11-30",
        "FREQ=MONTHLY;BYMONTHDAY=-1",
    ),
    (
        "book club the last friday of each month",
        "book club",
        "2026-11-27",
        "FREQ=MONTHLY;BYDAY=-1FR",
    ),
    # A part of the day after repeating days is their time.
    ("call mom every sunday evening", "call mom", "2026-11-29 18:00", "FREQ=WEEKLY;BYDAY=SU"),
    ("trash every mon and thu night", "trash", "2026-11-26 20:00", "FREQ=WEEKLY;BYDAY=MO,TH"),
    (
        "standup every weekday morning",
        "standup",
        "2026-11-25 09:00",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    ),
    ("book flights by end of month", "book flights", "2026-11-30", None),
    ("call mom this evening", "call mom", "2026-11-24 18:00", None),
    ("stretch in the morning", "stretch", "2026-11-25 09:00", None),  # 09:00 today is gone
    ("pay bill in a fortnight", "pay bill", "2026-12-08", None),
    ("run tomorrow morning at 7:30", "run", "2026-11-25 07:30", None),  # the part decides
    ("close the books end of the month", "close the books", "2026-11-30", None),
]


@pytest.mark.parametrize(("text", "title", "due", "rule"), PLAIN_PHRASES)
def test_phrase(text: str, title: str, due: str | None, rule: str | None) -> None:
    result = parse(text)
    assert result.title == title
    assert due_of(result) == due
    assert (result.recurrence.rule if result.recurrence else None) == rule
    assert result.ambiguities == []


def test_the_issue_example() -> None:
    result = parse("buy milk tomorrow at 5pm every week p1 #groceries remind me 30 min before")
    assert result.title == "buy milk"
    assert result.due_at == datetime(2026, 11, 25, 17, tzinfo=BERLIN)
    assert result.recurrence is not None
    assert result.recurrence.rule == "FREQ=WEEKLY"
    assert result.recurrence.mode is RecurrenceMode.FROM_DUE
    assert result.priority is Priority.HIGH
    assert result.tags == ["groceries"]
    assert [r.before for r in result.reminders] == [timedelta(minutes=30)]
    assert result.ambiguities == []


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("report p1", Priority.HIGH),
        ("report p2", Priority.MEDIUM),
        ("report P3", Priority.LOW),
        ("report p4", Priority.NONE),
        ("report !high", Priority.HIGH),
        ("report !low", Priority.LOW),
        ("report high priority", Priority.HIGH),
        ("report medium priority", Priority.MEDIUM),
    ],
)
def test_priorities(text: str, priority: Priority) -> None:
    result = parse(text)
    assert (result.title, result.priority) == ("report", priority)


def test_tags_with_hash_and_the_word_tag() -> None:
    result = parse("fix login bug #Work #urgent tag backend #work")
    assert result.title == "fix login bug"
    assert result.tags == ["work", "urgent", "backend"]


def test_every_bang_counts_from_completion() -> None:
    result = parse("haircut every! 3 weeks")
    assert result.title == "haircut"
    assert result.recurrence is not None
    assert result.recurrence.rule == "FREQ=WEEKLY;INTERVAL=3"
    assert result.recurrence.mode is RecurrenceMode.FROM_COMPLETION


def test_reminders_relative_and_absolute() -> None:
    result = parse(
        "taxes due dec 5 at 6pm remind me a day before remind me 2 hours before remind me at 8am"
    )
    assert result.title == "taxes"
    assert due_of(result) == "2026-12-05 18:00"
    relative = [r.before for r in result.reminders if r.before is not None]
    absolute = [r.at for r in result.reminders if r.at is not None]
    assert relative == [timedelta(days=1), timedelta(hours=2)]
    assert absolute == [datetime(2026, 12, 5, 8, tzinfo=BERLIN)]


def test_reminder_at_a_time_without_due_is_the_next_such_time() -> None:
    result = parse("stretch remind me at 8am")
    assert result.title == "stretch"
    assert due_of(result) is None
    assert [r.at for r in result.reminders] == [datetime(2026, 11, 25, 8, tzinfo=BERLIN)]


@pytest.mark.parametrize(
    "text",
    [
        'read "Tuesday with Morrie" tomorrow',
        "read 'Tuesday with Morrie' tomorrow",
        "read \u201cTuesday with Morrie\u201d tomorrow",
        "read \u2018Tuesday with Morrie\u2019 tomorrow",
    ],
)
def test_quoted_words_stay_in_the_title(text: str) -> None:
    result = parse(text)
    assert result.title == "read Tuesday with Morrie"
    assert due_of(result) == "2026-11-25"


def test_an_apostrophe_is_no_quote() -> None:
    result = parse("mom's birthday party at Sam's friday")
    assert result.title == "mom's birthday party at Sam's"
    assert due_of(result) == "2026-11-27"


def test_text_after_double_slash_is_the_description() -> None:
    result = parse("write report monday // include Q3 numbers")
    assert (result.title, result.description) == ("write report", "include Q3 numbers")
    assert due_of(result) == "2026-11-30"


def test_words_that_only_look_like_keywords_stay() -> None:
    result = parse("attend ontology meeting")
    assert result.title == "attend ontology meeting"
    assert due_of(result) is None


# -- ambiguities: a default is chosen AND the user is told -----------------------------------


def test_day_month_order_in_europe() -> None:
    result = parse("meeting 03/04")
    assert due_of(result) == "2027-04-03"
    assert result.ambiguities == [
        "'03/04' could be read either way; I read it as Sat 3 Apr 2027 (day/month), "
        "not 4 March. Write 2027-04-03 to be sure."
    ]


def test_month_day_order_in_america() -> None:
    result = parse("meeting 03/04", tz=NEW_YORK, now=NOW.astimezone(NEW_YORK))
    assert due_of(result, NEW_YORK) == "2027-03-04"
    assert "(month/day), not 3 April" in result.ambiguities[0]


def test_a_time_with_minutes_but_no_am_pm_is_read_as_a_bare_hour_is() -> None:
    result = parse("meeting at 3:30")
    assert due_of(result) == "2026-11-24 15:30"
    assert result.ambiguities == ["'at 3:30' has no am/pm; I read it as 15:30, not 03:30."]
    assert due_of(parse("meeting at 03:30")) == "2026-11-25 03:30"  # a leading zero is 24-hour


def test_a_month_first_date_in_europe_is_read_and_said() -> None:
    result = parse("dentist 12/20 at 10am")
    assert (result.title, due_of(result)) == ("dentist", "2026-12-20 10:00")
    assert result.ambiguities == [
        "'12/20' is no date as day/month; I read it as Sun 20 Dec 2026 (month/day)."
    ]


def test_unambiguous_numeric_date_is_not_reported() -> None:
    result = parse("meeting 13/04")
    assert due_of(result) == "2027-04-13"
    assert result.ambiguities == []


def test_time_without_am_pm() -> None:
    result = parse("gym at 5")
    assert due_of(result) == "2026-11-24 17:00"
    assert result.ambiguities == ["'at 5' has no am/pm; I read it as 17:00, not 05:00."]


def test_morning_hours_without_am_pm() -> None:
    result = parse("gym monday at 8")
    assert due_of(result) == "2026-11-30 08:00"
    assert result.ambiguities == ["'at 8' has no am/pm; I read it as 08:00, not 20:00."]


def test_next_weekday_still_in_this_week() -> None:
    result = parse("call bob next friday")
    assert due_of(result) == "2026-11-27"
    assert result.ambiguities == [
        "'next friday' could mean Fri 27 Nov 2026 or Fri 4 Dec 2026; "
        "I chose Fri 27 Nov 2026, the first one."
    ]


def test_explicit_past_date_is_kept_and_reported() -> None:
    result = parse("nap today at 2pm")
    assert due_of(result) == "2026-11-24 14:00"
    assert result.ambiguities == [
        "'today at 2pm' is in the past (Tue 24 Nov 2026 14:00); I kept it."
    ]


def test_yesterday_is_a_pinned_past_date_taken_out_of_the_title() -> None:
    result = parse("old invoice yesterday p3")
    assert result.title == "old invoice"
    assert due_of(result) == "2026-11-23"
    assert result.priority.value == "low"
    assert result.ambiguities == ["'yesterday' is in the past (Mon 23 Nov 2026); I kept it."]


def test_two_dates_use_the_last_and_say_so() -> None:
    result = parse("plan friday party tomorrow")
    assert result.title == "plan friday party"
    assert due_of(result) == "2026-11-25"
    assert result.ambiguities == [
        "More than one date was given; I used 'tomorrow' and kept 'friday' in the title."
    ]


def test_conflicting_priorities() -> None:
    result = parse("report p2 p3")
    assert result.priority is Priority.MEDIUM
    assert result.ambiguities == [
        "Several priorities were given (p2, p3); I used the first one: medium."
    ]


def test_relative_reminder_without_due_is_left_out_and_reported() -> None:
    result = parse("call the bank remind me 30 min before")
    assert result.title == "call the bank"
    assert result.reminders == []
    assert result.ambiguities == [
        "'remind me 30 min before' needs a due date to count from, and the task has none; "
        "I left the reminder out."
    ]


def test_reminder_in_the_past_is_left_out_and_reported() -> None:
    result = parse("call dad at 17:00 remind me at 8am")
    assert due_of(result) == "2026-11-24 17:00"
    assert result.reminders == []
    assert "would be in the past (Tue 24 Nov 2026 08:00)" in result.ambiguities[0]


def test_only_a_date_keeps_the_text_as_title_and_says_so() -> None:
    result = parse("tomorrow at 5pm")
    assert result.title == "tomorrow at 5pm"
    assert due_of(result) == "2026-11-25 17:00"
    assert len(result.ambiguities) == 1


def test_not_a_real_date() -> None:
    result = parse("deadline 2026-02-30")
    assert due_of(result) is None
    assert result.title == "deadline 2026-02-30"
    assert result.ambiguities == ["'2026-02-30' is not a real date; I kept it in the title."]


# -- the result feeds the command path unchanged ------------------------------------------------


def test_command_fields_make_the_same_task() -> None:
    result = parse("pay rent every 1st of the month at 9am p2 #home remind me 1 hour before")
    fields = parse_task_fields(result.as_command_fields(), BERLIN, now=NOW)
    task = Task.new("alice", now=NOW, **fields)  # type: ignore[arg-type]
    assert task.title == "pay rent"
    assert task.due_at == datetime(2026, 12, 1, 9, tzinfo=BERLIN)
    assert task.priority is Priority.MEDIUM
    assert task.tags == ["home"]
    assert [r.before for r in task.reminders] == [timedelta(hours=1)]
    assert task.recurrence is not None
    assert task.recurrence.rule == "FREQ=MONTHLY;BYMONTHDAY=1"


def test_first_due_of_a_daily_series_across_dst_stays_local() -> None:
    # Saturday 2026-03-28 10:00 in Berlin: 9am has passed, the series starts Sunday 9am CEST
    result = parse("stretch every day at 9am", now=datetime(2026, 3, 28, 10, tzinfo=BERLIN))
    assert result.due_at == datetime(2026, 3, 29, 7, tzinfo=UTC)
    assert due_of(result) == "2026-03-29 09:00"


def test_all_day_today_follows_the_users_zone() -> None:
    # 01:00 on Wednesday in Berlin is still Tuesday in UTC
    result = parse("standup today", now=datetime(2026, 11, 25, 1, tzinfo=BERLIN))
    assert result.due_date == date(2026, 11, 25)


def test_parse_when_reads_a_due_alone_without_a_title_note() -> None:
    result = parse_when("friday at 5", BERLIN, now=NOW)
    assert due_of(result) == "2026-11-27 17:00"
    assert result.title == ""
    assert result.ambiguities == ["'at 5' has no am/pm; I read it as 17:00, not 05:00."]


def test_next_weekend_is_reported() -> None:
    result = parse("hike next weekend")
    assert (result.title, due_of(result)) == ("hike", "2026-11-28")
    assert result.ambiguities == [
        "'next weekend' could mean Sat 28 Nov 2026 or Sat 5 Dec 2026; "
        "I chose Sat 28 Nov 2026, the first one."
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("stretch every 0 days", "INTERVAL must be a whole number from 1 to 1000"),
        ("pay every 32nd", "the rule never happens"),
        ("pills every day for 0 times", "COUNT must be a whole number from 1 to 1000"),
    ],
)
def test_unusable_repetition_is_reported_not_raised(text: str, reason: str) -> None:
    result = parse(text)
    assert result.recurrence is None
    assert len(result.ambiguities) == 1
    assert f"({reason}); the task does not repeat." in result.ambiguities[0]


def test_until_in_the_past_is_reported() -> None:
    result = parse("standup every day until 2025-01-01")
    assert result.recurrence is not None
    assert result.recurrence.rule == "FREQ=DAILY;UNTIL=20250101"
    assert result.ambiguities == ["'until 2025-01-01' is in the past: the task will not repeat."]


def test_an_hour_that_does_not_exist_is_not_a_time() -> None:
    result = parse("table for 4 at 25")
    assert (result.title, due_of(result)) == ("table for 4 at 25", None)


def test_a_tag_too_long_is_left_out_and_reported() -> None:
    result = parse(f"sort photos #holiday #{'x' * 51}")
    assert (result.title, result.tags) == ("sort photos", ["holiday"])
    assert result.ambiguities == [
        f"I left out '#{'x' * 51}': '{'x' * 51}' is longer than 50 characters."
    ]


def test_the_briefs_monthly_example() -> None:
    result = parse("pay rent on the 1st every month p1 #home, remind me a day before")
    assert (result.title, due_of(result)) == ("pay rent", "2026-12-01")
    assert result.recurrence is not None and result.recurrence.rule == "FREQ=MONTHLY"
    assert (result.priority, result.tags) == (Priority.HIGH, ["home"])
    assert [r.before for r in result.reminders] == [timedelta(days=1)]
    assert result.ambiguities == []


@pytest.mark.parametrize(
    ("text", "unread"),
    [("gym every blursday at 7am", "every blursday"), ("read every book", "every book")],
)
def test_a_repetition_not_understood_is_said(text: str, unread: str) -> None:
    result = parse(text)
    assert result.recurrence is None
    assert unread in result.title
    assert result.ambiguities == [
        f"I did not understand '{unread}' as a repetition, so the task does not repeat and the "
        "words stay in the title; say for example 'every monday', 'mon wed fri' or "
        "'every 2 weeks'."
    ]
