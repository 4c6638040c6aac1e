"""Search, filters, sorting and paging of task_queries on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from taskflow.adapters import orm
from taskflow.adapters.database import make_engine
from taskflow.adapters.repository import User
from taskflow.adapters.task_queries import (
    TOTAL_CAP,
    Cursor,
    Page,
    TaskQuery,
    audit_history,
    get_task,
    list_tasks,
)
from taskflow.domain import commands
from taskflow.domain.errors import ValidationError
from taskflow.service_layer import task_commands
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork
from werkzeug.datastructures import MultiDict

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 13:00 in Berlin
GROCERIES, RENT, REPORT, MOM, DENTIST = (
    "Buy groceries",
    "Pay rent",
    "Write report",
    "Call mom",
    "Dentist appointment",
)


def send(factory: Engine, command: commands.Command, now: datetime) -> int:
    result = task_commands.handle(
        command, SqlAlchemyUnitOfWork(factory), command_id=str(uuid.uuid4()), source="/t", now=now
    )
    return result["task"]["id"]


@pytest.fixture(scope="module")
def tasks(module_database_url: str) -> Iterator[Engine]:
    """Ann (in Berlin) has five tasks, created an hour apart in this order; Bob has one.
    Shared by the module's tests, which only read."""
    engine = make_engine(module_database_url)
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.users.add(
            User(id="ann", email="ann@example.com", password_hash="x", timezone="Europe/Berlin")
        )
        uow.commit()
    created = NOW - timedelta(hours=6)
    specs = [
        dict(
            title=GROCERIES,
            description="milk and eggs",
            tags=["shopping", "home"],
            priority="high",
            due="2026-03-10T18:00",
        ),
        dict(title=RENT, tags=["home", "bills"], priority="medium", due="2026-03-09"),
        dict(
            title=REPORT,
            description="quarterly numbers, see work/urgent-folder",
            tags=["work"],
            priority="low",
        ),
        dict(title=MOM, due="2026-03-10", recurrence={"rule": "FREQ=WEEKLY"}),
        dict(title=DENTIST, tags=["health"], due="2026-03-12T09:00"),
    ]
    ids = {}
    for number, spec in enumerate(specs):
        ids[spec["title"]] = send(
            engine,
            commands.CreateTask(user_id="ann", **spec),
            created + timedelta(hours=number),
        )
    send(engine, commands.CompleteTask(user_id="ann", task_id=ids[DENTIST]), NOW)
    send(
        engine,
        commands.CreateTask(user_id="bob", title="Buy groceries for bob", tags=["home"]),
        created,
    )
    yield engine
    engine.dispose()


def titles(factory: Engine, user_id: str = "ann", **params: str) -> list[str]:
    with factory.connect() as session:
        query = TaskQuery.from_params(params, BERLIN, NOW)
        return [item["title"] for item in list_tasks(session, user_id, query, BERLIN, NOW).items]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("gro", [GROCERIES]),  # a prefix finds the word
        ("MILK", [GROCERIES]),  # description, any case
        ("bills", [RENT]),  # tags
        ("urgent", [REPORT]),  # split at "/" and "-" on both databases
        ("quarterly work", [REPORT]),  # every word must match
        ("quarterly rent", []),
        ('rent" OR * : & | ! (', []),  # operators are words, never syntax
        ('"rent"*', [RENT]),
    ],
)
def test_search(tasks, search, expected):
    assert titles(tasks, search=search, sort="created") == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("rent", [RENT]),  # the title's word
        ("WRI", [REPORT]),  # a prefix, any case
        ("port", []),  # inside a word only
        ("milk", []),  # in a description, not in a title
        ("home", []),  # a tag, not a title
        ("report urgent", []),  # every word must be in the title
        ("call mom", [MOM]),
    ],
)
def test_title_words(tasks, title, expected):
    """The chat's look-up by name: the title's words only, whatever the description and tags."""
    assert titles(tasks, title=title, sort="created") == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "pending"}, [GROCERIES, RENT, REPORT, MOM]),
        ({"status": "completed"}, [DENTIST]),
        ({"priority": "high,p2"}, [GROCERIES, RENT]),
        ({"tags": "home,work"}, [GROCERIES, RENT, REPORT]),
        ({"tags": "home,bills", "tags_mode": "all"}, [RENT]),
        ({"tags": "#HOME"}, [GROCERIES, RENT]),
        # A date is its whole day in the user's zone, all-day tasks included.
        ({"due_from": "2026-03-10", "due_to": "2026-03-12"}, [GROCERIES, MOM, DENTIST]),
        ({"due_to": "2026-03-10T17:00"}, [RENT, MOM]),
        ({"due_to": "2026-03-10T19:00"}, [GROCERIES, RENT, MOM]),
        # Rent was due yesterday; the all-day "Call mom" of today is not overdue yet.
        ({"overdue": "true"}, [RENT]),
        ({"due_today": "yes"}, [GROCERIES, MOM]),
        ({"no_date": "1"}, [REPORT]),
        ({"recurring": "true"}, [MOM]),
        ({"recurring": "false"}, [GROCERIES, RENT, REPORT, DENTIST]),
        ({"status": "pending", "tags": "home", "search": "pay"}, [RENT]),
    ],
)
def test_filters(tasks, params, expected):
    assert titles(tasks, sort="created", **params) == expected


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        # Tasks without a due come last in both directions.
        ("due", "asc", [RENT, GROCERIES, MOM, DENTIST, REPORT]),
        ("due", "desc", [DENTIST, MOM, GROCERIES, RENT, REPORT]),
        # Equal priorities (Call mom, Dentist: none) fall back to the id, in the same direction.
        ("priority", "desc", [GROCERIES, RENT, REPORT, DENTIST, MOM]),
        ("priority", "asc", [MOM, DENTIST, REPORT, RENT, GROCERIES]),
        ("title", "asc", [GROCERIES, MOM, DENTIST, RENT, REPORT]),
        ("created", "desc", [DENTIST, MOM, REPORT, RENT, GROCERIES]),
        ("updated", "desc", [DENTIST, MOM, REPORT, RENT, GROCERIES]),
    ],
)
def test_sorting(tasks, sort, order, expected):
    assert titles(tasks, sort=sort, order=order) == expected


def test_default_is_every_task_by_due(tasks):
    assert titles(tasks) == [RENT, GROCERIES, MOM, DENTIST, REPORT]


def test_pages_are_stable_and_counted(tasks):
    with tasks.connect() as session:
        pages = [
            list_tasks(
                session,
                "ann",
                TaskQuery.from_params(
                    {"sort": "created", "page": str(n), "page_size": "2"}, BERLIN, NOW
                ),
                BERLIN,
                NOW,
            )
            for n in (1, 2, 3, 4)
        ]

    assert [[item["title"] for item in page.items] for page in pages] == [
        [GROCERIES, RENT],
        [REPORT, MOM],
        [DENTIST],
        [],
    ]
    assert {page.total for page in pages} == {5}


def page_of(factory: Engine, **params: str) -> Page:
    with factory.connect() as session:
        query = TaskQuery.from_params(params, BERLIN, NOW)
        return list_tasks(session, "ann", query, BERLIN, NOW)


@pytest.mark.parametrize("sort", ["due", "priority", "title", "created", "updated"])
@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("search", [{}, {"search": "r"}])  # few matches: gathered first
def test_cursors_give_every_task_once_in_order_both_ways(tasks, sort, order, search):
    """Ties (two tasks of priority none) and tasks without a due included ("r" finds Pay rent,
    due, and Write report, without a due)."""
    expected = titles(tasks, sort=sort, order=order, **search)
    size = "1" if search else "2"
    forward, cursor = [], None
    while True:
        page = page_of(tasks, sort=sort, order=order, page_size=size, **search, **_cursor(cursor))
        forward += [item["title"] for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    backward, cursor = [], None
    while True:
        paging = _cursor(cursor) or {"page": "last"}
        page = page_of(tasks, sort=sort, order=order, page_size=size, **search, **paging)
        backward = [item["title"] for item in page.items] + backward
        cursor = page.prev_cursor
        if cursor is None:
            break

    assert forward == expected
    assert backward == expected
    assert len(expected) == (2 if search else 5)


def _cursor(cursor: str | None) -> dict[str, str]:
    return {"cursor": cursor} if cursor else {}


def test_a_cursor_is_a_place_in_the_order_whatever_the_filters(tasks):
    after_groceries = page_of(tasks, page_size="2").next_cursor  # Rent, Buy groceries
    assert after_groceries is not None

    def after(**params: str) -> list[str]:
        return [item["title"] for item in page_of(tasks, cursor=after_groceries, **params).items]

    assert after() == [MOM, DENTIST, REPORT]
    assert after(status="pending") == [MOM, REPORT]
    assert after(no_date="true") == [REPORT]


def test_the_last_page_is_the_end_of_the_list(tasks):
    last = page_of(tasks, page="last", page_size="2")

    assert [item["title"] for item in last.items] == [DENTIST, REPORT]
    assert (last.has_more, last.next_cursor, last.page) == (False, None, None)
    assert (last.total, last.total_exact) == (5, True)


def test_the_count_stops_at_the_cap(database_url):
    """More matches than TOTAL_CAP: the total says "at least that many"; a filter that leaves
    fewer gives the exact number again."""
    engine = make_engine(database_url)
    created = NOW - timedelta(days=1)
    rows = [
        {
            "user_id": "many",
            "title": f"task {n}" + (" rare" if n % 500 == 0 else ""),
            "priority": "high" if n % 100 == 0 else "none",
            "priority_rank": 3 if n % 100 == 0 else 0,
            "tags": ["home", "work"],
            "tags_text": "home work",
            "reminders": [],
            "created_at": created,
            "updated_at": created,
        }
        for n in range(TOTAL_CAP + 5)
    ]
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(orm.tasks), rows)
            ids = connection.execute(sa.select(orm.tasks.c.id)).scalars().all()
            connection.execute(
                sa.insert(orm.task_tags),
                [
                    {"task_id": task_id, "user_id": "many", "tag": tag}
                    for task_id in ids
                    for tag in ("home", "work")
                ],
            )
        with Session(engine) as session:

            def page(**params: str) -> Page:
                query = TaskQuery.from_params(params, BERLIN, NOW)
                return list_tasks(session, "many", query, BERLIN, NOW)

            everything = page()
            last = page(page="last", sort="title")
            high = page(priority="high")
            rare = page(search="rare")
            # Many matches of a search or of several tags: walked along the order, tested per row.
            first_titles = [task["title"] for task in everything.items]
            common = page(search="task")
            both_tags = page(tags="home,work", tags_mode="all")
    finally:
        engine.dispose()

    assert (everything.total, everything.total_exact, everything.has_more) == (
        TOTAL_CAP,
        False,
        True,
    )
    assert (last.total, last.total_exact, len(last.items)) == (TOTAL_CAP, False, 20)
    assert (high.total, high.total_exact) == (11, True)
    assert (rare.total, rare.total_exact, len(rare.items)) == (3, True, 3)
    for walked in (common, both_tags):
        assert (walked.total, walked.total_exact) == (TOTAL_CAP, False)
        assert [task["title"] for task in walked.items] == first_titles


def test_a_user_sees_only_their_own_tasks(tasks):
    assert titles(tasks, user_id="bob", search="groceries") == ["Buy groceries for bob"]
    assert titles(tasks, user_id="bob", tags="home") == ["Buy groceries for bob"]
    assert titles(tasks, user_id="carol") == []
    with tasks.connect() as session:
        ann_task = list_tasks(session, "ann", TaskQuery(), BERLIN, NOW).items[0]
        assert get_task(session, "ann", ann_task["id"]) == ann_task
        assert get_task(session, "bob", ann_task["id"]) is None


def test_items_are_the_full_task(tasks):
    with tasks.connect() as session:
        [item] = list_tasks(session, "ann", TaskQuery(search="mom"), BERLIN, NOW).items
    assert item["due_date"] == "2026-03-10"
    assert item["recurrence"]["rule"] == "FREQ=WEEKLY"
    assert item["user_id"] == "ann"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"page_size": "101"}, "page_size"),
        ({"sort": "colour"}, "sort"),
        ({"order": "up"}, "order"),
        ({"status": "done"}, "status"),
        ({"tags_mode": "some"}, "tags_mode"),
        ({"overdue": "maybe"}, "overdue"),
        ({"due_from": "soonish"}, "due_from"),
        ({"due_from": "2026-03-05", "due_to": "2026-03-01"}, "due_to"),
        ({"priority": "urgent"}, "priority"),
        ({"tags": "no spaces"}, "tags"),
        ({"search": "!!!"}, "search"),
        ({"prio": "high"}, "prio"),
        ({"page": "first"}, "page"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
        # An id no database column can hold.
        ({"cursor": Cursor("due", "asc", False, None, 10**30).encode()}, "cursor"),
    ],
)
def test_bad_parameters_are_named(params, field):
    with pytest.raises(ValidationError) as error:
        TaskQuery.from_params(params, BERLIN, NOW)
    assert error.value.field == field


def test_list_parameters_may_repeat_as_in_a_query_string():
    params = MultiDict([("tags", "home"), ("tags", "Work,#bills"), ("priority", "p1")])
    query = TaskQuery.from_params(params, BERLIN, NOW)

    assert query.tags == ("home", "work", "bills")
    assert [p.value for p in query.priority] == ["high"]


def test_search_keeps_commas_and_spaces(tasks):
    assert titles(tasks, search="milk, eggs") == [GROCERIES]


def test_audit_history_is_the_users_own_oldest_first(tasks):
    def entry(event_id: str, user_id: str, minutes: int) -> dict:
        return {
            "event_id": event_id,
            "user_id": user_id,
            "task_id": 999,
            "operation": "updated",
            "actor": user_id,
            "at": NOW + timedelta(minutes=minutes),
            "before": {"title": "a"},
            "after": {"title": "b"},
        }

    with tasks.connect() as session:
        session.execute(
            orm.audit_log.insert(),
            [entry("e2", "ann", 2), entry("e1", "ann", 1), entry("e3", "bob", 3)],
        )
        history = audit_history(session, "ann", 999)
        assert audit_history(session, "carol", 999) == []
        session.rollback()  # the module's data stays as it was

    assert [h["event_id"] for h in history] == ["e1", "e2"]
    assert history[0]["at"] == (NOW + timedelta(minutes=1)).isoformat()
    assert history[0]["before"] == {"title": "a"}
