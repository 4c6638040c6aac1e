"""Repositories on both databases: round trips, user isolation, derived rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from taskflow.adapters import orm
from taskflow.adapters.repository import User
from taskflow.domain.model import Priority, Recurrence, Reminder, Task
from taskflow.service_layer.unit_of_work import SqlAlchemyUnitOfWork

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def new_task(user_id: str = "ann", **fields) -> Task:
    return Task.new(user_id, fields.pop("title", "A task"), now=NOW, **fields)


def add(engine, task: Task) -> int:
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.tasks.add(task)
        uow.commit()
    assert task.id is not None
    return task.id


def table(engine, table: sa.Table) -> list[dict]:
    with engine.connect() as session:
        return [dict(row) for row in session.execute(sa.select(table)).mappings()]


def test_a_task_comes_back_as_it_was_stored(engine):
    task = new_task(
        title="Pay rent",
        description="to the landlord",
        priority=Priority.HIGH,
        tags=["home", "Bills"],
        due_at=datetime(2026, 4, 1, 9, 0, tzinfo=UTC),
        reminders=[Reminder(before=timedelta(minutes=30)), Reminder(at=NOW + timedelta(days=1))],
        recurrence=Recurrence("FREQ=MONTHLY"),
    )
    task_id = add(engine, task)

    with SqlAlchemyUnitOfWork(engine) as uow:
        loaded = uow.tasks.get("ann", task_id)

    assert loaded is not None
    assert loaded.to_dict() == task.to_dict()


def test_another_users_task_is_invisible(engine):
    task_id = add(engine, new_task("ann"))

    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.tasks.get("bob", task_id) is None
        assert uow.tasks.get("ann", task_id + 1000) is None
        assert uow.tasks.get("ann", task_id) is not None
        # Once loaded for ann, the identity map still hides it from bob.
        assert uow.tasks.get("bob", task_id) is None


def test_tags_and_reminder_schedule_follow_the_task(engine):
    task = new_task(
        tags=["home", "work"],
        due_date=date(2026, 3, 12),
        reminders=[Reminder(id="r1", before=timedelta(days=1))],
    )
    task_id = add(engine, task)
    assert {(r["tag"], r["user_id"]) for r in table(engine, orm.task_tags)} == {
        ("home", "ann"),
        ("work", "ann"),
    }
    # A day before an all-day task: 09:00 the day before in the user's zone (UTC here).
    assert [(r["reminder_id"], r["remind_at"]) for r in table(engine, orm.task_reminders)] == [
        ("r1", datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    ]

    with SqlAlchemyUnitOfWork(engine) as uow:
        loaded = uow.tasks.get("ann", task_id)
        loaded.update({"tags": ["errands"]}, now=NOW)
        loaded.complete(now=NOW)
        uow.commit()

    assert [r["tag"] for r in table(engine, orm.task_tags)] == ["errands"]
    assert table(engine, orm.task_reminders) == []  # completed: nothing to remind

    with SqlAlchemyUnitOfWork(engine) as uow:
        loaded = uow.tasks.get("ann", task_id)
        loaded.delete(now=NOW)
        uow.tasks.delete(loaded)
        assert uow.tasks.get("ann", task_id) is None
        uow.commit()

    assert table(engine, orm.tasks) == []
    assert table(engine, orm.task_tags) == []


def test_a_task_changed_after_it_was_added_is_stored_as_changed(engine):
    """The repository skips writing a task unchanged since it wrote it; a change made in the
    same unit of work after `add` must still reach the row, the tags and the reminders."""
    task = new_task(
        tags=["home"],
        due_date=date(2026, 3, 12),
        reminders=[Reminder(id="r1", before=timedelta(days=1))],
    )
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.tasks.add(task)
        task.mark_created()
        task.update({"title": "Renamed", "tags": ["errands"]}, now=NOW)
        task.complete(now=NOW)
        uow.commit()

    [row] = table(engine, orm.tasks)
    assert (row["title"], row["completed"], row["tags"]) == ("Renamed", True, ["errands"])
    assert [r["tag"] for r in table(engine, orm.task_tags)] == ["errands"]
    assert table(engine, orm.task_reminders) == []  # completed: nothing to remind


def test_all_day_tasks_end_at_midnight_in_the_users_zone(engine):
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.users.add(
            User(id="ann", email="ann@example.com", password_hash="h", timezone="Asia/Tokyo")
        )
        uow.commit()
    add(engine, new_task(due_date=date(2026, 3, 12)))
    [row] = table(engine, orm.tasks)
    assert row["due_sort_at"] == datetime(2026, 3, 12, 15, 0, tzinfo=UTC)  # 00:00 on the 13th

    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.users.set_timezone("ann", "America/Los_Angeles")
        uow.commit()

    [row] = table(engine, orm.tasks)
    assert row["due_sort_at"] == datetime(2026, 3, 13, 7, 0, tzinfo=UTC)  # PDT, UTC-7


def test_users(engine):
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.users.add(User(id="u1", email=" Ann@Example.com ", password_hash="h"))
        uow.commit()

    with SqlAlchemyUnitOfWork(engine) as uow:
        user = uow.users.get_by_email("ANN@example.COM")
        assert user is not None and user.id == "u1" and user.email == "ann@example.com"
        assert uow.users.timezone("u1") == "UTC"
        assert uow.users.timezone("someone-from-another-identity-provider") == "UTC"
        assert uow.users.get("nobody") is None

    with pytest.raises(IntegrityError), SqlAlchemyUnitOfWork(engine) as uow:
        uow.users.add(User(id="u2", email="ann@example.com", password_hash="h"))
        uow.commit()


def test_one_occurrence_of_a_series_at_most(engine):
    recurrence = Recurrence("FREQ=DAILY", series_id="s1", occurrence=2)
    add(engine, new_task(due_date=date(2026, 3, 12), recurrence=recurrence))

    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.tasks.get_occurrence("ann", "s1", 2) is not None
        assert uow.tasks.get_occurrence("bob", "s1", 2) is None
    with pytest.raises(IntegrityError):
        add(engine, new_task(due_date=date(2026, 3, 12), recurrence=recurrence))
