"""The task API end to end: the API app, create-task as a real process over real HTTP, and the
database both read."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from api_helpers import Account, create, hand_on, sign_up

LONG_TITLE = "x" * 10_000


def _list(client, account: Account, **params) -> dict:
    response = client.get(account.tasks_url, query_string=params, headers=account.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _titles(page: dict) -> list[str]:
    return [task["title"] for task in page["items"]]


def test_a_created_task_is_stored_with_every_field(client, alice):
    response = client.post(
        alice.tasks_url,
        json={
            "title": "Water the plants",
            "description": "the big ones too",
            "priority": "p1",
            "tags": ["Home", "garden"],
            "due": "2030-03-05T18:00:00",
            "reminders": [{"before_minutes": 30}],
            "recurrence": {"rule": "FREQ=WEEKLY", "mode": "due"},
        },
        headers=alice.headers,
    )
    assert response.status_code == 201
    task = response.get_json()
    assert response.headers["Location"].endswith(f"{alice.tasks_url}/{task['id']}")
    assert task["title"] == "Water the plants"
    assert task["priority"] == "high"
    assert task["tags"] == ["home", "garden"]
    # Alice lives in Berlin: 18:00 local in March is 17:00 UTC.
    assert task["due_at"] == "2030-03-05T17:00:00+00:00"
    assert task["reminders"][0]["before_minutes"] == 30
    assert task["recurrence"]["rule"] == "FREQ=WEEKLY"
    fetched = client.get(alice.task_url(task["id"]), headers=alice.headers)
    assert fetched.get_json() == task


def test_an_all_day_due_stays_a_date(client, alice):
    task = create(client, alice, title="pay rent", due="2030-04-01")
    assert (task["due_date"], task["due_at"]) == ("2030-04-01", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": LONG_TITLE}, "title"),
        ({"title": ""}, "title"),
        ({"description": "no title"}, "title"),
        ({"title": 7}, "title"),
        ({"title": "t", "priority": "urgent"}, "priority"),
        ({"title": "t", "due": "next blursday"}, "due"),
        ({"title": "t", "due": "2030-02-30"}, "due"),
        (
            {"title": "t", "due": "2030-01-01", "recurrence": {"rule": "FREQ=SOMETIMES"}},
            "recurrence",
        ),
        ({"title": "t", "reminders": [{"at": "2001-01-01T00:00:00+00:00"}]}, "reminders"),
        ({"title": "t", "reminders": [{"when": "soon"}]}, "reminders[0].when"),
        ({"title": "t", "reminders": [{"before_minutes": "30"}]}, "reminders[0].before_minutes"),
        ({"title": "t", "tags": "home"}, "tags"),
        ({"title": "t", "tags": ["ok", 3]}, "tags[1]"),
        ({"title": "t", "recurrence": {"mode": "due"}}, "recurrence.rule"),
        ({"title": "t", "colour": "red"}, "colour"),
        # Past the REST edge's shape check (JSON types), refused by create-task's door against
        # the command schema: still a 422 naming the field as the client wrote it.
        (
            {"title": "t", "due": "2030-01-01", "recurrence": {"rule": "FREQ=DAILY", "mode": "x"}},
            "recurrence.mode",
        ),
        (
            {"title": "t", "due": "2030-01-01", "reminders": [{"before_minutes": -5}]},
            "reminders.0.before_minutes",
        ),
    ],
)
def test_bad_task_input_is_422_naming_the_field_and_creates_nothing(client, bob, body, field):
    response = client.post(bob.tasks_url, json=body, headers=bob.headers)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["field"] == field
    assert error["reason"]
    assert _list(client, bob)["total"] == 0


@pytest.mark.parametrize(
    "body", ["not json", '{"title": "unterminated', "", "[" * 30_000 + "]" * 30_000]
)
def test_a_body_that_is_not_json_is_400(client, bob, body):
    response = client.post(
        bob.tasks_url, data=body, content_type="application/json", headers=bob.headers
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "body"
    assert _list(client, bob)["total"] == 0


def test_a_json_body_that_is_not_an_object_is_422(client, bob):
    response = client.post(bob.tasks_url, json=["title"], headers=bob.headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "body"


def test_update_changes_only_the_fields_sent_and_null_clears(client, alice):
    task = create(client, alice, title="draft", description="keep me", due="2030-05-01")
    response = client.put(
        alice.task_url(task["id"]),
        json={"title": "final", "due": None, "tags": ["work"]},
        headers=alice.headers,
    )
    assert response.status_code == 200
    updated = response.get_json()
    assert updated["title"] == "final"
    assert updated["description"] == "keep me"
    assert (updated["due_date"], updated["due_at"]) == (None, None)
    assert updated["tags"] == ["work"]
    cleared = client.put(alice.task_url(task["id"]), json={"tags": None}, headers=alice.headers)
    assert cleared.get_json()["tags"] == []


def test_reminders_sent_back_as_the_api_showed_them_are_kept(client, alice):
    task = create(
        client,
        alice,
        title="dentist",
        due="2030-02-01T10:00:00",
        reminders=[{"before_minutes": 60}, {"at": "2030-01-31T18:00:00"}],
    )
    response = client.put(
        alice.task_url(task["id"]),
        json={"title": "dentist (moved)", "reminders": task["reminders"]},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["reminders"] == task["reminders"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": LONG_TITLE}, "title"),
        ({"priority": "whenever"}, "priority"),
        ({"due": "yesterday-ish"}, "due"),
        ({"recurrence": {"rule": "FREQ=DAILY;BYHOUR=99"}}, "recurrence"),
        ({"recurrence": {"rule": "FREQ=DAILY", "mode": "x"}}, "recurrence.mode"),
        ({"completed": True}, "completed"),
        ({}, "body"),
    ],
)
def test_a_bad_update_is_422_and_changes_nothing(client, alice, body, field):
    task = create(client, alice, title="stable", due="2030-06-01T10:00:00")
    response = client.put(alice.task_url(task["id"]), json=body, headers=alice.headers)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["field"] == field
    assert client.get(alice.task_url(task["id"]), headers=alice.headers).get_json() == task


def test_complete_toggles_and_an_explicit_state_is_idempotent(client, alice):
    task = create(client, alice, title="toggle me")
    url = alice.task_url(task["id"], "complete")
    first = client.patch(url, headers=alice.headers).get_json()
    assert first["completed"] is True
    assert first["completed_at"] is not None
    second = client.patch(url, headers=alice.headers).get_json()
    assert (second["completed"], second["completed_at"]) == (False, None)
    for _ in range(2):
        explicit = client.patch(url, json={"completed": True}, headers=alice.headers)
        assert explicit.get_json()["completed"] is True
    bad = client.patch(url, json={"completed": "yes"}, headers=alice.headers)
    assert bad.status_code == 422
    assert bad.get_json()["error"]["field"] == "completed"


def test_delete_removes_the_task(client, alice):
    task = create(client, alice, title="short-lived")
    response = client.delete(alice.task_url(task["id"]), headers=alice.headers)
    assert response.status_code == 204
    assert client.get(alice.task_url(task["id"]), headers=alice.headers).status_code == 404
    again = client.delete(alice.task_url(task["id"]), headers=alice.headers)
    assert again.status_code == 404


def test_undo_of_a_delete_brings_back_the_same_task(client, alice, bob):
    task = create(
        client,
        alice,
        title="Call the plumber",
        priority="high",
        tags=["home"],
        due="2030-04-02",
        recurrence={"rule": "FREQ=MONTHLY", "mode": "due"},
    )
    url = f"{alice.tasks_url}/{task['id']}"
    assert client.delete(url, headers=alice.headers).status_code == 204
    # Another user cannot restore it: to them the id is unknown.
    stolen = client.post(f"{bob.tasks_url}/{task['id']}/restore", headers=bob.headers)
    assert stolen.status_code == 404
    restored = client.post(f"{url}/restore", headers=alice.headers)
    assert restored.status_code == 201, restored.get_json()
    back = client.get(url, headers=alice.headers).get_json()
    for field in ("id", "title", "priority", "tags", "due_date", "recurrence", "created_at"):
        assert back[field] == task[field], field
    # A second undo (a retry) answers the task again and makes no copy.
    again = client.post(f"{url}/restore", headers=alice.headers)
    assert again.status_code == 201
    titles = _titles(_list(client, alice, search="plumber"))
    assert titles == ["Call the plumber"]


def test_a_deleted_tasks_number_is_never_given_again(client, alice):
    first = create(client, alice, title="first")
    newest = create(client, alice, title="newest")
    assert client.delete(alice.task_url(newest["id"]), headers=alice.headers).status_code == 204
    following = create(client, alice, title="following")
    assert following["id"] > newest["id"] > first["id"]
    # ...so the deleted one can still come back under its own number.
    restored = client.post(f"{alice.task_url(newest['id'])}/restore", headers=alice.headers)
    assert restored.status_code == 201
    assert restored.get_json()["id"] == newest["id"]


def test_a_restore_does_not_hide_the_highest_number_given(client, alice):
    """An undo of a delete announces an old number again; the next task still gets a new one."""
    older = create(client, alice, title="older")
    newest = create(client, alice, title="newest")
    for task in (newest, older):
        assert client.delete(alice.task_url(task["id"]), headers=alice.headers).status_code == 204
    restored = client.post(f"{alice.task_url(older['id'])}/restore", headers=alice.headers)
    assert restored.status_code == 201
    following = create(client, alice, title="following")
    assert following["id"] > newest["id"]


def test_restoring_a_task_that_was_never_deleted_is_404(client, alice):
    assert (
        client.post(f"{alice.tasks_url}/999999/restore", headers=alice.headers).status_code == 404
    )


def test_skip_moves_a_recurring_task_to_its_next_occurrence(client, alice):
    task = create(
        client,
        alice,
        title="stand-up",
        due="2030-01-07T09:30:00",
        recurrence={"rule": "FREQ=WEEKLY"},
    )
    skipped = client.post(alice.task_url(task["id"], "skip"), headers=alice.headers)
    assert skipped.status_code == 200
    assert skipped.get_json()["due_at"] == "2030-01-14T08:30:00+00:00"
    assert skipped.get_json()["completed"] is False


def test_skip_of_a_task_that_does_not_repeat_is_409_and_changes_nothing(client, alice):
    task = create(client, alice, title="one-off", due="2030-01-07")
    response = client.post(alice.task_url(task["id"], "skip"), headers=alice.headers)
    assert response.status_code == 409
    assert client.get(alice.task_url(task["id"]), headers=alice.headers).get_json() == task


def test_stop_repeating_keeps_the_task_as_a_one_off(client, alice):
    task = create(client, alice, title="gym", due="2030-01-07", recurrence={"rule": "FREQ=DAILY"})
    response = client.post(alice.task_url(task["id"], "stop-repeating"), headers=alice.headers)
    assert response.status_code == 200
    stopped = response.get_json()
    assert stopped["recurrence"] is None
    assert stopped["due_date"] == "2030-01-07"


def test_snooze_sets_a_reminder_minutes_from_now(client, alice):
    task = create(client, alice, title="call back")
    before = datetime.now(UTC)
    response = client.post(
        alice.task_url(task["id"], "snooze"), json={"minutes": 15}, headers=alice.headers
    )
    assert response.status_code == 200
    moments = [
        datetime.fromisoformat(reminder["at"])
        for reminder in response.get_json()["reminders"]
        if reminder["at"]
    ]
    assert len(moments) == 1
    assert before + timedelta(minutes=14) < moments[0] < before + timedelta(minutes=20)


@pytest.mark.parametrize(("body", "field"), [({"minutes": "ten"}, "minutes"), ({"m": 1}, "m")])
def test_a_bad_snooze_is_422(client, alice, body, field):
    task = create(client, alice, title="nap")
    response = client.post(alice.task_url(task["id"], "snooze"), json=body, headers=alice.headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field
    assert client.get(alice.task_url(task["id"]), headers=alice.headers).get_json() == task


def test_the_same_idempotency_key_creates_once(client, alice, bob):
    key = {"Idempotency-Key": "create-groceries-1"}
    first = client.post(alice.tasks_url, json={"title": "groceries"}, headers=alice.headers | key)
    retry = client.post(alice.tasks_url, json={"title": "groceries"}, headers=alice.headers | key)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert _list(client, alice)["total"] == 1
    # Keys are the user's own: Bob choosing the same one gets his own task.
    bobs = client.post(bob.tasks_url, json={"title": "groceries"}, headers=bob.headers | key)
    assert bobs.status_code == 201
    assert bobs.get_json()["id"] != first.get_json()["id"]
    assert bobs.get_json()["user_id"] == bob.user_id


def test_a_retried_toggle_with_its_idempotency_key_does_not_toggle_back(client, alice):
    task = create(client, alice, title="toggle once")
    url = alice.task_url(task["id"], "complete")
    key = {"Idempotency-Key": "toggle-1"}
    for _ in range(2):
        response = client.patch(url, headers=alice.headers | key)
        assert response.get_json()["completed"] is True
    stored = client.get(alice.task_url(task["id"]), headers=alice.headers).get_json()
    assert stored["completed"] is True


def test_without_an_idempotency_key_each_post_creates(client, alice):
    for _ in range(2):
        create(client, alice, title="twice")
    assert _list(client, alice)["total"] == 2


def test_an_unusable_idempotency_key_is_422(client, alice):
    response = client.post(
        alice.tasks_url,
        json={"title": "x"},
        headers=alice.headers | {"Idempotency-Key": "k" * 500},
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "Idempotency-Key"
    assert _list(client, alice)["total"] == 0


@pytest.fixture
def carols_tasks(client) -> Account:
    carol = sign_up(client, timezone="UTC")
    create(
        client, carol, title="alpha report", priority="high", tags=["work", "q1"], due="2030-01-03"
    )
    create(
        client, carol, title="buy bread", priority="low", tags=["home"], due="2030-01-01T08:00:00"
    )
    create(client, carol, title="call mum", priority="medium", tags=["home", "family"])
    create(
        client,
        carol,
        title="daily stretch",
        due="2030-01-02",
        recurrence={"rule": "FREQ=DAILY"},
        tags=["health"],
    )
    done = create(client, carol, title="expenses", priority="high", tags=["work"], due="2020-01-01")
    client.patch(carol.task_url(done["id"], "complete"), headers=carol.headers)
    create(client, carol, title="file taxes", priority="high", tags=["work"], due="2020-02-01")
    return carol


def test_list_filters_sort_and_pages(client, carols_tasks):
    carol = carols_tasks
    everything = _list(client, carol)
    assert everything["total"] == 6
    # Default: by due, earliest first, tasks without a date last.
    assert _titles(everything)[-1] == "call mum"
    assert _titles(_list(client, carol, priority="high,medium", status="pending")) == [
        "file taxes",
        "alpha report",
        "call mum",
    ]
    assert _titles(_list(client, carol, tags="home,family", tags_mode="all")) == ["call mum"]
    assert sorted(_titles(_list(client, carol, tags="HOME"))) == ["buy bread", "call mum"]
    assert _titles(_list(client, carol, q="bread")) == ["buy bread"]
    assert _titles(_list(client, carol, status="completed")) == ["expenses"]
    assert _titles(_list(client, carol, overdue="true")) == ["file taxes"]
    assert _titles(_list(client, carol, no_date="true")) == ["call mum"]
    assert _titles(_list(client, carol, recurring="true")) == ["daily stretch"]
    assert _titles(_list(client, carol, due_from="2030-01-01", due_to="2030-01-02")) == [
        "buy bread",
        "daily stretch",
    ]
    page = _list(client, carol, sort="title", order="desc", page=2, page_size=4)
    assert (page["total"], page["page"], page["page_size"]) == (6, 2, 4)
    assert _titles(page) == ["buy bread", "alpha report"]
    assert (page["total_exact"], page["has_more"], page["next_cursor"]) == (True, False, None)


def test_cursors_page_through_every_task_once_and_back(client, carols_tasks):
    carol = carols_tasks
    expected = _titles(_list(client, carol, sort="priority", order="desc"))
    seen, cursor = [], None
    while True:
        params = {"sort": "priority", "order": "desc", "page_size": 4}
        page = _list(client, carol, **params, **({"cursor": cursor} if cursor else {}))
        seen += _titles(page)
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == expected

    last = _list(client, carol, sort="priority", order="desc", page="last", page_size=4)
    assert (_titles(last), last["has_more"], last["page"]) == (expected[2:], False, None)
    before = _list(
        client, carol, sort="priority", order="desc", cursor=last["prev_cursor"], page_size=4
    )
    assert _titles(before) == expected[:2]
    assert before["prev_cursor"] is None


def test_a_cursor_only_fits_the_list_it_came_from(client, carols_tasks):
    carol = carols_tasks
    cursor = _list(client, carol, sort="title", page_size=2)["next_cursor"]
    for params, field in [
        ({"cursor": cursor, "sort": "due"}, "cursor"),
        ({"cursor": cursor, "sort": "title", "order": "desc"}, "cursor"),
        ({"cursor": cursor, "sort": "title", "page": "2"}, "page"),
        ({"cursor": cursor[:-3] + "!!!"}, "cursor"),
    ]:
        response = client.get(carol.tasks_url, query_string=params, headers=carol.headers)
        assert response.status_code == 422, params
        assert response.get_json()["error"]["field"] == field


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "colour"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"page": "0"}, "page"),
        ({"page_size": "1000"}, "page_size"),
        ({"overdue": "maybe"}, "overdue"),
        ({"due_from": "someday"}, "due_from"),
        ({"priority": "urgent"}, "priority"),
        ({"colour": "red"}, "colour"),
        ({"page": "first"}, "page"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_parameter(client, alice, params, field):
    response = client.get(alice.tasks_url, query_string=params, headers=alice.headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field


def test_a_task_id_that_is_not_a_number_is_404(client, alice):
    response = client.get(alice.task_url("abc"), headers=alice.headers)
    assert response.status_code == 404
    assert response.get_json() == {"error": {"reason": "task not found"}}


def _tomorrow_at_five_pm(zone: ZoneInfo) -> str:
    tomorrow = datetime.now(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(17), tzinfo=zone).astimezone(UTC).isoformat()


def test_quick_add_reads_one_line_in_the_users_zone(client, alice):
    berlin = ZoneInfo("Europe/Berlin")
    expected_due = {_tomorrow_at_five_pm(berlin)}
    response = client.post(
        alice.tasks_url,
        json={"text": "buy milk tomorrow 5pm p1 #groceries remind me 30 min before"},
        headers=alice.headers,
    )
    expected_due.add(_tomorrow_at_five_pm(berlin))  # in case midnight passed meanwhile
    assert response.status_code == 201, response.get_json()
    task = response.get_json()
    assert task["title"] == "buy milk"
    assert task["priority"] == "high"
    assert task["tags"] == ["groceries"]
    assert task["due_at"] in expected_due
    assert [r["before_minutes"] for r in task["reminders"]] == [30]
    assert task["ambiguities"] == []
    stored = client.get(alice.task_url(task["id"]), headers=alice.headers).get_json()
    assert stored["title"] == "buy milk"


def test_quick_add_fields_sent_beside_the_text_win(client, alice):
    response = client.post(
        alice.tasks_url,
        json={"text": "pay rent p1 #home", "priority": "low", "description": "by transfer"},
        headers=alice.headers,
    )
    assert response.status_code == 201
    task = response.get_json()
    assert (task["title"], task["priority"], task["tags"]) == ("pay rent", "low", ["home"])
    assert task["description"] == "by transfer"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": 42}, "text"),
        ({"text": "  "}, "text"),
        ({"text": "call " + LONG_TITLE}, "text"),
        ({"text": "milk", "title": "milk"}, "title"),
        ({"text": "milk", "priority": "urgent"}, "priority"),
    ],
)
def test_bad_quick_add_is_422_and_creates_nothing(client, bob, body, field):
    response = client.post(bob.tasks_url, json=body, headers=bob.headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field
    assert _list(client, bob)["total"] == 0


def test_reopening_a_repeating_task_takes_its_next_occurrence_back(
    client, alice, broker, spawn_recurrence_url, settings
):
    """The page's "Completed — Undo" is this PATCH: the series is as before the completion, and
    completing again makes one next occurrence, not two."""
    task = create(
        client, alice, title="stand-up", due="2030-05-06", recurrence={"rule": "FREQ=DAILY"}
    )
    url = alice.task_url(task["id"], "complete")

    def series() -> list[tuple[int, bool]]:
        page = _list(client, alice, search="stand-up", status="all")
        return sorted((t["recurrence"]["occurrence"], t["completed"]) for t in page["items"])

    assert client.patch(url, json={"completed": True}, headers=alice.headers).status_code == 200
    hand_on(broker, spawn_recurrence_url, settings.create_task_url, task["id"])
    assert series() == [(1, True), (2, False)]
    reopened = client.patch(url, json={"completed": False}, headers=alice.headers)
    assert reopened.get_json()["completed"] is False
    assert series() == [(1, False)]
    client.patch(url, json={"completed": True}, headers=alice.headers)
    hand_on(broker, spawn_recurrence_url, settings.create_task_url, task["id"])
    assert series() == [(1, True), (2, False)]
