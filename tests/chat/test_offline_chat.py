"""The chat without a language model, end to end: POST /api/{user_id}/chat -> offline assistant ->
task tools -> create-task over HTTP -> the database, checked through the REST API."""

# ruff: noqa: RUF001  (Urdu text: its full stop is meant, not a look-alike)
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api_helpers import Account, create, hand_on
from chat_helpers import say, tasks_of, titles
from flask.testing import FlaskClient
from taskflow import catalogue
from taskflow.domain.when import say_day
from taskflow_dev.local.launch import wait_until


def test_the_original_designs_phrases(client: FlaskClient, alice: Account) -> None:
    groceries = say(client, alice, "Add a task to buy groceries")
    assert groceries["tool_calls"][0]["name"] == "add_task"
    added = groceries["tool_calls"][0]["result"]
    assert added["status"] == "created" and added["title"] == "buy groceries"
    assert "buy groceries" in groceries["response"]

    bills = say(client, alice, "I need to remember to pay bills")["tool_calls"][0]["result"]
    assert bills["title"] == "pay bills"
    say(client, alice, "Add a task to prepare the meeting agenda")
    say(client, alice, "Add a task to book a meeting room")

    everything = say(client, alice, "Show me all my tasks")
    assert everything["tool_calls"][0]["name"] == "list_tasks"
    assert len(everything["tool_calls"][0]["result"]) == 4
    for title in ("buy groceries", "pay bills", "prepare the meeting agenda"):
        assert title in everything["response"]

    completed = say(client, alice, f"Mark task {added['task_id']} as complete")
    assert completed["tool_calls"][0]["result"] == {
        "task_id": added["task_id"],
        "status": "completed",
        "title": "buy groceries",
    }

    pending = say(client, alice, "What's pending?")
    assert "buy groceries" not in pending["response"]
    assert titles(pending["tool_calls"][0]["result"]) == [
        "book a meeting room",
        "pay bills",
        "prepare the meeting agenda",
    ]
    done = say(client, alice, "What have I completed?")
    assert titles(done["tool_calls"][0]["result"]) == ["buy groceries"]

    say(client, alice, f"Change task {bills['task_id']} to 'Call mom tonight'")
    assert "Call mom tonight" in titles(tasks_of(client, alice))

    # Two tasks mention a meeting: the assistant asks which one and deletes nothing.
    question = say(client, alice, "Delete the meeting task")
    assert [call["name"] for call in question["tool_calls"]] == ["list_tasks"]
    assert "Which one?" in question["response"]
    meeting_ids = [t["id"] for t in question["tool_calls"][0]["result"]]
    assert len(meeting_ids) == 2
    assert all(f"#{task_id}" in question["response"] for task_id in meeting_ids)
    assert len(tasks_of(client, alice)) == 4

    deleted = say(client, alice, f"delete task {meeting_ids[0]}")
    assert deleted["tool_calls"][0]["result"]["status"] == "deleted"
    assert len(tasks_of(client, alice)) == 3
    # Now only one task mentions a meeting, so the words are enough.
    gone = say(client, alice, "Delete the meeting task")
    assert gone["tool_calls"][-1]["result"] == {
        "task_id": meeting_ids[1],
        "status": "deleted",
        "title": next(t for t in question["tool_calls"][0]["result"] if t["id"] == meeting_ids[1])[
            "title"
        ],
    }


def test_quick_add_details_reach_the_task(client: FlaskClient, alice: Account) -> None:
    answer = say(
        client,
        alice,
        "add buy milk tomorrow at 5pm every week p1 #groceries remind me 30 min before",
    )
    task_id = answer["tool_calls"][0]["result"]["task_id"]
    (task,) = [t for t in tasks_of(client, alice) if t["id"] == task_id]
    assert task["title"] == "buy milk"
    assert task["priority"] == "high"
    assert task["tags"] == ["groceries"]
    assert task["due_at"] is not None
    assert "FREQ=WEEKLY" in task["recurrence"]["rule"]
    assert [r["before_minutes"] for r in task["reminders"]] == [30]
    assert "high priority" in answer["response"] and "#groceries" in answer["response"]


def test_days_of_the_week_make_a_weekly_task(client: FlaskClient, alice: Account) -> None:
    """ "gym mon wed fri 7am" repeats on those days at 07:00 in the user's zone (Berlin)."""
    berlin = ZoneInfo("Europe/Berlin")
    for message, days, clock, said in [
        ("add gym mon wed fri 7am", "MO,WE,FR", "07:00", "every week on Monday, Wednesday"),
        ("add swim every mon wed fri at 7am", "MO,WE,FR", "07:00", "every week on Monday"),
        ("add gym on mondays and thursdays 6pm", "MO,TH", "18:00", "Monday and Thursday"),
        ("add climbing tue/thu 18:30", "TU,TH", "18:30", "Tuesday and Thursday"),
    ]:
        answer = say(client, alice, message)
        assert said in answer["response"] and "Please check" not in answer["response"], answer
        task_id = answer["tool_calls"][0]["result"]["task_id"]
        (task,) = [t for t in tasks_of(client, alice) if t["id"] == task_id]
        assert task["recurrence"]["rule"] == f"FREQ=WEEKLY;BYDAY={days}"
        local = datetime.fromisoformat(task["due_at"]).astimezone(berlin)
        assert f"{local:%H:%M}" == clock
        assert local.strftime("%a")[:2].upper() in days.split(",")
    # Without a verb it is not added, and the answer says what was not understood.
    bare = say(client, alice, "gym mon wed fri 7am")
    assert bare["response"].startswith('Sorry, I didn\'t understand "gym mon wed fri 7am"')
    assert bare["tool_calls"] == []
    # A repetition the grammar does not know is named, not silently dropped.
    odd = say(client, alice, "add gym every blursday at 7am")
    assert "I did not understand 'every blursday' as a repetition" in odd["response"]


def test_the_briefs_monthly_rent_example(client: FlaskClient, alice: Account) -> None:
    message = "add pay rent on the 1st every month p1 #home, remind me a day before"
    answer = say(client, alice, message)
    task_id = answer["tool_calls"][0]["result"]["task_id"]
    (task,) = [t for t in tasks_of(client, alice) if t["id"] == task_id]
    assert (task["title"], task["priority"], task["tags"]) == ("pay rent", "high", ["home"])
    assert task["due_date"] is not None and task["due_date"].endswith("-01")
    assert task["recurrence"]["rule"] == "FREQ=MONTHLY"
    assert [r["before_minutes"] for r in task["reminders"]] == [1440]
    assert "every month on the 1st" in answer["response"]
    assert "reminder 1 day before" in answer["response"]
    assert "Please check" not in answer["response"]


def test_repetitions_said_the_everyday_way(client: FlaskClient, alice: Account) -> None:
    """Every other weekday, a day of every month, a quarter: each repeats as said, and a quoted
    title keeps its words and loses its quotes."""
    for message, rule, said in [
        ("add gym every other tuesday at 7am", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "every 2 weeks"),
        (
            "add electricity on the last day of every month",
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "every month on the last day",
        ),
        ("add review budget every quarter", "FREQ=MONTHLY;INTERVAL=3", "every 3 months"),
    ]:
        answer = say(client, alice, message)
        assert said in answer["response"] and "Please check" not in answer["response"], answer
        task_id = answer["tool_calls"][0]["result"]["task_id"]
        (task,) = [t for t in tasks_of(client, alice) if t["id"] == task_id]
        assert task["recurrence"]["rule"] == rule
    quoted = say(client, alice, "add 'fix bike' in 2 hours")["tool_calls"][0]["result"]
    assert quoted["title"] == "fix bike"


def test_tags_reminders_and_due_changed_by_name(client: FlaskClient, alice: Account) -> None:
    dentist = say(client, alice, "add dentist friday 3pm #health remind me 1 hour before")
    task_id = dentist["tool_calls"][0]["result"]["task_id"]

    def task() -> dict[str, Any]:
        (found,) = [t for t in tasks_of(client, alice) if t["id"] == task_id]
        return found

    tagged = say(client, alice, "tag the dentist with #teeth and #urgent")
    assert task()["tags"] == ["health", "teeth", "urgent"]
    assert tagged["response"].endswith("#health, #teeth, #urgent.")
    removed = say(client, alice, "remove #urgent from the dentist")
    assert task()["tags"] == ["health", "teeth"]
    untagged = say(client, alice, "untag it", removed["conversation_id"])
    assert task()["tags"] == [] and "no tags" in untagged["response"]

    quiet = say(client, alice, "remove the reminder from the dentist")
    assert task()["reminders"] == [] and "no reminders" in quiet["response"]

    moved = say(client, alice, "change the due date of the dentist to next monday")
    monday = datetime.fromisoformat(task()["due_at"]).astimezone(ZoneInfo("Europe/Berlin"))
    assert (monday.strftime("%a %H:%M"), "due Mon" in moved["response"]) == ("Mon 15:00", True)
    cleared = say(client, alice, "remove the due date from the dentist")
    assert task()["due_at"] is None and "no due date" in cleared["response"]

    # A message that only looks like a tag change adds a task, as it says.
    added = say(client, alice, "add #work to my list")
    assert added["tool_calls"][0]["name"] == "add_task"
    assert task()["tags"] == []


def test_next_week_and_this_month_are_dates_in_the_users_zone(
    client: FlaskClient, alice: Account
) -> None:
    """Berlin: next week is its Monday to Sunday, this month is today to its last day."""
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    next_monday = today + timedelta(days=7 - today.weekday())
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    next_week = say(client, alice, "what's due next week")
    assert next_week["tool_calls"][0]["arguments"] == {
        "due_from": next_monday.isoformat(),
        "due_to": (next_monday + timedelta(days=6)).isoformat(),
        "sort": "due",
    }
    assert next_week["response"] == "You have no tasks due next week."
    create(client, alice, title="pay invoice", due=month_end.isoformat())
    month = say(client, alice, "show tasks due this month")
    assert month["tool_calls"][0]["arguments"]["due_to"] == month_end.isoformat()
    assert "pay invoice" in month["response"]


def test_the_when_before_the_what_adds_a_reminded_task(client: FlaskClient, alice: Account) -> None:
    answer = say(client, alice, "remind me tomorrow at 9am to call mom")
    (call,) = answer["tool_calls"]
    assert (call["name"], call["arguments"]["title"]) == ("add_task", "call mom")
    assert call["arguments"]["reminders"] == [{"before_minutes": 0}]
    berlin = datetime.fromisoformat(call["arguments"]["due"]).astimezone(ZoneInfo("Europe/Berlin"))
    tomorrow = datetime.now(ZoneInfo("Europe/Berlin")).date() + timedelta(days=1)
    assert (berlin.date(), f"{berlin:%H:%M}") == (tomorrow, "09:00")


def test_one_task_in_full(client: FlaskClient, alice: Account, bob: Account) -> None:
    added = say(client, alice, "add dentist friday 3pm p1 #health remind me 1 hour before")
    task_id = added["tool_calls"][0]["result"]["task_id"]
    described = client.put(
        f"{alice.tasks_url}/{task_id}",
        json={"description": "bring the x-rays"},
        headers=alice.headers,
    )
    assert described.status_code == 200, described.get_json()
    shown = say(client, alice, f"show task {task_id}")["response"].split("\n")
    assert shown[0].startswith(f"#{task_id} dentist · due Fri ")
    assert shown[0].endswith(" · high priority · #health")
    assert shown[1:] == ["bring the x-rays", "reminder 1 hour before"]
    by_name = say(client, alice, "tell me about the dentist")["response"]
    assert by_name.split("\n")[0] == shown[0]
    # Another user's task is not shown, nor said to exist.
    other = create(client, bob, title="bob's secret")
    refused = say(client, alice, f"show task {other['id']}")["response"]
    assert "secret" not in refused and f"task {other['id']} not found" in refused


def test_every_task_a_listing_names_at_once_and_undone_at_once(
    client: FlaskClient, alice: Account, bob: Account
) -> None:
    for title in ("old invoice", "old receipt", "keep me"):
        create(client, alice, title=title)
    create(client, bob, title="bob's done task")
    bob_before = tasks_of(client, bob)
    ids = {t["title"]: t["id"] for t in tasks_of(client, alice)}
    completed = say(client, alice, "complete all tasks tagged nothing")
    assert completed["response"] == "You have no pending tasks tagged #nothing."
    for title in ("old invoice", "old receipt"):
        say(client, alice, f"complete task {ids[title]}")

    cleared = say(client, alice, "clear completed")
    assert cleared["response"].startswith("Deleted 2 tasks: ")
    assert 'Say "undo" to bring them back.' in cleared["response"]
    assert titles(tasks_of(client, alice)) == ["keep me"]
    assert tasks_of(client, bob) == bob_before  # another user's tasks are never in the list

    undone = say(client, alice, "undo", cleared["conversation_id"])
    assert undone["response"].count("Brought back task #") == 2, undone["response"]
    assert titles(tasks_of(client, alice)) == ["keep me", "old invoice", "old receipt"]

    everything = say(client, alice, "mark everything as done")
    assert everything["response"].startswith("Say which tasks")
    assert everything["tool_calls"] == []
    assert not any(t["completed"] for t in tasks_of(client, alice) if t["title"] == "keep me")


def test_tasks_by_their_ids_at_once(client: FlaskClient, alice: Account, bob: Account) -> None:
    mine = [create(client, alice, title=title)["id"] for title in ("one", "two")]
    theirs = create(client, bob, title="bob's")["id"]
    answer = say(client, alice, f"complete tasks {mine[0]}, {mine[1]} and {theirs}")
    assert answer["response"].startswith(f'Marked 2 tasks as complete: task #{mine[0]} "one"')
    assert answer["response"].endswith(f"That did not work: task {theirs} not found")
    assert all(t["completed"] for t in tasks_of(client, alice))
    assert not any(t["completed"] for t in tasks_of(client, bob))
    # A message names at most a page of ids: one message never becomes hundreds of commands.
    flood = say(client, alice, "delete tasks " + ", ".join(str(n) for n in range(1, 400)))
    assert flood["response"] == "I act on at most 100 tasks at once; name fewer."
    assert flood["tool_calls"] == [] and len(tasks_of(client, alice)) == 2


def test_notes_title_and_a_reminder_in_a_while(client: FlaskClient, alice: Account) -> None:
    task_id = create(client, alice, title="dentist", due="2030-01-07T15:00:00+01:00")["id"]

    def task() -> dict[str, Any]:
        (found,) = [t for t in tasks_of(client, alice) if t["id"] == task_id]
        return found

    say(client, alice, "set the notes of the dentist to bring forms")
    noted = say(client, alice, "add a note to the dentist: insurance card too")
    assert task()["description"] == "bring forms\ninsurance card too"
    assert 'notes "bring forms / insurance card too"' in noted["response"]
    say(client, alice, "rename the dentist to orthodontist friday")
    assert (task()["title"], task()["due_at"]) == (
        "orthodontist friday",
        "2030-01-07T14:00:00+00:00",
    )
    before = datetime.now(UTC)
    say(client, alice, f"remind me about task {task_id} in 10 minutes")
    (reminder,) = task()["reminders"]
    at = datetime.fromisoformat(reminder["at"])
    assert before + timedelta(minutes=9) < at < datetime.now(UTC) + timedelta(minutes=11)


def test_a_note_ends_with_one_full_stop(client: FlaskClient, alice: Account) -> None:
    answer = say(client, alice, "add team meeting every weekday at 10")
    assert answer["response"].endswith("I read it as 10:00, not 22:00."), answer["response"]


def test_search_filters_and_sorting(client: FlaskClient, alice: Account) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    next_week = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    create(client, alice, title="buy oat milk", tags=["groceries"], due=next_week)
    create(client, alice, title="file taxes", priority="high", due=yesterday)
    create(client, alice, title="fix the fence", tags=["home"])

    milk = say(client, alice, "find tasks about milk")
    assert titles(milk["tool_calls"][0]["result"]) == ["buy oat milk"]
    overdue = say(client, alice, "what's overdue")
    assert titles(overdue["tool_calls"][0]["result"]) == ["file taxes"]
    assert "(overdue)" in overdue["response"]
    urgent = say(client, alice, "high priority tasks")
    assert titles(urgent["tool_calls"][0]["result"]) == ["file taxes"]
    home = say(client, alice, "tasks tagged home")
    assert titles(home["tool_calls"][0]["result"]) == ["fix the fence"]
    by_due = say(client, alice, "show my tasks sorted by due date")
    assert [t["title"] for t in by_due["tool_calls"][0]["result"]] == [
        "file taxes",
        "buy oat milk",
        "fix the fence",  # no due date: last
    ]


def test_it_says_so_when_it_does_not_understand(client: FlaskClient, alice: Account) -> None:
    create(client, alice, title="walk the dog")
    answer = say(client, alice, "what is the meaning of life")
    assert answer["response"].startswith("Sorry, I didn't understand")
    assert "You can say" in answer["response"]
    assert answer["tool_calls"] == []
    assert titles(tasks_of(client, alice)) == ["walk the dog"]


def test_a_completion_by_chat_travels_the_same_command_path(
    client: FlaskClient, alice: Account, broker: object
) -> None:
    task = create(
        client, alice, title="water plants", due="2030-01-01", recurrence={"rule": "FREQ=DAILY"}
    )
    say(client, alice, f"mark task {task['id']} as done")

    def completed_event_published() -> bool:
        return any(
            event.data["task_id"] == task["id"]
            for event in broker.events("com.taskflow.task.completed")  # type: ignore[attr-defined]
        )

    wait_until(completed_event_published, what="task.completed in the broker")


def test_a_user_never_reaches_another_users_tasks(
    client: FlaskClient, alice: Account, bob: Account
) -> None:
    secret = create(client, alice, title="alice's surprise party")
    listing = say(client, bob, "Show me all my tasks")
    assert listing["tool_calls"][0]["result"] == []
    assert "surprise" not in listing["response"]
    for attempt in (f"Mark task {secret['id']} as complete", f"delete task {secret['id']}"):
        answer = say(client, bob, attempt)
        assert "not found" in answer["response"]
    assert say(client, bob, "find tasks about surprise")["tool_calls"][0]["result"] == []
    (kept,) = tasks_of(client, alice)
    assert kept["completed"] is False


def test_what_the_parser_found_ambiguous_is_shown(client: FlaskClient, alice: Account) -> None:
    answer = say(client, alice, "add call the plumber at 5")
    assert answer["tool_calls"][0]["result"]["status"] == "created"
    assert "Please check:" in answer["response"]


def test_priority_and_due_changes(client: FlaskClient, alice: Account) -> None:
    task = create(client, alice, title="renew the passport")
    raised = say(client, alice, f"make task {task['id']} high priority")
    assert raised["tool_calls"][0]["arguments"] == {"task_id": task["id"], "priority": "high"}
    moved = say(client, alice, f"move task {task['id']} to 2031-03-14")
    assert moved["tool_calls"][0]["result"]["status"] == "updated"
    (changed,) = tasks_of(client, alice)
    assert (changed["priority"], changed["due_date"]) == ("high", "2031-03-14")
    unreadable = say(client, alice, f"move task {task['id']} to whenever")
    assert unreadable["response"].startswith("Sorry, I could not read a date")
    assert unreadable["tool_calls"] == []


def test_changing_a_task_to_options_only_keeps_its_title(
    client: FlaskClient, alice: Account
) -> None:
    """ "change the dentist to p1" raises the priority; the title does not become "p1"."""
    task = create(client, alice, title="dentist appointment", due="2031-03-14")
    raised = say(client, alice, "change the dentist to p1")
    assert raised["response"] == (
        f'Updated task #{task["id"]} "dentist appointment" — high priority.'
    ), raised["response"]
    moved = say(client, alice, f"change task {task['id']} to 2031-03-20 #health")
    assert "Please check" not in moved["response"]
    renamed = say(client, alice, f"change task {task['id']} to dentist checkup")
    assert renamed["tool_calls"][-1]["arguments"] == {
        "task_id": task["id"],
        "title": "dentist checkup",
    }
    (changed,) = tasks_of(client, alice)
    assert (changed["title"], changed["priority"], changed["due_date"], changed["tags"]) == (
        "dentist checkup",
        "high",
        "2031-03-20",
        ["health"],
    )


def test_moving_a_timed_task_to_a_day_keeps_its_time(client: FlaskClient, alice: Account) -> None:
    """ "move the dentist to thursday": 15:00 stays 15:00 (it became all-day before); "its"
    means the task in focus; a sentence starting with the task has its capital letter."""
    talk = _in_conversation(client, alice)
    task = create(client, alice, title="dentist", due="2031-03-11T15:00:00+01:00")  # Berlin
    moved = talk("move the dentist to 2031-03-13")
    assert moved["response"] == f'Updated task #{task["id"]} "dentist" — due Thu 13 Mar 2031 15:00.'
    (changed,) = tasks_of(client, alice)
    assert (changed["due_at"], changed["due_date"]) == ("2031-03-13T14:00:00+00:00", None)
    lowered = talk("change its priority to low")
    assert lowered["tool_calls"][-1]["arguments"] == {"task_id": task["id"], "priority": "low"}
    stopped = talk("stop repeating it")
    assert stopped["response"].startswith(f'Task #{task["id"]} "dentist" will not repeat')
    all_day = create(client, alice, title="passport", due="2031-03-11")
    talk(f"move task {all_day['id']} to 2031-03-12")
    (passport,) = [t for t in tasks_of(client, alice) if t["id"] == all_day["id"]]
    assert (passport["due_at"], passport["due_date"]) == (None, "2031-03-12")


def test_pushing_a_task_by_a_span_moves_its_due(client: FlaskClient, alice: Account) -> None:
    talk = _in_conversation(client, alice)
    task = create(client, alice, title="dentist", due="2031-03-11T15:00")  # Berlin
    pushed = talk("push the dentist by a day")
    assert (
        pushed["response"] == f'Updated task #{task["id"]} "dentist" — due Wed 12 Mar 2031 15:00.'
    )
    talk("delay it by 90 minutes")
    passport = create(client, alice, title="passport", due="2031-03-11")
    talk(f"postpone task {passport['id']} by 1 week")
    undated = create(client, alice, title="call mom")
    refused = talk(f"push task {undated['id']} by 2 hours")
    assert refused["response"].startswith(f'Task #{undated["id"]} "call mom" has no due time')
    assert refused["tool_calls"] == []
    due = {t["title"]: (t["due_at"], t["due_date"]) for t in tasks_of(client, alice)}
    assert due == {
        "dentist": ("2031-03-12T15:30:00+00:00", None),  # 16:30 in Berlin
        "passport": (None, "2031-03-18"),
        "call mom": (None, None),
    }


def test_relative_moves_postpone_push_and_move(client: FlaskClient, alice: Account) -> None:
    """ "postpone X to next week", "push X to tomorrow", "move X to 5pm" (the day stays), an
    undated task given a due, and a repeating task whose reply says how the series goes on."""
    berlin = ZoneInfo("Europe/Berlin")
    today = datetime.now(berlin).date()
    next_monday = today + timedelta(days=7 - today.weekday())
    talk = _in_conversation(client, alice)
    task = create(client, alice, title="dentist", due="2031-03-11T15:00")  # Berlin

    def due_of(task_id: int) -> tuple[str | None, str | None]:
        (found,) = [t for t in tasks_of(client, alice) if t["id"] == task_id]
        local = found["due_at"] and datetime.fromisoformat(found["due_at"]).astimezone(berlin)
        return (f"{local:%Y-%m-%d %H:%M}" if local else None), found["due_date"]

    talk("postpone the dentist to next week")
    assert due_of(task["id"]) == (f"{next_monday} 15:00", None)
    talk("push the dentist to tomorrow")
    assert due_of(task["id"]) == (f"{today + timedelta(days=1)} 15:00", None)
    moved = talk("move it to 5pm")
    assert due_of(task["id"]) == (f"{today + timedelta(days=1)} 17:00", None), moved["response"]
    talk("push it back a day")
    assert due_of(task["id"]) == (f"{today + timedelta(days=2)} 17:00", None)

    undated = create(client, alice, title="call mom")
    given = talk("postpone call mom to next week")
    assert given["response"] == (
        f'Updated task #{undated["id"]} "call mom" — due {say_day(next_monday, today=today)}.'
    )
    assert due_of(undated["id"]) == (None, next_monday.isoformat())

    gym = say(client, alice, "add gym mon wed fri 7am")["tool_calls"][0]["result"]["task_id"]
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    moved = talk(f"move gym to {saturday.isoformat()}")
    assert due_of(gym)[0] == f"{saturday} 07:00"
    # The series goes on on its days: the one after Saturday is Monday 07:00.
    following = saturday + timedelta(days=2)
    assert moved["response"].endswith(
        "It still repeats every week on Monday, Wednesday and Friday; the one after it is due "
        f"{when_said(following, '07:00', today)}."
    ), moved["response"]


def when_said(day: date, clock: str, today: date) -> str:
    """A due as the chat writes it: "Mon 7 Dec 07:00", the year only when not this year."""
    return f"{say_day(day, today=today)} {clock}"


def test_a_reminder_is_added_to_an_existing_task(client: FlaskClient, alice: Account) -> None:
    """ "remind me about the dentist 2 hours before" adds a reminder and keeps the others."""
    talk = _in_conversation(client, alice)
    task = create(
        client, alice, title="dentist", due="2031-03-11T15:00", reminders=[{"before_minutes": 1440}]
    )
    added = talk("remind me about the dentist 2 hours before")
    assert added["response"] == (
        f'Updated task #{task["id"]} "dentist" — reminder 1 day before, reminder 2 hours before.'
    ), added["response"]
    talk("remind me 10 minutes before")  # the task in focus
    (changed,) = tasks_of(client, alice)
    assert [r["before_minutes"] for r in changed["reminders"]] == [1440, 120, 10]


def test_a_task_is_found_by_name_beyond_the_users_recent_ones(
    client: FlaskClient, alice: Account
) -> None:
    """A user with more than 100 tasks acts on the oldest by name: the look-up is a query by
    title over all of the user's tasks, and the task's due and reminders are read by its id."""
    a_day = [{"before_minutes": 1440}]
    rent = create(client, alice, title="pay rent", due="2031-03-11T15:00", reminders=a_day)
    car = create(client, alice, title="rent a car", description="for the trip")
    landlord = create(client, alice, title="call the landlord", description="ask about the deposit")
    for number in range(110):
        create(client, alice, title=f"chore {number}")
    talk = _in_conversation(client, alice)

    pushed = talk("push pay rent by a day")
    assert pushed["response"] == (
        f'Updated task #{rent["id"]} "pay rent" — due Wed 12 Mar 2031 15:00.'
    ), pushed["response"]
    reminded = talk("remind me about pay rent 2 hours before")
    assert "reminder 1 day before, reminder 2 hours before" in reminded["response"], reminded
    moved = talk("move pay rent to 2031-03-20")
    assert moved["response"].endswith("due Thu 20 Mar 2031 15:00."), moved["response"]
    oldest = tasks_of(client, alice, page_size="100", sort="created")
    (task,) = [t for t in oldest if t["id"] == rent["id"]]
    assert task["due_at"] == "2031-03-20T14:00:00+00:00"
    assert [r["before_minutes"] for r in task["reminders"]] == [1440, 120]

    # Two titles have "rent": asked which, nothing done.
    question = talk("delete the rent task")
    assert "Which one?" in question["response"], question["response"]
    assert f"#{rent['id']} pay rent" in question["response"]
    assert f"#{car['id']} rent a car" in question["response"]
    assert [call["name"] for call in question["tool_calls"]] == ["list_tasks"]
    # A title said in full picks that task; a word found only in a description still works.
    assert talk("complete rent a car")["tool_calls"][-1]["result"]["task_id"] == car["id"]
    deleted = talk("delete the deposit task")
    assert deleted["tool_calls"][-1]["result"]["task_id"] == landlord["id"]


def _in_conversation(client: FlaskClient, account: Account) -> Callable[[str], dict]:
    """say() within one conversation, which holds the task in focus and what undo reverses."""
    conversation: dict[str, int] = {}

    def talk(message: str) -> dict:
        answer = say(client, account, message, conversation.get("id"))
        conversation["id"] = answer["conversation_id"]
        return answer

    return talk


def test_it_and_done_mean_the_task_the_conversation_is_about(
    client: FlaskClient, alice: Account
) -> None:
    talk = _in_conversation(client, alice)
    talk("add water the ferns")
    done = talk("done")
    assert [call["name"] for call in done["tool_calls"]] == ["complete_task"]
    assert "water the ferns" in done["response"]
    talk("add sharpen the knives")
    talk("mark it done")
    talk("add renew the car insurance")
    deleted = talk("delete it")
    assert deleted["tool_calls"][0]["name"] == "delete_task"
    assert "renew the car insurance" not in titles(tasks_of(client, alice, status="all"))
    assert {"water the ferns", "sharpen the knives"} <= set(
        titles(tasks_of(client, alice, status="completed"))
    )
    # A new conversation has no task in focus: it asks instead of guessing.
    fresh = say(client, alice, "delete it")
    assert fresh["tool_calls"] == []
    assert "Which task do you mean?" in fresh["response"]


def test_a_bare_snooze_snoozes_the_task_in_focus(client: FlaskClient, alice: Account) -> None:
    talk = _in_conversation(client, alice)
    task = talk("add call the plumber in 2 hours remind me 1 hour before")["tool_calls"][0]
    snoozed = talk("snooze")
    assert [call["name"] for call in snoozed["tool_calls"]] == ["snooze_reminder"]
    assert snoozed["tool_calls"][0]["arguments"]["task_id"] == task["result"]["task_id"]
    assert snoozed["response"] == (
        f'I\'ll remind you of task #{task["result"]["task_id"]} "call the plumber" in 10 minutes.'
    )
    longer = talk("snooze for 1 hour")
    assert longer["response"].endswith('"call the plumber" in 1 hour.'), longer["response"]


def test_greetings_thanks_and_tomorrow(client: FlaskClient, alice: Account) -> None:
    """A demanding user's small talk is answered as such, and "what's due tomorrow" lists
    tomorrow's tasks, in the user's zone."""
    hello = say(client, alice, "hi")
    assert hello["response"].startswith("Hello! You can say, for example:"), hello["response"]
    assert "didn't understand" not in hello["response"]
    assert say(client, alice, "thanks!")["response"] == "You're welcome."
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()  # alice's zone
    for title, day in (("today's", 0), ("tomorrow's", 1), ("later", 2)):
        create(
            client, alice, title=f"{title} errand", due=(today + timedelta(days=day)).isoformat()
        )
    for message in ("what's due tomorrow?", "show my tasks for tomorrow"):
        answer = say(client, alice, message)
        assert answer["response"].startswith("Your tasks due tomorrow (1):"), answer["response"]
        assert "tomorrow's errand" in answer["response"]
        assert "later errand" not in answer["response"]
    assert "today's errand" in say(client, alice, "what's on my plate today?")["response"]
    assert say(client, alice, "kal ke tasks dikhao")["response"].startswith(
        "Aap ke kal ke tasks (1):"
    )


def test_undo_reverses_the_assistants_last_change(client: FlaskClient, alice: Account) -> None:
    talk = _in_conversation(client, alice)
    added = talk("add call the bank friday p2")["tool_calls"][0]["result"]
    talk(f"delete task {added['task_id']}")
    assert "call the bank" not in titles(tasks_of(client, alice))
    undone = talk("undo")
    assert [call["name"] for call in undone["tool_calls"]] == ["restore_task"]
    (back,) = [t for t in tasks_of(client, alice) if t["title"] == "call the bank"]
    assert back["id"] == added["task_id"] and back["priority"] == "medium"
    # The next undo reverses the change before: the task it added goes away.
    again = talk("undo")
    assert [call["name"] for call in again["tool_calls"]] == ["delete_task"]
    assert "call the bank" not in titles(tasks_of(client, alice, status="all"))
    talk("add post the letter")
    talk("done")
    talk("undo")
    assert "post the letter" in titles(tasks_of(client, alice, status="pending"))
    nothing = say(client, alice, "undo")
    assert nothing["tool_calls"] == []
    assert "nothing" in nothing["response"].lower()


def series_of(client: FlaskClient, account: Account, title: str) -> list[tuple[int, bool]]:
    """(occurrence, completed) of every task of that title, in order."""
    return sorted(
        (task["recurrence"]["occurrence"], task["completed"])
        for task in tasks_of(client, account, status="all")
        if task["title"] == title
    )


def test_undo_of_a_repeating_completion_takes_the_next_occurrence_back(
    client: FlaskClient, alice: Account, broker: object, spawn_recurrence_url: str, settings
) -> None:
    talk = _in_conversation(client, alice)
    task = talk("add water the ferns tomorrow every day")["tool_calls"][0]["result"]
    done = talk("done")
    hand_on(broker, spawn_recurrence_url, settings.create_task_url, task["task_id"])
    assert series_of(client, alice, "water the ferns") == [(1, True), (2, False)]
    (successor,) = [
        t for t in tasks_of(client, alice, status="pending") if t["title"] == "water the ferns"
    ]
    # The completion's reply said when the next one is due, and it is.
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    next_day = say_day(date.fromisoformat(successor["due_date"]), today=today)
    assert done["response"].endswith(f"as complete. The next one is due {next_day}."), done[
        "response"
    ]

    undone = talk("undo")

    assert [call["name"] for call in undone["tool_calls"]] == ["uncomplete_task"]
    assert series_of(client, alice, "water the ferns") == [(1, False)]
    # The reply says what the list shows: the next occurrence went away with the completion.
    assert undone["response"].startswith(
        f'Marked task #{task["task_id"]} "water the ferns" as not done again. The next '
        f'occurrence that completing it had scheduled, task #{successor["id"]} "water the '
        'ferns" (due '
    ), undone["response"]
    assert undone["response"].endswith("), is withdrawn."), undone["response"]

    def withdrawal_published() -> bool:
        # What write-audit (the activity panel) and broadcast-update (live sync) consume.
        deleted = broker.events(catalogue.TASK_DELETED, catalogue.TOPIC_TASK_EVENTS)  # type: ignore[attr-defined]
        return successor["id"] in [event.data["task_id"] for event in deleted]

    wait_until(withdrawal_published, what="task.deleted of the next occurrence")
    # Completing it again hands the series on once: no duplicate of the next occurrence.
    talk("done")
    hand_on(broker, spawn_recurrence_url, settings.create_task_url, task["task_id"])
    assert series_of(client, alice, "water the ferns") == [(1, True), (2, False)]


def test_undo_keeps_a_next_occurrence_the_user_changed_and_says_so(
    client: FlaskClient, alice: Account, broker: object, spawn_recurrence_url: str, settings
) -> None:
    talk = _in_conversation(client, alice)
    task = talk("add feed the fish tomorrow every day")["tool_calls"][0]["result"]
    talk("done")
    hand_on(broker, spawn_recurrence_url, settings.create_task_url, task["task_id"])
    (successor,) = [
        t for t in tasks_of(client, alice, status="pending") if t["title"] == "feed the fish"
    ]
    changed = client.put(
        f"{alice.tasks_url}/{successor['id']}", json={"priority": "high"}, headers=alice.headers
    )
    assert changed.status_code == 200

    undone = talk("undo")

    assert series_of(client, alice, "feed the fish") == [(1, False), (2, False)]
    assert (
        f'The next occurrence, task #{successor["id"]} "feed the fish" (due ' in undone["response"]
    )
    assert "stays: it was changed after it was scheduled." in undone["response"]


def test_undo_before_the_next_occurrence_arrives_ends_the_same(
    client: FlaskClient, alice: Account, broker: object, spawn_recurrence_url: str, settings
) -> None:
    talk = _in_conversation(client, alice)
    task = talk("add stretch tomorrow at 7am every day")["tool_calls"][0]["result"]
    talk("done")
    undone = talk("undo")  # before the router delivered the completion to spawn-recurrence
    # Nothing was scheduled yet, and nothing will be: the reply claims no withdrawal.
    assert "next occurrence" not in undone["response"]

    hand_on(broker, spawn_recurrence_url, settings.create_task_url, task["task_id"])

    assert series_of(client, alice, "stretch") == [(1, False)]


def test_whats_due_this_week(client: FlaskClient, alice: Account) -> None:
    today = datetime.now(UTC).date()
    sunday = today + timedelta(days=6 - today.weekday())
    create(client, alice, title="due at the end of the week", due=sunday.isoformat())
    create(client, alice, title="due in a fortnight", due=(today + timedelta(days=14)).isoformat())
    create(client, alice, title="no date at all")
    answer = say(client, alice, "what's due this week?")
    assert titles(answer["tool_calls"][0]["result"]) == ["due at the end of the week"]
    assert "due this week" in answer["response"]


def test_a_pinned_past_date_leaves_the_title(client: FlaskClient, alice: Account) -> None:
    answer = say(client, alice, "add old invoice yesterday p3")
    task_id = answer["tool_calls"][0]["result"]["task_id"]
    (task,) = [t for t in tasks_of(client, alice) if t["id"] == task_id]
    assert task["title"] == "old invoice"
    assert task["due_date"] == (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    assert task["priority"] == "low"
    assert "is in the past" in answer["response"]


def test_replies_say_repeats_and_reminders_in_plain_words(
    client: FlaskClient, alice: Account
) -> None:
    answer = say(
        client, alice, "add water the garden tomorrow at 7am every 2 days remind me 1 day before"
    )
    assert "every 2 days" in answer["response"]
    assert "1 day before" in answer["response"]
    assert "FREQ" not in answer["response"] and "min before" not in answer["response"]
    say(client, alice, "add pay the rent on the 1st every month")
    listing = say(client, alice, "show my tasks")["response"]
    assert "every month on the 1st" in listing
    assert "FREQ" not in listing


def test_roman_urdu_add_show_done_and_delete(client: FlaskClient, bob: Account) -> None:
    talk = _in_conversation(client, bob)
    added = talk("doodh lena add karo")["tool_calls"][0]["result"]
    assert added["title"] == "doodh lena"
    talk("bijli ka bill dena add karo")
    shown = talk("mere tasks dikhao")
    assert titles(shown["tool_calls"][0]["result"]) == ["bijli ka bill dena", "doodh lena"]
    done = talk(f"task {added['task_id']} ho gaya")
    assert done["tool_calls"][0]["name"] == "complete_task"
    deleted = talk("bijli wala task delete karo")
    assert [call["name"] for call in deleted["tool_calls"]] == ["list_tasks", "delete_task"]
    assert titles(tasks_of(client, bob, status="all")) == ["doodh lena"]


def test_roman_urdu_is_answered_in_roman_urdu(client: FlaskClient, bob: Account) -> None:
    talk = _in_conversation(client, bob)
    added = talk("anday lena add karo")
    task_id = added["tool_calls"][0]["result"]["task_id"]
    assert added["response"] == f'Task #{task_id} "anday lena" add kar diya.'
    shown = talk("baqi tasks dikhao")["response"]
    assert shown.startswith("Aap ke baqi tasks (")
    assert f"#{task_id} anday lena" in shown
    assert talk("ye ho gaya")["response"] == f'Task #{task_id} "anday lena" mukammal ho gaya.'
    assert talk("undo karo")["response"] == f'Task #{task_id} "anday lena" phir se baqi kar diya.'
    assert talk("ise delete karo")["response"] == f'Task #{task_id} "anday lena" delete kar diya.'
    assert talk("wapas karo")["response"] == f'Task #{task_id} "anday lena" wapas le aaya.'
    missing = talk("chaye wala task mita do")["response"]
    assert missing == 'Mujhe "chaye" wala koi task nahin mila.'
    assert say(client, bob, "ise delete karo")["response"].startswith("Aap kaun sa task")
    confused = say(client, bob, "kuch bhi karo")["response"]
    assert confused.startswith('Maaf kijiye, main "kuch bhi karo" nahin samjha.')
    # English stays English in the same conversation: the language is read per message.
    assert talk("show my tasks")["response"].startswith("Your tasks (")
    # "kal" is tomorrow when a task is added.
    rent = talk("kiraya dena kal add karo")["tool_calls"][0]["result"]
    (stored,) = [t for t in tasks_of(client, bob) if t["id"] == rent["task_id"]]
    assert (stored["title"], stored["due_date"]) == (
        "kiraya dena",
        (datetime.now(UTC).date() + timedelta(days=1)).isoformat(),
    )


def test_urdu_script_is_understood_and_answered_in_urdu(client: FlaskClient, bob: Account) -> None:
    talk = _in_conversation(client, bob)
    added = talk("دودھ لینا شامل کرو")
    task_id = added["tool_calls"][0]["result"]["task_id"]
    assert added["tool_calls"][0]["result"]["title"] == "دودھ لینا"
    assert added["response"] == f'کام #{task_id} "دودھ لینا" شامل کر دیا۔'
    bill = talk("بجلی کا بل دینا کل شامل کرو")["response"]
    today = datetime.now(UTC).date()
    tomorrow = say_day(today + timedelta(days=1), today=today)
    assert bill.endswith(f"شامل کر دیا۔\ndue {tomorrow}")  # details on their own line
    shown = talk("میرے باقی کام دکھاؤ")
    assert titles(shown["tool_calls"][0]["result"]) == ["بجلی کا بل دینا", "دودھ لینا"]
    assert shown["response"].startswith("آپ کے باقی کام (2):")
    done = talk(f"کام {task_id} ہو گیا")
    assert done["tool_calls"][0]["arguments"] == {"task_id": task_id}
    assert done["response"] == f'کام #{task_id} "دودھ لینا" مکمل ہو گیا۔'
    assert talk("واپس کرو")["response"] == f'کام #{task_id} "دودھ لینا" پھر سے باقی کر دیا۔'
    deleted = talk("بجلی والا کام حذف کرو")
    assert [call["name"] for call in deleted["tool_calls"]] == ["list_tasks", "delete_task"]
    assert deleted["response"].endswith("حذف کر دیا۔")
    assert titles(tasks_of(client, bob, status="all")) == ["دودھ لینا"]
    confused = say(client, bob, "کچھ بھی")["response"]
    assert confused.startswith('معاف کیجیے، میں "کچھ بھی" نہیں سمجھا۔')
