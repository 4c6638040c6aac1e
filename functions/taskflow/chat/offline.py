"""The assistant that works without a language model: the grammar of intents.py for what to do,
the quick-add parser for what a task says, and the task tools to do it.

It never guesses. A message outside the grammar gets "Sorry, I didn't understand", a reference
that matches several tasks gets a question listing them, and whatever the quick-add parser found
ambiguous is shown to the user.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mcp.server.mcpserver.exceptions import ToolError

from taskflow.chat import intents
from taskflow.chat.conversations import ChatMessage
from taskflow.chat.reply import Reply
from taskflow.chat.tools import ChangeNotConfirmed, TaskTools
from taskflow.chat.words import describe_offset, describe_rule
from taskflow.domain.model import Priority
from taskflow.domain.quickadd import QuickAdd, parse_quick_add, parse_when

EXAMPLES = (
    '"add buy milk tomorrow at 5pm #groceries p1"',
    '"show my pending tasks"',
    '"what\'s overdue?"',
    '"find tasks about milk"',
    '"mark task 3 as complete"',
    '"delete the meeting task"',
    "\"change task 1 to 'Call mom tonight'\"",
    '"snooze task 2 for 30 minutes"',
    '"what\'s due this week?"',
    '"delete it"',
    '"undo"',
)
HELP = "You can say, for example: " + ", ".join(EXAMPLES) + "."
# Not "that did not work": the change may have been applied, and asking again could apply it twice.
UNCONFIRMED = (
    "I can't tell whether that worked: the task service did not confirm it, so it may have been "
    'applied. Your task list will show it ("show my tasks"); check it before asking again, so '
    "it is not done twice."
)
# Which tasks a reference by words may mean, per action: you complete what is open, reopen what
# is done, and may delete or change anything.
_REF_STATUS = {
    "complete_task": "pending",
    "skip_occurrence": "pending",
    "stop_repeating": "pending",
    "snooze_reminder": "pending",
    "uncomplete_task": "completed",
}
_DONE_PHRASES = {
    "complete_task": "Marked {task} as complete.",
    "uncomplete_task": "Marked {task} as not done.",
    "delete_task": "Deleted {task}.",
    "skip_occurrence": "Skipped this occurrence of {task}.",
    "stop_repeating": "{task} will not repeat any more.",
    "snooze_reminder": "Snoozed the reminder of {task} for {minutes} minutes.",
}
_VERBS = {
    "complete_task": "complete",
    "uncomplete_task": "reopen",
    "delete_task": "delete",
    "skip_occurrence": "skip",
    "stop_repeating": "stop repeating",
    "snooze_reminder": "snooze",
}
# How each change is reversed by "undo": the tool that undoes it, and what to say.
_REVERSALS = {
    "add_task": ("delete_task", "Removed {task}, which I had added."),
    "delete_task": ("restore_task", "Brought back {task}."),
    "complete_task": ("uncomplete_task", "Marked {task} as not done again."),
    "uncomplete_task": ("complete_task", "Marked {task} as complete again."),
    "restore_task": ("delete_task", "Deleted {task} again."),
}
_CHANGES = frozenset(
    [*_REVERSALS, "update_task", "skip_occurrence", "stop_repeating", "snooze_reminder"]
)
NO_FOCUS = (
    "Which task do you mean? I don't know which one we are talking about yet. "
    'Say for example "delete task 4".'
)


class _EndOfTurn(Exception):
    """An answer reached before any change: a question back, or "could not find"."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class OfflineAssistant:
    def __init__(self, tools: TaskTools, timezone: ZoneInfo, now: Callable[[], datetime]) -> None:
        self._tools = tools
        self._tz = timezone
        self._now = now
        self._history: list[ChatMessage] = []

    def reply(self, history: list[ChatMessage], message: str) -> Reply:
        """One message, read with the conversation's history for "it" (the task in focus: the
        last one a tool of this conversation touched) and for "undo"."""
        reply = Reply("")
        intent = intents.parse(message)
        self._history = history
        try:
            reply.text = self._answer(intent, reply)
        except _EndOfTurn as answer:
            reply.text = answer.text
        except ChangeNotConfirmed:
            reply.text = UNCONFIRMED
        except ToolError as error:
            reply.text = f"That did not work: {error}"
        return reply

    # --- one method per intent ----------------------------------------------------------------

    def _answer(self, intent: intents.Intent, reply: Reply) -> str:
        match intent:
            case intents.Help():
                return HELP
            case intents.NotUnderstood(message=message):
                return f'Sorry, I didn\'t understand "{message.strip()}". {HELP}'
            case intents.AddTask():
                return self._add(intent, reply)
            case intents.ListTasks(filters=filters):
                tasks = self._call(reply, "list_tasks", **self._dated(filters))
                return self._describe_list(tasks, filters)
            case intents.ActOnTask():
                return self._act(intent, reply)
            case intents.ChangeTask():
                return self._change(intent, reply)
            case intents.Undo():
                return self._undo(reply)

    def _add(self, intent: intents.AddTask, reply: Reply) -> str:
        parsed = parse_quick_add(intent.text, self._tz, now=self._now())
        arguments = _task_fields(parsed)
        if intent.remind_at_due and parsed.due_at and not arguments.get("reminders"):
            arguments["reminders"] = [{"before_minutes": 0}]
        result = self._call(reply, "add_task", title=parsed.title, **arguments)
        text = f"Added {_name(result)}{self._details(arguments)}."
        return text + _ambiguities(parsed)

    def _act(self, intent: intents.ActOnTask, reply: Reply) -> str:
        task_id = self._resolve(intent.ref, intent.action, reply)
        result = self._call(reply, intent.action, task_id=task_id, **intent.arguments)
        return _DONE_PHRASES[intent.action].format(task=_name(result), **intent.arguments)

    def _change(self, intent: intents.ChangeTask, reply: Reply) -> str:
        task_id = self._resolve(intent.ref, "update_task", reply)
        changes: dict[str, Any] = {}
        notes = ""
        if intent.literal:
            changes["title"] = intent.text
        elif intent.text:
            parsed = parse_quick_add(intent.text, self._tz, now=self._now())
            changes = {"title": parsed.title, **_task_fields(parsed)}
            notes = _ambiguities(parsed)
        if intent.priority:
            changes["priority"] = Priority.parse(intent.priority).value  # p1..p4 too
        if intent.due_text:
            parsed = parse_when(intent.due_text, self._tz, now=self._now())
            due = _due(parsed)
            if due is None:
                return f'Sorry, I could not read a date in "{intent.due_text}".'
            changes["due"] = due
            notes = _ambiguities(parsed)
        result = self._call(reply, "update_task", task_id=task_id, **changes)
        shown = {key: value for key, value in changes.items() if key != "title"}
        return f"Updated {_name(result)}{self._details(shown)}." + notes

    def _undo(self, reply: Reply) -> str:
        """Reverse the assistant's last change in this conversation; a second "undo" reverses
        the change before it (each undo turn cancels one earlier change turn)."""
        target = _last_change(self._history)
        if target is None:
            return "There is nothing I changed in this conversation to undo."
        changes = [c for c in target if c["name"] in _CHANGES and "error" not in _result(c)]
        lines = []
        for call in reversed(changes):
            reversal = _REVERSALS.get(call["name"])
            task_id = _result(call).get("task_id")
            if reversal is None or task_id is None:
                lines.append(
                    f"I can't undo that change of task #{task_id} myself: please set it back "
                    f'(for example "change task {task_id} to ...").'
                )
                continue
            tool, said = reversal
            result = self._call(reply, tool, task_id=task_id)
            lines.append(said.format(task=_name(result)))
        return " ".join(lines)

    def _dated(self, filters: dict[str, Any]) -> dict[str, Any]:
        """list_tasks arguments with "this week" as dates: today to Sunday, in the user's zone."""
        if filters.get("due_within") != "week":
            return filters
        today = self._now().astimezone(self._tz).date()
        sunday = today + timedelta(days=6 - today.weekday())
        rest = {key: value for key, value in filters.items() if key != "due_within"}
        return rest | {"due_from": today.isoformat(), "due_to": sunday.isoformat(), "sort": "due"}

    def _focus(self) -> int | None:
        """The task the conversation is about: the last one a tool touched or found alone."""
        for message in reversed(self._history):
            for call in reversed(message.tool_calls or []):
                result = call.get("result")
                if isinstance(result, list):
                    if len(result) == 1 and isinstance(result[0], dict):
                        return int(result[0]["id"])
                    if result:
                        return None  # several were on screen: "it" would be a guess
                elif isinstance(result, dict) and "task_id" in result:
                    return int(result["task_id"])
        return None

    # --- helpers --------------------------------------------------------------------------------

    def _call(self, reply: Reply, name: str, **arguments: Any) -> Any:
        """Run a tool and record the call the way the chat endpoint reports it."""
        try:
            result = getattr(self._tools, name)(**arguments)
        except ToolError as error:
            reply.tool_calls.append(
                {"name": name, "arguments": arguments, "result": {"error": str(error)}}
            )
            raise
        reply.tool_calls.append({"name": name, "arguments": arguments, "result": result})
        return result

    def _resolve(self, ref: intents.TaskRef, action: str, reply: Reply) -> int:
        """The id a reference means; asks back (raises _EndOfTurn) unless exactly one matches."""
        if ref.task_id is not None:
            return ref.task_id
        if ref.focus:
            focus = self._focus()
            if focus is None:
                raise _EndOfTurn(NO_FOCUS)
            return focus
        status = _REF_STATUS.get(action, "all")
        matches = self._call(reply, "list_tasks", search=ref.words, status=status)
        if len(matches) == 1:
            return int(matches[0]["id"])
        kind = "" if status == "all" else f"{status} "
        if not matches:
            raise _EndOfTurn(f'I could not find a {kind}task matching "{ref.words}".')
        options = ", ".join(f"#{task['id']} {task['title']}" for task in matches[:10])
        verb = _VERBS.get(action, "change")
        raise _EndOfTurn(
            f'Several {kind}tasks match "{ref.words}": {options}. Which one? '
            f'Say for example "{verb} task {matches[0]["id"]}".'
        )

    def _describe_list(self, tasks: list[dict[str, Any]], filters: dict[str, Any]) -> str:
        what = _list_name(filters)
        if not tasks:
            return f"You have no {what}."
        lines = [f"Your {what} ({len(tasks)}):"]
        lines += [self._line(task) for task in tasks]
        return "\n".join(lines)

    def _line(self, task: dict[str, Any]) -> str:
        parts = [f"#{task['id']} {task['title']}"]
        if task.get("completed"):
            parts.append("done")
        if due := self._due_text(task):
            parts.append(due)
        if task.get("priority") not in (None, "none"):
            parts.append(f"{task['priority']} priority")
        parts += [f"#{tag}" for tag in task.get("tags") or []]
        if recurrence := task.get("recurrence"):
            parts.append(
                describe_rule(recurrence["rule"], recurrence.get("mode"), self._due_day(task))
            )
        return " · ".join(parts)

    def _due_text(self, task: dict[str, Any]) -> str:
        if task.get("due_date"):
            due_day = date.fromisoformat(task["due_date"])
            overdue = (
                not task.get("completed") and due_day < self._now().astimezone(self._tz).date()
            )
            text = f"due {due_day:%a %-d %b}"
        elif task.get("due_at"):
            moment = datetime.fromisoformat(task["due_at"])
            overdue = not task.get("completed") and moment < self._now()
            text = f"due {moment.astimezone(self._tz):%a %-d %b %H:%M}"
        else:
            return ""
        return text + (" (overdue)" if overdue else "")

    def _due_day(self, task: dict[str, Any]) -> date | None:
        """The local calendar day of a task's due, if it has one."""
        if task.get("due_date"):
            return date.fromisoformat(task["due_date"])
        if task.get("due_at"):
            return datetime.fromisoformat(task["due_at"]).astimezone(self._tz).date()
        return None

    def _details(self, fields: dict[str, Any]) -> str:
        parts = []
        if due := fields.get("due"):
            parts.append(self._due_text({"due_date": due} if len(due) == 10 else {"due_at": due}))
        if fields.get("priority") not in (None, "none"):
            parts.append(f"{fields['priority']} priority")
        parts += [f"#{tag}" for tag in fields.get("tags") or []]
        if recurrence := fields.get("recurrence"):
            due = fields.get("due")
            task = {} if not due else {"due_date": due} if len(due) == 10 else {"due_at": due}
            parts.append(
                describe_rule(recurrence["rule"], recurrence.get("mode"), self._due_day(task))
            )
        for reminder in fields.get("reminders") or []:
            if reminder.get("before_minutes") is not None:
                parts.append("reminder " + describe_offset(reminder["before_minutes"]))
            elif reminder.get("at"):
                at = datetime.fromisoformat(reminder["at"]).astimezone(self._tz)
                parts.append(f"reminder {at:%a %-d %b %H:%M}")
        return (" — " + ", ".join(parts)) if parts else ""


def _result(call: dict[str, Any]) -> dict[str, Any]:
    result = call.get("result")
    return result if isinstance(result, dict) else {}


def _last_change(history: list[ChatMessage]) -> list[dict[str, Any]] | None:
    """The tool calls of the latest assistant turn that changed something and was not undone
    yet. Walking back, each "undo" turn cancels the next earlier change turn."""
    pending_undos = 0
    for index in range(len(history) - 1, -1, -1):
        message = history[index]
        if message.role != "assistant":
            continue
        asked = history[index - 1].content if index and history[index - 1].role == "user" else ""
        if isinstance(intents.parse(asked), intents.Undo):
            pending_undos += 1
            continue
        calls = message.tool_calls or []
        if not any(c["name"] in _CHANGES and "error" not in _result(c) for c in calls):
            continue
        if pending_undos:
            pending_undos -= 1
            continue
        return calls
    return None


def _name(result: dict[str, Any]) -> str:
    return f'task #{result["task_id"]} "{result["title"]}"'


def _due(parsed: QuickAdd) -> str | None:
    if parsed.due_at is not None:
        return parsed.due_at.isoformat()
    if parsed.due_date is not None:
        return parsed.due_date.isoformat()
    return None


def _task_fields(parsed: QuickAdd) -> dict[str, Any]:
    """add_task/update_task arguments for what the quick-add parser found beside the title."""
    fields = parsed.as_command_fields()
    del fields["title"]
    if fields["priority"] == "none":
        del fields["priority"]
    return {key: value for key, value in fields.items() if value}


def _ambiguities(parsed: QuickAdd) -> str:
    if not parsed.ambiguities:
        return ""
    return " Please check: " + "; ".join(str(note) for note in parsed.ambiguities) + "."


def _list_name(filters: dict[str, Any]) -> str:
    words = []
    if filters.get("status") in ("pending", "completed") and not filters.get("overdue"):
        words.append(filters["status"])
    if filters.get("overdue"):
        words.append("overdue")
    if filters.get("priority"):
        words.append(f"{filters['priority']}-priority")
    if filters.get("recurring"):
        words.append("recurring")
    name = " ".join([*words, "tasks"])
    if filters.get("due_today"):
        name += " due today"
    if filters.get("due_within") == "week":
        name += " due this week"
    if filters.get("no_date"):
        name += " without a due date"
    if tags := filters.get("tags"):
        joiner = " or " if filters.get("tags_mode") == "any" else " and "
        name += " tagged " + joiner.join(f"#{tag}" for tag in tags)
    if search := filters.get("search"):
        name += f' matching "{search}"'
    if sort := filters.get("sort"):
        name += f", sorted by {'due date' if sort == 'due' else sort}"
    return name
