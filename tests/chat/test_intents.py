"""The offline grammar: what each everyday phrase asks for, and what it refuses to guess."""

from __future__ import annotations

import re

import pytest
from taskflow.chat import phrases
from taskflow.chat.intents import (
    ActOnMany,
    ActOnTask,
    AddTask,
    ChangeTask,
    Help,
    ListTasks,
    NotUnderstood,
    ShowTask,
    TaskRef,
    Thanks,
    Undo,
    language,
    parse,
)
from taskflow.chat.phrases import Language


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        # The original design's phrase table.
        ("Add a task to buy groceries", AddTask("buy groceries")),
        ("Show me all my tasks", ListTasks({})),
        ("What's pending?", ListTasks({"status": "pending"})),
        ("Mark task 3 as complete", ActOnTask("complete_task", TaskRef(task_id=3))),
        ("Delete the meeting task", ActOnTask("delete_task", TaskRef(words="meeting"))),
        (
            "Change task 1 to 'Call mom tonight'",
            ChangeTask(TaskRef(task_id=1), text="Call mom tonight", literal=True),
        ),
        ("I need to remember to pay bills", AddTask("pay bills")),
        ("What have I completed?", ListTasks({"status": "completed"})),
        # Beyond it.
        (
            "add buy milk tomorrow at 5pm every week p1 #groceries remind me 30 min before",
            AddTask("buy milk tomorrow at 5pm every week p1 #groceries remind me 30 min before"),
        ),
        ("remind me to call the bank at 9am", AddTask("call the bank at 9am", remind_at_due=True)),
        ("find tasks about milk", ListTasks({"search": "milk"})),
        ("search for dentist", ListTasks({"search": "dentist"})),
        ("what's overdue", ListTasks({"overdue": True, "status": "pending"})),
        ("high priority tasks", ListTasks({"priority": "high"})),
        ("tasks tagged home", ListTasks({"tags": ["home"]})),
        ("show #work tasks", ListTasks({"tags": ["work"]})),
        (
            "tasks tagged home or garden",
            ListTasks({"tags": ["home", "garden"], "tags_mode": "any"}),
        ),
        ("show my tasks sorted by due date", ListTasks({"sort": "due", "order": "asc"})),
        (
            "pending tasks sorted by priority",
            ListTasks({"sort": "priority", "order": "desc", "status": "pending"}),
        ),
        ("what is due today", ListTasks({"due_today": True})),
        ("list tasks without a due date", ListTasks({"no_date": True})),
        ("show recurring tasks", ListTasks({"recurring": True})),
        ("complete the milk task", ActOnTask("complete_task", TaskRef(words="milk"))),
        ("reopen task 4", ActOnTask("uncomplete_task", TaskRef(task_id=4))),
        ("skip task 5", ActOnTask("skip_occurrence", TaskRef(task_id=5))),
        ("stop repeating task 5", ActOnTask("stop_repeating", TaskRef(task_id=5))),
        (
            "snooze task 2 for 1 hour",
            ActOnTask("snooze_reminder", TaskRef(task_id=2), {"minutes": 60}),
        ),
        # "snooze" alone, as a user answers a reminder: the task in focus, 10 minutes.
        ("snooze", ActOnTask("snooze_reminder", TaskRef(focus=True), {"minutes": 10})),
        (
            "snooze for 30 minutes",
            ActOnTask("snooze_reminder", TaskRef(focus=True), {"minutes": 30}),
        ),
        ("make task 4 high priority", ChangeTask(TaskRef(task_id=4), priority="high")),
        ("move task 2 to friday", ChangeTask(TaskRef(task_id=2), due_text="friday")),
        ("help", Help()),
        ("add milk #دودھ", AddTask("milk #دودھ")),
        # Roman Urdu and Urdu day and repeat words reach quick-add in English.
        ("doodh lena kal 5pm add karo", AddTask("doodh lena tomorrow 5pm")),
        ("gym jana har roz add karo", AddTask("gym jana every day")),
        ("yaad rakho: kiraya dena parson", AddTask("kiraya dena in 2 days")),
        ("دودھ لینا کل شامل کرو", AddTask("دودھ لینا tomorrow")),
        ("ورزش روزانہ شامل کرو", AddTask("ورزش every day")),
        # Urdu in its own script (Urdu digits too).
        ("دودھ لینا شامل کرو", AddTask("دودھ لینا")),
        ("یاد رکھو: بل دینا", AddTask("بل دینا")),
        ("میرے کام دکھاؤ", ListTasks({})),
        ("آج کے باقی کام دکھاؤ؟", ListTasks({"due_today": True, "status": "pending"})),
        ("مکمل کام بتاؤ", ListTasks({"status": "completed"})),
        ("کام ۳ ہو گیا", ActOnTask("complete_task", TaskRef(task_id=3))),
        ("دودھ والا کام مکمل کرو", ActOnTask("complete_task", TaskRef(words="دودھ"))),
        ("کام 4 حذف کرو", ActOnTask("delete_task", TaskRef(task_id=4))),
        ("اسے ہٹا دو", ActOnTask("delete_task", TaskRef(focus=True))),
        ("یہ ہو گیا", ActOnTask("complete_task", TaskRef(focus=True))),
        ("واپس کرو", Undo()),
        ("hello there", Help(greeting=True)),
        ("thank you", Thanks()),
        (
            "remind me about the dentist 2 hours before",
            ChangeTask(TaskRef(words="dentist"), reminder_minutes=120),
        ),
        ("remind me a day before", ChangeTask(TaskRef(focus=True), reminder_minutes=1440)),
        ("push it by a day", ChangeTask(TaskRef(focus=True), shift_minutes=1440)),
        ("move task 3 by 2 hours", ChangeTask(TaskRef(task_id=3), shift_minutes=120)),
        ("push it back a day", ChangeTask(TaskRef(focus=True), shift_minutes=1440)),
        (
            "postpone the dentist to next week",
            ChangeTask(TaskRef(words="dentist"), due_text="next week"),
        ),
        ("push gym to tomorrow", ChangeTask(TaskRef(words="gym"), due_text="tomorrow")),
        ("delay the report until monday", ChangeTask(TaskRef(words="report"), due_text="monday")),
        ("reschedule task 3 for friday 5pm", ChangeTask(TaskRef(task_id=3), due_text="friday 5pm")),
        ("what's due tomorrow", ListTasks({"due_within": "tomorrow"})),
        # A field of a task, named: its due, its tags, its reminders.
        (
            "change the due date of the report to next monday",
            ChangeTask(TaskRef(words="report"), due_text="next monday"),
        ),
        (
            "set dentist's due date to friday 4pm",
            ChangeTask(TaskRef(words="dentist"), due_text="friday 4pm"),
        ),
        ("remove the due date from task 3", ChangeTask(TaskRef(task_id=3), clear_due=True)),
        (
            "tag the dentist with #health",
            ChangeTask(TaskRef(words="dentist"), tags_added=("health",)),
        ),
        (
            "tag it as health, teeth",
            ChangeTask(TaskRef(focus=True), tags_added=("health", "teeth")),
        ),
        (
            "add #urgent and #teeth to the dentist",
            ChangeTask(TaskRef(words="dentist"), tags_added=("urgent", "teeth")),
        ),
        ("remove #work from task 2", ChangeTask(TaskRef(task_id=2), tags_removed=("work",))),
        (
            "remove the tag work from the report",
            ChangeTask(TaskRef(words="report"), tags_removed=("work",)),
        ),
        ("untag task 2", ChangeTask(TaskRef(task_id=2), untag_all=True)),
        (
            "remove the reminder from the dentist",
            ChangeTask(TaskRef(words="dentist"), clear_reminders=True),
        ),
        ("don't remind me about it", ChangeTask(TaskRef(focus=True), clear_reminders=True)),
        ("add buy milk to my list", AddTask("buy milk")),
        ("add #work to my list", AddTask("#work")),  # no task is called "my list"
        ("sort by priority", ListTasks({"sort": "priority", "order": "desc"})),
        ("what's due next week", ListTasks({"due_within": "next_week"})),
        ("show tasks due this month", ListTasks({"due_within": "month"})),
        (
            "what's overdue and high priority",
            ListTasks({"priority": "high", "overdue": True, "status": "pending"}),
        ),
        # The when before the what.
        (
            "remind me tomorrow at 9am to call mom",
            AddTask("call mom tomorrow at 9am", remind_at_due=True),
        ),
        (
            "remind me in 30 minutes to check the oven",
            AddTask("check the oven in 30 minutes", remind_at_due=True),
        ),
        (
            "set a reminder for friday 5pm to pay rent",
            AddTask("pay rent friday 5pm", remind_at_due=True),
        ),
        ("done with task 3", ActOnTask("complete_task", TaskRef(task_id=3))),
        # Every task a listing names.
        ("delete all completed tasks", ActOnMany("delete_task", {"status": "completed"})),
        ("clear completed", ActOnMany("delete_task", {"status": "completed"})),
        ("complete all tasks due today", ActOnMany("complete_task", {"due_today": True})),
        (
            "mark all overdue tasks as done",
            ActOnMany("complete_task", {"overdue": True, "status": "pending"}),
        ),
        ("delete all my tasks tagged work", ActOnMany("delete_task", {"tags": ["work"]})),
        ("mark everything as done", ActOnMany("complete_task", {})),  # refused by the assistant
        ("delete all", ActOnMany("delete_task", {})),
        ("complete task 3 and 4", ActOnMany("complete_task", task_ids=(3, 4))),
        ("delete tasks 3, 4 and 7", ActOnMany("delete_task", task_ids=(3, 4, 7))),
        # The title and the notes, named: taken as they are.
        (
            "change the title of task 2 to buy oat milk friday",
            ChangeTask(TaskRef(task_id=2), text="buy oat milk friday", literal=True),
        ),
        (
            "rename the dentist to orthodontist",
            ChangeTask(TaskRef(words="dentist"), text="orthodontist", literal=True),
        ),
        (
            "update task 3 description to bring forms",
            ChangeTask(TaskRef(task_id=3), description="bring forms"),
        ),
        (
            "set the notes of the dentist to 'bring forms'",
            ChangeTask(TaskRef(words="dentist"), description="bring forms"),
        ),
        (
            "add a note to task 3: bring insurance card",
            ChangeTask(TaskRef(task_id=3), note="bring insurance card"),
        ),
        (
            "remind me about task 3 in 10 minutes",
            ChangeTask(TaskRef(task_id=3), reminder_in_minutes=10),
        ),
        (
            "snooze the dentist reminder for 15 minutes",
            ActOnTask("snooze_reminder", TaskRef(words="dentist"), {"minutes": 15}),
        ),
        ("uncheck task 2", ActOnTask("uncomplete_task", TaskRef(task_id=2))),
        ("do I have anything due tomorrow?", ListTasks({"due_within": "tomorrow"})),
        (
            "what should I do next",
            ListTasks({"status": "pending", "sort": "due", "order": "asc"}),
        ),
        # One task in full.
        ("show task 3", ShowTask(TaskRef(task_id=3))),
        ("what's task 12", ShowTask(TaskRef(task_id=12))),
        ("tell me about the dentist", ShowTask(TaskRef(words="dentist"))),
        ("show me the details of the report", ShowTask(TaskRef(words="report"))),
        ("describe it", ShowTask(TaskRef(focus=True))),
        ("show overdue", ListTasks({"overdue": True, "status": "pending"})),
        ("I've finished the report", ActOnTask("complete_task", TaskRef(words="report"))),
    ],
)
def test_phrase_means(message: str, intent: object) -> None:
    assert parse(message) == intent


@pytest.mark.parametrize(
    "message",
    [
        "what is the meaning of life",
        "hello there, how is the weather",
        "buy milk",  # no verb: adding it would be a guess
        "show me the tasks of the yellow submarine",
        "   ",
    ],
)
def test_phrase_outside_the_grammar_is_not_understood(message: str) -> None:
    assert parse(message) == NotUnderstood(message)


@pytest.mark.parametrize(
    ("message", "answer_in"),
    [
        ("doodh lena add karo", "ur-Latn"),
        ("mere tasks dikhao", "ur-Latn"),
        ("task 3 ho gaya", "ur-Latn"),
        ("ise delete karo", "ur-Latn"),
        ("wapas karo", "ur-Latn"),
        ("میرے کام دکھاؤ", "ur"),
        ("add milk #دودھ", "en"),  # an Urdu tag in an English sentence
        ("کام 3 delete کرو", "ur"),  # most letters are Urdu
        ("add call Ki and Ko tomorrow", "en"),  # names are not Roman Urdu
        ("done", "en"),
        ("undo", "en"),
    ],
)
def test_the_answer_is_in_the_language_of_the_message(message: str, answer_in: str) -> None:
    assert language(message) == answer_in


@pytest.mark.parametrize("language_code", ["en", "ur-Latn", "ur"])
def test_every_example_the_help_gives_is_understood(language_code: Language) -> None:
    examples = re.findall(r'"([^"]+)"', phrases.say(language_code, "help"))
    assert len(examples) >= 5
    for example in examples:
        assert not isinstance(parse(example), NotUnderstood), example
