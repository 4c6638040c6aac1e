"""The assistant that works without a language model: the grammar of intents.py for what to do,
the quick-add parser for what a task says, and the task tools to do it.

It never guesses. A message outside the grammar gets "Sorry, I didn't understand", a reference
that matches several tasks gets a question listing them, and whatever the quick-add parser found
ambiguous is shown to the user. It answers in the language of the message (English, Roman Urdu
or Urdu: intents.language, the sentences in phrases.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from mcp.server.mcpserver.exceptions import ToolError

from taskflow.chat import intents, phrases
from taskflow.chat.conversations import ChatMessage
from taskflow.chat.phrases import Language
from taskflow.chat.reply import Reply
from taskflow.chat.tools import LIST_LIMIT_MAX, ChangeNotConfirmed, TaskTools
from taskflow.chat.words import describe_minutes, describe_offset, describe_rule
from taskflow.domain import when
from taskflow.domain.errors import DomainError
from taskflow.domain.model import Priority, Task
from taskflow.domain.quickadd import QuickAdd, is_time_alone, parse_quick_add, parse_when

# Which tasks a reference by words may mean, per action: you complete what is open, reopen what
# is done, and may delete or change anything.
_REF_STATUS = {
    "complete_task": "pending",
    "skip_occurrence": "pending",
    "stop_repeating": "pending",
    "snooze_reminder": "pending",
    "uncomplete_task": "completed",
}
# How each change is reversed by "undo": the tool that undoes it (what to say: phrases.py,
# "undo_<tool of the change>").
_REVERSALS = {
    "add_task": "delete_task",
    "delete_task": "restore_task",
    "complete_task": "uncomplete_task",
    "uncomplete_task": "complete_task",
    "restore_task": "delete_task",
}
_CHANGES = frozenset(
    [*_REVERSALS, "update_task", "skip_occurrence", "stop_repeating", "snooze_reminder"]
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
        self._language: Language = "en"

    def reply(self, history: list[ChatMessage], message: str) -> Reply:
        """One message, read with the conversation's history for "it" (the task in focus: the
        last one a tool of this conversation touched) and for "undo"."""
        reply = Reply("")
        intent = intents.parse(message)
        self._history = history
        self._language = intents.language(message)
        try:
            reply.text = self._answer(intent, reply)
        except _EndOfTurn as answer:
            reply.text = answer.text
        except ChangeNotConfirmed:
            reply.text = self._say("unconfirmed")
        except ToolError as error:
            reply.text = self._say("failed", error=error)
        return reply

    def _say(self, key: str, **values: Any) -> str:
        return phrases.say(self._language, key, **values)

    def _name(self, result: dict[str, Any]) -> str:
        return phrases.say(self._language, "task", id=result["task_id"], title=result["title"])

    # --- one method per intent ----------------------------------------------------------------

    def _answer(self, intent: intents.Intent, reply: Reply) -> str:
        match intent:
            case intents.Help(greeting=True):
                return self._say("hello", help=self._say("help"))
            case intents.Help():
                return self._say("help")
            case intents.Thanks():
                return self._say("thanks")
            case intents.NotUnderstood(message=message):
                return self._say("not_understood", message=message.strip(), help=self._say("help"))
            case intents.AddTask():
                return self._add(intent, reply)
            case intents.ListTasks(filters=filters):
                tasks = self._call(reply, "list_tasks", **self._dated(filters))
                return self._describe_list(tasks, filters)
            case intents.ShowTask(ref=ref):
                return self._show(ref, reply)
            case intents.ActOnTask():
                return self._act(intent, reply)
            case intents.ActOnMany():
                return self._act_on_many(intent, reply)
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
        text = self._say("added", task=self._name(result), details=self._details(arguments))
        return text + self._ambiguities(parsed)

    def _show(self, ref: intents.TaskRef, reply: Reply) -> str:
        """The task's line as a listing shows it, then its notes and reminders."""
        task_id = self._resolve(ref, "show_task", reply)
        task = self._recent_task(task_id)
        if task is None:
            return self._say("failed", error=f"task {task_id} not found")
        lines = [self._line(task)]
        if task.get("description"):
            lines.append(task["description"])
        lines += self._reminder_words(task.get("reminders") or [])
        return "\n".join(lines)

    def _act(self, intent: intents.ActOnTask, reply: Reply) -> str:
        task_id = self._resolve(intent.ref, intent.action, reply)
        result = self._call(reply, intent.action, task_id=task_id, **intent.arguments)
        values = dict(intent.arguments)
        if "minutes" in values:
            values["duration"] = describe_minutes(values["minutes"])  # "1 hour", not "60 minutes"
        text = self._say(intent.action, task=self._name(result), **values)
        if intent.action == "complete_task":
            return text + self._coming_next(task_id)
        return text + self._next_occurrence(result)

    def _act_on_many(self, intent: intents.ActOnMany, reply: Reply) -> str:
        """The action on each task the filters list (at most a page of them); refused without a
        filter, so one message never completes or deletes every task. "undo" reverses all."""
        if len(intent.task_ids) > LIST_LIMIT_MAX:  # one message, a bounded amount of work
            return self._say("too_many", limit=LIST_LIMIT_MAX)
        if intent.task_ids:
            ids = list(intent.task_ids)  # each one checked by the tool: only the user's own
        else:
            if not {key for key in intent.filters if key not in ("sort", "order")}:
                return self._say("many_needs_filter")
            filters = dict(intent.filters)
            if intent.action == "complete_task":
                filters["status"] = "pending"
            tasks = self._call(reply, "list_tasks", **self._dated(filters), limit=LIST_LIMIT_MAX)
            if not tasks:
                return self._say("list_empty", what=_list_name(filters, self._language))
            ids = [task["id"] for task in tasks]
        done, refused = [], []
        for task_id in ids:  # one refused ("task 7 not found") stops none of the others
            try:
                done.append(self._call(reply, intent.action, task_id=task_id))
            except ToolError as error:
                refused.append(str(error))
        text = ""
        if done:
            names = ", ".join(self._name(result) for result in done)
            count = self._say("task_count", n=len(done), s="" if len(done) == 1 else "s")
            text = self._say(f"{intent.action}_many", count=count, tasks=names)
        if refused:
            text += (" " if text else "") + self._say("failed", error="; ".join(refused))
        return text

    def _coming_next(self, task_id: int) -> str:
        """After completing a repeating task: when the next one is due. spawn-recurrence makes
        it a moment later from the same rule, the same zone and this completion's moment
        (Task.next_occurrence), so the reply can say it now; nothing when the series ended."""
        task = self._recent_task(task_id)
        if not task or not task.get("recurrence") or not task.get("completed_at"):
            return ""
        try:
            following = Task.from_dict(task).next_occurrence(
                self._tz, completed_at=datetime.fromisoformat(task["completed_at"])
            )
        except DomainError:
            return ""
        if following is None:
            return ""
        due = self._due_text(following.to_dict() | {"completed": True})
        return self._say("next_coming", due=due) if due else ""

    def _change(self, intent: intents.ChangeTask, reply: Reply) -> str:
        task_id = self._resolve(intent.ref, "update_task", reply)
        changes: dict[str, Any] = {}
        notes = ""
        if intent.literal:
            changes["title"] = intent.text
        elif intent.text:
            # Read as parse_when does: "change the dentist to p1" or "... to friday 5pm" names
            # only new options, and the title stays (it became "p1" before). Text left over
            # beside them is the new title; text that is only a title renames.
            parsed = parse_when(intent.text, self._tz, now=self._now())
            changes = _task_fields(parsed)
            if parsed.title or not changes:
                changes = {"title": parsed.title or intent.text, **changes}
            notes = self._ambiguities(parsed)
        if intent.priority:
            changes["priority"] = Priority.parse(intent.priority).value  # p1..p4 too
        if intent.tags_added or intent.tags_removed or intent.untag_all:
            changes["tags"] = self._retagged(task_id, intent)
        if intent.clear_reminders:
            changes["reminders"] = []
        if intent.description is not None:
            changes["description"] = intent.description
        if intent.note is not None:
            notes_now = ((self._recent_task(task_id) or {}).get("description") or "").rstrip()
            changes["description"] = f"{notes_now}\n{intent.note}" if notes_now else intent.note
        if intent.reminder_in_minutes is not None:
            at = self._now() + timedelta(minutes=intent.reminder_in_minutes)
            changes["reminders"] = [*self._kept_reminders(task_id), {"at": at.isoformat()}]
        if intent.clear_due:
            changes["due"] = ""  # update_task's way to clear a due
        if intent.reminder_minutes is not None:
            kept = self._kept_reminders(task_id)
            changes["reminders"] = [*kept, {"before_minutes": intent.reminder_minutes}]
        if intent.shift_minutes is not None:
            task = self._recent_task(task_id) or {}
            if task.get("due_at"):
                moved = datetime.fromisoformat(task["due_at"]).astimezone(self._tz)
                # On the wall clock: "by a day" is the same time tomorrow, across DST too.
                local = moved.replace(tzinfo=None) + timedelta(minutes=intent.shift_minutes)
                changes["due"] = local.replace(tzinfo=self._tz).isoformat()
            elif task.get("due_date") and intent.shift_minutes % 1440 == 0:
                day = date.fromisoformat(task["due_date"])
                changes["due"] = (day + timedelta(days=intent.shift_minutes // 1440)).isoformat()
            else:
                name = self._name({"task_id": task_id, "title": task.get("title", "")})
                return self._say("no_due_to_shift", task=name)
        if intent.due_text:
            parsed = parse_when(intent.due_text, self._tz, now=self._now())
            due = _due(parsed)
            if due is None:
                return self._say("no_date", text=intent.due_text)
            if parsed.due_date is not None:
                due = self._keeping_time(task_id, parsed.due_date) or due
            elif parsed.due_at is not None and is_time_alone(intent.due_text):
                due = self._keeping_day(task_id, parsed.due_at) or due
            changes["due"] = due
            notes = self._ambiguities(parsed)
        result = self._call(reply, "update_task", task_id=task_id, **changes)
        shown = {key: value for key, value in changes.items() if key != "title"}
        text = self._say("updated", task=self._name(result), details=self._details(shown))
        if "due" in changes:
            text += self._series_after_move(task_id)
        return text + notes

    def _kept_reminders(self, task_id: int) -> list[dict[str, Any]]:
        """The task's reminders as update_task takes them, to add one beside them."""
        return [
            {"at": r["at"]} if r.get("at") else {"before_minutes": r["before_minutes"]}
            for r in (self._recent_task(task_id) or {}).get("reminders") or []
        ]

    def _retagged(self, task_id: int, intent: intents.ChangeTask) -> list[str]:
        """The task's tags with the ones named added or taken away (all of them: untag)."""
        if intent.untag_all:
            return []
        tags = list((self._recent_task(task_id) or {}).get("tags") or [])
        tags += [tag for tag in intent.tags_added if tag not in tags]
        return [tag for tag in tags if tag not in intent.tags_removed]

    def _keeping_day(self, task_id: int, moment: datetime) -> str | None:
        """ "move the dentist to 5pm": a task due on Thursday stays on Thursday, at 17:00 (not
        today at 17:00). None when the task has no due."""
        task = self._recent_task(task_id) or {}
        day = self._due_day(task)
        if day is None:
            return None
        clock = moment.astimezone(self._tz).time()
        return datetime.combine(day, clock, tzinfo=self._tz).isoformat()

    def _series_after_move(self, task_id: int) -> str:
        """A repeating task whose due was moved: this occurrence moved, the series goes on from
        the new due (the schedule is re-anchored there, specs/task-domain.md); the reply says
        how it repeats and when the one after it falls, as spawn-recurrence will make it."""
        task = self._recent_task(task_id)
        if not task or not task.get("recurrence") or task.get("completed"):
            return ""
        try:
            following = Task.from_dict(task).next_occurrence(self._tz, completed_at=self._now())
        except DomainError:
            return ""
        if following is None:
            return ""
        rule = task["recurrence"]
        repeat = describe_rule(rule["rule"], rule.get("mode"), self._due_day(task))
        due = self._due_text(following.to_dict() | {"completed": True})
        return self._say("series_after_move", repeat=repeat, due=due)

    def _keeping_time(self, task_id: int, day: date) -> str | None:
        """ "move the dentist to thursday": a task due at 15:00 stays at 15:00, on the new day
        (it became an all-day task before). None when the task has no time of day."""
        task = self._recent_task(task_id)
        if task is None or not task.get("due_at"):
            return None
        clock = datetime.fromisoformat(task["due_at"]).astimezone(self._tz).time()
        return datetime.combine(day, clock, tzinfo=self._tz).isoformat()

    def _recent_task(self, task_id: int) -> dict[str, Any] | None:
        """The task as it is now, read by its id among all of the user's tasks (however many
        and however old). A look, not a recorded tool call."""
        return self._tools.task(task_id)

    def _undo(self, reply: Reply) -> str:
        """Reverse the assistant's last change in this conversation; a second "undo" reverses
        the change before it (each undo turn cancels one earlier change turn)."""
        target = _last_change(self._history)
        if target is None:
            return self._say("nothing_to_undo")
        changes = [c for c in target if c["name"] in _CHANGES and "error" not in _result(c)]
        lines = []
        for call in reversed(changes):
            tool = _REVERSALS.get(call["name"])
            task_id = _result(call).get("task_id")
            if tool is None or task_id is None:
                lines.append(self._say("cannot_undo", id=task_id))
                continue
            result = self._call(reply, tool, task_id=task_id)
            lines.append(
                self._say(f"undo_{call['name']}", task=self._name(result))
                + self._next_occurrence(result)
            )
        return " ".join(lines)

    def _next_occurrence(self, result: dict[str, Any]) -> str:
        """What reopening a repeating task did to the next occurrence its completion had
        scheduled (uncomplete_task's `next_occurrence`): taken back, or kept because the user
        changed it since. Said, so the reply matches the list."""
        following = result.get("next_occurrence")
        if not isinstance(following, dict):
            return ""
        due = self._due_text(following | {"completed": True})  # "(overdue)" would nest
        key = "next_withdrawn" if following["status"] == "withdrawn" else "next_kept"
        name = self._name(following)
        return self._say(key, task=name, due=f" ({due})" if due else "")

    def _ambiguities(self, parsed: QuickAdd) -> str:
        if not parsed.ambiguities:
            return ""
        # Each note is a sentence; the phrase ends them with its own full stop.
        notes = "; ".join(str(note).rstrip(".") for note in parsed.ambiguities)
        return self._say("check", notes=notes)

    def _dated(self, filters: dict[str, Any]) -> dict[str, Any]:
        """list_tasks arguments with "this week" as dates (today to Sunday), "tomorrow" as that
        one day, "next week" as its Monday to Sunday and "this month" as today to its last day,
        in the user's zone."""
        within = filters.get("due_within")
        if within is None:
            return filters
        today = self._today()
        sunday = today + timedelta(days=6 - today.weekday())
        first, last = {
            "week": (today, sunday),
            "tomorrow": (today + timedelta(days=1), today + timedelta(days=1)),
            "next_week": (sunday + timedelta(days=1), sunday + timedelta(days=7)),
            "month": (today, today + relativedelta(day=31)),  # stops at the month's last day
        }[within]
        rest = {key: value for key, value in filters.items() if key != "due_within"}
        return rest | {"due_from": first.isoformat(), "due_to": last.isoformat(), "sort": "due"}

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
                raise _EndOfTurn(self._say("no_focus"))
            return focus
        status = _REF_STATUS.get(action, "all")
        # By the title first, among all of the user's tasks (a query, not a scan of the recent
        # ones); only when no title has the words, by description and tags too.
        matches = self._call(reply, "list_tasks", title=ref.words, status=status)
        if not matches:
            matches = self._call(reply, "list_tasks", search=ref.words, status=status)
        named = [task for task in matches if _same_words(task["title"], ref.words)]
        if len(named) == 1:  # "delete rent" with "rent" and "rent a car": the one named so
            return int(named[0]["id"])
        if len(matches) == 1:
            return int(matches[0]["id"])
        kind = phrases.KINDS[self._language].get(status, "")
        if not matches:
            raise _EndOfTurn(self._say("not_found", kind=kind, words=ref.words))
        options = ", ".join(f"#{task['id']} {task['title']}" for task in matches[:10])
        example = phrases.example(self._language, action, matches[0]["id"])
        raise _EndOfTurn(
            self._say("several", kind=kind, words=ref.words, options=options, example=example)
        )

    def _describe_list(self, tasks: list[dict[str, Any]], filters: dict[str, Any]) -> str:
        what = _list_name(filters, self._language)
        if not tasks:
            return self._say("list_empty", what=what)
        lines = [self._say("list_head", what=what, count=len(tasks))]
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
            overdue = not task.get("completed") and due_day < self._today()
            text = f"due {when.say_day(due_day, today=self._today())}"
        elif task.get("due_at"):
            moment = datetime.fromisoformat(task["due_at"])
            overdue = not task.get("completed") and moment < self._now()
            text = f"due {when.say_moment(moment, self._tz, now=self._now())}"
        else:
            return ""
        return text + (" (overdue)" if overdue else "")

    def _reminder_words(self, reminders: list[dict[str, Any]]) -> list[str]:
        """ "reminder 1 hour before", "reminder Fri 4 Dec 09:00": one per reminder."""
        words = []
        for reminder in reminders:
            if reminder.get("before_minutes") is not None:
                words.append("reminder " + describe_offset(reminder["before_minutes"]))
            elif reminder.get("at"):
                at = datetime.fromisoformat(reminder["at"])
                words.append(f"reminder {when.say_moment(at, self._tz, now=self._now())}")
        return words

    def _today(self) -> date:
        return self._now().astimezone(self._tz).date()

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
        if notes := fields.get("description"):
            shown = notes if len(notes) <= 60 else notes[:59].rstrip() + "…"
            parts.append(f'notes "{shown}"'.replace("\n", " / "))
        # Emptied by a change: said, or the reply would name nothing that changed.
        parts += [f"no {name}" for key, name in _EMPTIED if key in fields and not fields[key]]
        if recurrence := fields.get("recurrence"):
            due = fields.get("due")
            task = {} if not due else {"due_date": due} if len(due) == 10 else {"due_at": due}
            parts.append(
                describe_rule(recurrence["rule"], recurrence.get("mode"), self._due_day(task))
            )
        parts += self._reminder_words(fields.get("reminders") or [])
        if not parts:
            return ""
        # In Urdu the English details would break the right-to-left sentence: a line of their own.
        return ("\n" if self._language == "ur" else " — ") + ", ".join(parts)


_EMPTIED = (("due", "due date"), ("tags", "tags"), ("reminders", "reminders"))
# How a listing's name says its dates (_dated turns each into due_from and due_to).
_DUE_WITHIN_NAMES = {
    "week": " due this week",
    "tomorrow": " due tomorrow",
    "next_week": " due next week",
    "month": " due this month",
}


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


def _same_words(title: str, words: str) -> bool:
    return title.casefold().split() == words.casefold().split()


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


def _list_name(filters: dict[str, Any], language: Language = "en") -> str:
    if language != "en":
        return _list_name_in_urdu(filters, language)
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
    name += _DUE_WITHIN_NAMES.get(filters.get("due_within", ""), "")
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


def _list_name_in_urdu(filters: dict[str, Any], language: Language) -> str:
    """ "aaj ke baqi tasks", "آج کے باقی کام": when, which, the noun; then tags and search words
    as they are. A filter only the English grammar reaches is named in English after them."""
    words = phrases.LIST_WORDS[language]
    parts = []
    if filters.get("due_today"):
        parts.append(words["today"])
    if filters.get("due_within") in ("week", "tomorrow"):
        parts.append(words[filters["due_within"]])
    if filters.get("overdue"):
        parts.append(words["overdue"])
    elif filters.get("status") in ("pending", "completed"):
        parts.append(words[filters["status"]])
    if filters.get("priority") == "high":
        parts.append(words["high"])
    parts.append(words["tasks"])
    if tags := filters.get("tags"):
        parts.append(" ".join(f"#{tag}" for tag in tags))
    if search := filters.get("search"):
        parts.append(f'"{search}"')
    rest = {
        key: value
        for key, value in filters.items()
        if key in _ENGLISH_ONLY_FILTERS or (key == "due_within" and value in ("next_week", "month"))
    }
    if rest:
        parts.append("(" + _list_name(rest).replace("tasks", "").strip(" ,") + ")")
    return " ".join(parts)


# Filters Roman Urdu and Urdu reach only through English words ("recurring tasks dikhao").
_ENGLISH_ONLY_FILTERS = frozenset(["no_date", "recurring", "sort", "order"])
