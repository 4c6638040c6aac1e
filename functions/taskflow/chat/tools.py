"""The task tools: the one definition behind the MCP server, the online agent and the offline
assistant.

Each tool is a method of TaskTools, bound to the user of the authenticated request. Writes go
through the same command path as the REST API (CommandClient -> create-task), so a task completed
by chat spawns its next occurrence, is audited and is broadcast exactly like one completed on the
page; reads go through the same task queries as GET /api/{user_id}/tasks.

Every tool keeps the `user_id` parameter of the original design, but the acting user never comes
from it: a model that writes another user's id gets nothing (an empty list, or a refusal).

`tool_functions` turns the methods into plain functions with clean signatures; the MCP SDK reads
their signatures and docstrings, and the agent sends the very same JSON schemas to the model.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired, Protocol

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from taskflow.adapters import task_queries
from taskflow.adapters.command_client import (
    CommandClient,
    CommandRejected,
    CommandTaskNotFound,
    CreateTaskUnavailable,
)
from taskflow.adapters.repository import SqlAlchemyUserRepository
from taskflow.domain import commands
from taskflow.domain.errors import ValidationError

LIST_LIMIT_MAX = 100


class ChangeNotConfirmed(ToolError):
    """create-task may have applied the change, but its answer was lost. Saying "it failed" would
    invite the user (or the model) to ask again, which sends a new command and could apply the
    change twice; the task list tells what happened."""

    def __init__(self) -> None:
        super().__init__(
            "the task service did not confirm the change, so it may have been applied; list the "
            "tasks to see whether it was before trying again (a retry could apply it twice)"
        )


class ReminderSpec(TypedDict):
    """Give `at` (an ISO 8601 date-time) or `before_minutes` (minutes before the due)."""

    at: NotRequired[str]
    before_minutes: NotRequired[int]


class RecurrenceSpec(TypedDict):
    """An RFC 5545 RRULE without DTSTART, e.g. FREQ=WEEKLY;BYDAY=MO. Mode `due` repeats on the
    schedule; `completion` counts from the day the task is completed."""

    rule: str
    mode: NotRequired[Literal["due", "completion"]]


UserId = Annotated[
    str,
    Field(
        description="Optional. Tools act only for the signed-in user; any other id gets nothing."
    ),
]
TaskId = Annotated[int, Field(description="The task's id, as list_tasks shows it.")]
Due = Annotated[
    str | None,
    Field(
        description="ISO 8601: a date (2026-12-01) for an all-day task or a date-time "
        "(2026-12-01T17:00 in the user's zone, or with an offset). Empty string clears it."
    ),
]
Priority = Annotated[
    Literal["none", "low", "medium", "high"] | None, Field(description="The task's priority.")
]
Tags = Annotated[list[str] | None, Field(description="Tags without '#'; [] clears them.")]
Reminders = Annotated[list[ReminderSpec] | None, Field(description="[] removes every reminder.")]

# The tool names, in the order a model sees them.
TOOL_NAMES = (
    "add_task",
    "list_tasks",
    "complete_task",
    "delete_task",
    "update_task",
    "uncomplete_task",
    "skip_occurrence",
    "stop_repeating",
    "snooze_reminder",
    "restore_task",
)


class TaskReader(Protocol):
    def __call__(self, user_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The user's tasks matching list parameters (the REST list's query parameters)."""
        ...


class TaskGetter(Protocol):
    def __call__(self, user_id: str, task_id: int) -> dict[str, Any] | None:
        """The user's task with this id, or None (missing, or another user's)."""
        ...


class TaskTools:
    def __init__(
        self,
        user_id: str,
        commands: CommandClient,
        read_tasks: TaskReader,
        get_task: TaskGetter | None = None,
    ) -> None:
        self.user_id = user_id
        self._commands = commands
        self._read_tasks = read_tasks
        self._get_task = get_task

    def task(self, task_id: int) -> dict[str, Any] | None:
        """The signed-in user's task with this id as it is now, or None: a look for the
        assistant (e.g. the due a "push it by a day" moves), not a tool a model calls."""
        if self._get_task is not None:
            return self._get_task(self.user_id, task_id)
        recent = self.list_tasks(sort="updated", order="desc", limit=LIST_LIMIT_MAX)
        return next((t for t in recent if t["id"] == task_id), None)

    def add_task(
        self,
        title: Annotated[str, Field(description="What to do, 1-200 characters.")],
        user_id: UserId = "",
        description: str = "",
        priority: Priority = None,
        tags: Tags = None,
        due: Due = None,
        reminders: Reminders = None,
        recurrence: RecurrenceSpec | None = None,
    ) -> dict[str, Any]:
        """Create a task for the signed-in user."""
        self._refuse_other_user(user_id)
        task = self._send(
            commands.CreateTask(
                user_id=self.user_id,
                title=title,
                description=description,
                priority=priority,
                tags=list(tags or []),
                due=due or None,
                reminders=[dict(reminder) for reminder in reminders or []],
                recurrence=dict(recurrence) if recurrence else None,
            )
        )
        return _outcome(task, "created")

    def list_tasks(
        self,
        user_id: UserId = "",
        status: Literal["all", "pending", "completed"] = "all",
        search: Annotated[
            str | None, Field(description="Words to find in titles, descriptions and tags.")
        ] = None,
        title: Annotated[
            str | None,
            Field(description="Words of the title alone: each must start a word of it."),
        ] = None,
        priority: Priority = None,
        tags: Annotated[list[str] | None, Field(description="Only tasks with these tags.")] = None,
        tags_mode: Literal["any", "all"] = "any",
        due_from: Annotated[str | None, Field(description="ISO date or date-time.")] = None,
        due_to: Annotated[str | None, Field(description="ISO date or date-time.")] = None,
        overdue: bool = False,
        due_today: bool = False,
        no_date: bool = False,
        recurring: bool | None = None,
        sort: Annotated[
            Literal["due", "priority", "title", "created", "updated"] | None,
            Field(description="Default: by due date, tasks without a due date last."),
        ] = None,
        order: Literal["asc", "desc"] | None = None,
        limit: Annotated[int, Field(ge=1, le=LIST_LIMIT_MAX)] = 50,
    ) -> list[dict[str, Any]]:
        """List the signed-in user's tasks: filter by status, words, priority, tags and due
        dates, sorted as asked (tasks without a due date come last when sorting by due)."""
        if user_id and user_id != self.user_id:
            return []
        params: dict[str, Any] = {
            "status": status,
            "search": search,
            "title": title,
            "priority": priority,
            "tags": list(tags) if tags else None,
            "tags_mode": tags_mode if tags else None,
            "due_from": due_from,
            "due_to": due_to,
            "overdue": overdue or None,
            "due_today": due_today or None,
            "no_date": no_date or None,
            "recurring": recurring,
            "sort": sort,
            "order": order,
            "page_size": limit,
        }
        present = {key: value for key, value in params.items() if value is not None}
        try:
            return self._read_tasks(self.user_id, present)
        except ValidationError as error:
            raise ToolError(str(error)) from None

    def complete_task(self, task_id: TaskId, user_id: UserId = "") -> dict[str, Any]:
        """Mark a task done. A repeating task gets its next occurrence."""
        self._refuse_other_user(user_id)
        task = self._send(commands.CompleteTask(user_id=self.user_id, task_id=task_id))
        return _outcome(task, "completed")

    def delete_task(self, task_id: TaskId, user_id: UserId = "") -> dict[str, Any]:
        """Delete a task for good."""
        self._refuse_other_user(user_id)
        task = self._send(commands.DeleteTask(user_id=self.user_id, task_id=task_id))
        return _outcome(task, "deleted")

    def restore_task(self, task_id: TaskId, user_id: UserId = "") -> dict[str, Any]:
        """Bring back a task this user deleted, with its id and every field (undo of a delete)."""
        self._refuse_other_user(user_id)
        task = self._send(commands.CreateTask(user_id=self.user_id, title="", restore_id=task_id))
        return _outcome(task, "restored")

    def update_task(
        self,
        task_id: TaskId,
        user_id: UserId = "",
        title: str | None = None,
        description: str | None = None,
        priority: Priority = None,
        tags: Tags = None,
        due: Due = None,
        reminders: Reminders = None,
        recurrence: RecurrenceSpec | None = None,
    ) -> dict[str, Any]:
        """Change some fields of a task; fields left out stay as they are."""
        self._refuse_other_user(user_id)
        given = {
            "title": title,
            "description": description,
            "priority": priority,
            "tags": tags,
            "due": due,
            "reminders": [dict(r) for r in reminders] if reminders is not None else None,
            "recurrence": dict(recurrence) if recurrence else None,
        }
        changes = {key: value for key, value in given.items() if value is not None}
        if "due" in changes and changes["due"] == "":
            changes["due"] = None  # the documented way to clear a due
        if not changes:
            raise ToolError("nothing to change: give at least one field")
        task = self._send(
            commands.UpdateTask(user_id=self.user_id, task_id=task_id, changes=changes)
        )
        return _outcome(task, "updated")

    def uncomplete_task(self, task_id: TaskId, user_id: UserId = "") -> dict[str, Any]:
        """Mark a completed task as not done again (also the undo of a completion): a repeating
        task's next occurrence, made by that completion and not changed since, goes away.
        `next_occurrence` tells what became of that occurrence: withdrawn, or kept (changed)."""
        self._refuse_other_user(user_id)
        spawned = self._latest_open_occurrences()
        task = self._send(commands.UncompleteTask(user_id=self.user_id, task_id=task_id))
        outcome = _outcome(task, "pending")
        following = _following(task, spawned)
        if following is not None:
            # What the reopening did to it, read back rather than assumed: create-task takes it
            # away in the same transaction as the reopening unless the user changed or ticked
            # it since (specs/task-domain.md, decision 8), so the reply and the list agree.
            still_open = {t["id"] for t in self._latest_open_occurrences()}
            outcome["next_occurrence"] = {
                "task_id": following["id"],
                "title": following["title"],
                "due_at": following.get("due_at"),
                "due_date": following.get("due_date"),
                "status": "kept" if following["id"] in still_open else "withdrawn",
            }
        return outcome

    def skip_occurrence(self, task_id: TaskId, user_id: UserId = "") -> dict[str, Any]:
        """Move a repeating task to its next occurrence without completing this one."""
        self._refuse_other_user(user_id)
        task = self._send(commands.SkipOccurrence(user_id=self.user_id, task_id=task_id))
        return _outcome(task, "skipped") | {
            "due_at": task.get("due_at"),
            "due_date": task.get("due_date"),
        }

    def stop_repeating(self, task_id: TaskId, user_id: UserId = "") -> dict[str, Any]:
        """End a task's series: it stays, but no next occurrence will come."""
        self._refuse_other_user(user_id)
        task = self._send(commands.StopRepeating(user_id=self.user_id, task_id=task_id))
        return _outcome(task, "not repeating")

    def snooze_reminder(
        self,
        task_id: TaskId,
        user_id: UserId = "",
        minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 10,
    ) -> dict[str, Any]:
        """Remind again in `minutes` (default 10)."""
        self._refuse_other_user(user_id)
        task = self._send(
            commands.SnoozeReminder(user_id=self.user_id, task_id=task_id, minutes=minutes)
        )
        return _outcome(task, "snoozed") | {"minutes": minutes}

    def _latest_open_occurrences(self) -> list[dict[str, Any]]:
        """The open occurrences of repeating tasks, newest first: a completion's successor is
        among the newest (it was created at that completion)."""
        params = {
            "status": "pending",
            "recurring": True,
            "sort": "created",
            "order": "desc",
            "page_size": LIST_LIMIT_MAX,
        }
        return self._read_tasks(self.user_id, params)

    def _refuse_other_user(self, user_id: str) -> None:
        if user_id and user_id != self.user_id:
            raise ToolError("tools act only for the signed-in user")

    def _send(self, command: commands.Command) -> dict[str, Any]:
        try:
            return self._commands.send(command)
        except CommandTaskNotFound:
            task_id = getattr(command, "task_id", None)
            raise ToolError(f"task {task_id} not found") from None
        except CommandRejected as error:
            raise ToolError(str(error)) from None
        except CreateTaskUnavailable as error:
            if error.outcome_unknown:
                raise ChangeNotConfirmed() from None
            raise ToolError(
                "the task service is unavailable, nothing was changed; try again shortly"
            ) from None


def _following(task: Mapping[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The occurrence after `task` in its series, among `candidates`, if it is there."""
    recurrence = task.get("recurrence")
    if not recurrence:
        return None
    for candidate in candidates:
        other = candidate.get("recurrence") or {}
        if (other.get("series_id"), other.get("occurrence")) == (
            recurrence.get("series_id"),
            recurrence.get("occurrence", 0) + 1,
        ):
            return candidate
    return None


def _outcome(task: Mapping[str, Any], status: str) -> dict[str, Any]:
    return {"task_id": task["id"], "status": status, "title": task["title"]}


def tool_functions(bind: Callable[[], TaskTools]) -> list[Callable[..., Any]]:
    """One plain function per tool, calling the method on `bind()` (the current user's tools).

    Each keeps the method's name, docstring and signature without `self` (annotations already
    evaluated), which is what the MCP SDK reads to build a tool's JSON schema.
    """
    return [_unbound(name, bind) for name in TOOL_NAMES]


def _unbound(name: str, bind: Callable[[], TaskTools]) -> Callable[..., Any]:
    method = getattr(TaskTools, name)

    @functools.wraps(method)
    def tool(**arguments: Any) -> Any:
        return getattr(bind(), name)(**arguments)

    signature = inspect.signature(method, eval_str=True)
    tool.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    del tool.__wrapped__  # the SDK must read __signature__, not the method's own
    return tool


def database_task_reader(engine: Engine, now: Callable[[], datetime]) -> TaskReader:
    """list_tasks over the REST list's read side (task_queries): one page of matching tasks."""

    def read_tasks(user_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        with Session(engine) as session:
            zone = SqlAlchemyUserRepository(session).zone(user_id)
            moment = now()
            query = task_queries.TaskQuery.from_params(params, zone, moment)
            return task_queries.list_tasks(session, user_id, query, zone, moment).items

    return read_tasks


def database_task_getter(engine: Engine) -> TaskGetter:
    """One task by id, scoped to the user (task_queries.get_task): one indexed row."""

    def get_task(user_id: str, task_id: int) -> dict[str, Any] | None:
        with Session(engine) as session:
            return task_queries.get_task(session, user_id, task_id)

    return get_task
