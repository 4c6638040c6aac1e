"""What the offline assistant says, in the language the user wrote in: English, Roman Urdu
(`ur-Latn`) or Urdu in its own script (`ur`). intents.language() tells which.

One table, one sentence frame per key and language, so a reply reads the same whichever intent
led to it. Task titles, dates, tags and the plain-word repeats ("every 2 days") are data and stay
as they are; the frames around them are translated. In Urdu those English details go on a line
of their own, which the page shows left to right inside the right-to-left answer.
specs/chat.md lists the phrases.
"""

# ruff: noqa: RUF001  (Urdu text: its full stop and question mark are meant, not look-alikes)

from __future__ import annotations

from typing import Any, Literal

Language = Literal["en", "ur-Latn", "ur"]

_EN_EXAMPLES = (
    '"add buy milk tomorrow at 5pm #groceries p1"',
    '"show my pending tasks"',
    '"what\'s overdue?"',
    '"find tasks about milk"',
    '"mark task 3 as complete"',
    '"delete the meeting task"',
    "\"change task 1 to 'Call mom tonight'\"",
    '"snooze task 2 for 30 minutes"',
    '"what\'s due this week?"',
    '"remind me tomorrow at 9am to call mom"',
    '"tag it with #work"',
    '"clear completed"',
    '"delete it"',
    '"undo"',
)
_RU_EXAMPLES = (
    '"doodh lena kal 5pm add karo"',
    '"mere tasks dikhao"',
    '"aaj ke tasks dikhao"',
    '"task 3 ho gaya"',
    '"doodh wala task mita do"',
    '"ise delete karo"',
    '"undo karo"',
)
_UR_EXAMPLES = (
    '"دودھ لینا شامل کرو"',
    '"میرے کام دکھاؤ"',
    '"آج کے کام دکھاؤ"',
    '"کام 3 ہو گیا"',
    '"کام 3 حذف کرو"',
    '"اسے حذف کرو"',
    '"واپس کرو"',
)

PHRASES: dict[str, dict[Language, str]] = {
    "help": {
        "en": "You can say, for example: " + ", ".join(_EN_EXAMPLES) + ".",
        "ur-Latn": "Aap keh sakte hain, maslan: " + ", ".join(_RU_EXAMPLES) + ".",
        "ur": "آپ کہہ سکتے ہیں، مثلاً: " + "، ".join(_UR_EXAMPLES) + "۔",
    },
    "hello": {
        "en": "Hello! {help}",
        "ur-Latn": "Assalam o alaikum! {help}",
        "ur": "السلام علیکم! {help}",
    },
    "thanks": {
        "en": "You're welcome.",
        "ur-Latn": "Koi baat nahin.",
        "ur": "کوئی بات نہیں۔",
    },
    "not_understood": {
        "en": 'Sorry, I didn\'t understand "{message}". {help}',
        "ur-Latn": 'Maaf kijiye, main "{message}" nahin samjha. {help}',
        "ur": 'معاف کیجیے، میں "{message}" نہیں سمجھا۔ {help}',
    },
    # Not "that did not work": the change may have been applied, and asking again could apply
    # it twice.
    "unconfirmed": {
        "en": "I can't tell whether that worked: the task service did not confirm it, so it may "
        'have been applied. Your task list will show it ("show my tasks"); check it before '
        "asking again, so it is not done twice.",
        "ur-Latn": "Mujhe pata nahin chal saka ke ye hua ya nahin: task service ne tasdeeq nahin "
        'ki, shayad ho gaya ho. Dobara kehne se pehle apni list dekh lein ("mere tasks '
        'dikhao"), taake ye do baar na ho.',
        "ur": "مجھے معلوم نہیں ہو سکا کہ یہ ہوا یا نہیں: ٹاسک سروس نے تصدیق نہیں کی، شاید ہو گیا "
        'ہو۔ دوبارہ کہنے سے پہلے اپنی فہرست دیکھ لیں ("میرے کام دکھاؤ")، تاکہ یہ دو بار نہ ہو۔',
    },
    "failed": {
        "en": "That did not work: {error}",
        "ur-Latn": "Ye nahin ho saka: {error}",
        "ur": "یہ نہیں ہو سکا: {error}",
    },
    "task": {
        "en": 'task #{id} "{title}"',
        "ur-Latn": 'task #{id} "{title}"',
        "ur": 'کام #{id} "{title}"',
    },
    "added": {
        "en": "Added {task}{details}.",
        "ur-Latn": "{task} add kar diya{details}.",
        "ur": "{task} شامل کر دیا۔{details}",
    },
    "updated": {
        "en": "Updated {task}{details}.",
        "ur-Latn": "{task} badal diya{details}.",
        "ur": "{task} بدل دیا۔{details}",
    },
    "complete_task": {
        "en": "Marked {task} as complete.",
        "ur-Latn": "{task} mukammal ho gaya.",
        "ur": "{task} مکمل ہو گیا۔",
    },
    "uncomplete_task": {
        "en": "Marked {task} as not done.",
        "ur-Latn": "{task} dobara baqi kar diya.",
        "ur": "{task} دوبارہ باقی کر دیا۔",
    },
    "delete_task": {
        "en": "Deleted {task}.",
        "ur-Latn": "{task} delete kar diya.",
        "ur": "{task} حذف کر دیا۔",
    },
    "complete_task_many": {
        "en": "Marked {count} as complete: {tasks}.",
        "ur-Latn": "{count} mukammal ho gaye: {tasks}.",
        "ur": "{count} مکمل ہو گئے: {tasks}۔",
    },
    "delete_task_many": {
        "en": 'Deleted {count}: {tasks}. Say "undo" to bring them back.',
        "ur-Latn": '{count} delete kar diye: {tasks}. Wapas laane ke liye "undo" kahein.',
        "ur": '{count} حذف کر دیے: {tasks}۔ واپس لانے کے لیے "واپس کرو" کہیں۔',
    },
    "too_many": {
        "en": "I act on at most {limit} tasks at once; name fewer.",
        "ur-Latn": "Main ek saath zyada se zyada {limit} tasks par amal karta hoon; kam batayein.",
        "ur": "میں ایک ساتھ زیادہ سے زیادہ {limit} کاموں پر عمل کرتا ہوں؛ کم بتائیں۔",
    },
    "task_count": {"en": "{n} task{s}", "ur-Latn": "{n} task{s}", "ur": "{n} کام"},
    "many_needs_filter": {
        "en": 'Say which tasks, for example "delete all completed tasks" or "complete all tasks '
        'due today": I never act on every task at once.',
        "ur-Latn": 'Batayein kaun se tasks, maslan "delete all completed tasks": main ek saath '
        "saare tasks par amal nahin karta.",
        "ur": 'بتائیں کون سے کام، مثلاً "delete all completed tasks"؛ میں ایک ساتھ سارے کاموں پر '
        "عمل نہیں کرتا۔",
    },
    "skip_occurrence": {
        "en": "Skipped this occurrence of {task}.",
        "ur-Latn": "{task} ki ye baari chhor di.",
        "ur": "{task} کی یہ باری چھوڑ دی۔",
    },
    "stop_repeating": {
        "en": "{task} will not repeat any more.",
        "ur-Latn": "{task} ab dobara nahin aayega.",
        "ur": "{task} اب نہیں دہرایا جائے گا۔",
    },
    "snooze_reminder": {
        "en": "I'll remind you of {task} in {duration}.",
        "ur-Latn": "{task} ki yaad dihani {minutes} minute ke liye aage kar di.",
        "ur": "{task} کی یاد دہانی {minutes} منٹ کے لیے آگے کر دی۔",
    },
    # How each change is reversed by "undo" (offline._REVERSALS names the tool).
    "undo_add_task": {
        "en": "Removed {task}, which I had added.",
        "ur-Latn": "{task} hata diya, jo maine add kiya tha.",
        "ur": "{task} ہٹا دیا، جو میں نے شامل کیا تھا۔",
    },
    "undo_delete_task": {
        "en": "Brought back {task}.",
        "ur-Latn": "{task} wapas le aaya.",
        "ur": "{task} واپس لے آیا۔",
    },
    "undo_complete_task": {
        "en": "Marked {task} as not done again.",
        "ur-Latn": "{task} phir se baqi kar diya.",
        "ur": "{task} پھر سے باقی کر دیا۔",
    },
    "undo_uncomplete_task": {
        "en": "Marked {task} as complete again.",
        "ur-Latn": "{task} phir se mukammal kar diya.",
        "ur": "{task} پھر سے مکمل کر دیا۔",
    },
    "undo_restore_task": {
        "en": "Deleted {task} again.",
        "ur-Latn": "{task} phir se delete kar diya.",
        "ur": "{task} پھر سے حذف کر دیا۔",
    },
    # After moving a repeating task's due: how it repeats, and when the one after it falls.
    "series_after_move": {
        "en": " It still repeats {repeat}; the one after it is {due}.",
        "ur-Latn": " Ye ab bhi dohraya jayega ({repeat}); is ke baad wala: {due}.",
        "ur": "\nیہ اب بھی دہرایا جائے گا ({repeat})؛ اس کے بعد والا: {due}",
    },
    # After completing a repeating task: when the next occurrence is due.
    "next_coming": {
        "en": " The next one is {due}.",
        "ur-Latn": " Agli baari: {due}.",
        "ur": "\nاگلی باری: {due}",
    },
    # After reopening a repeating task: what became of the next occurrence its completion made.
    "next_withdrawn": {
        "en": " The next occurrence that completing it had scheduled, {task}{due}, is withdrawn.",
        "ur-Latn": " Mukammal karne se jo agli baari bani thi, {task}{due}, wapas le li.",
        "ur": " مکمل کرنے سے جو اگلی باری بنی تھی، {task}{due}، واپس لے لی۔",
    },
    "next_kept": {
        "en": " The next occurrence, {task}{due}, stays: it was changed after it was scheduled.",
        "ur-Latn": " Agli baari, {task}{due}, rehne di: wo banne ke baad badli gayi thi.",
        "ur": " اگلی باری، {task}{due}، رہنے دی: وہ بننے کے بعد بدلی گئی تھی۔",
    },
    "cannot_undo": {
        "en": "I can't undo that change of task #{id} myself: please set it back "
        '(for example "change task {id} to ...").',
        "ur-Latn": "Task #{id} ki ye tabdeeli main khud wapas nahin kar sakta: ise khud theek "
        'kar lein (maslan "change task {id} to ...").',
        "ur": "کام #{id} کی یہ تبدیلی میں خود واپس نہیں کر سکتا: براہ کرم اسے خود درست کر لیں "
        '(مثلاً "change task {id} to ...")۔',
    },
    "nothing_to_undo": {
        "en": "There is nothing I changed in this conversation to undo.",
        "ur-Latn": "Is guftagu mein maine kuch nahin badla, wapas karne ko kuch nahin.",
        "ur": "اس گفتگو میں میں نے کچھ نہیں بدلا، واپس کرنے کو کچھ نہیں۔",
    },
    "no_focus": {
        "en": "Which task do you mean? I don't know which one we are talking about yet. "
        'Say for example "delete task 4".',
        "ur-Latn": "Aap kaun sa task keh rahe hain? Abhi pata nahin ke hum kis task ki baat kar "
        'rahe hain. Maslan kahein "task 4 delete karo".',
        "ur": "آپ کون سا کام کہہ رہے ہیں؟ ابھی معلوم نہیں کہ ہم کس کام کی بات کر رہے ہیں۔ "
        'مثلاً کہیں "کام 4 حذف کرو"۔',
    },
    "not_found": {
        "en": 'I could not find a {kind}task matching "{words}".',
        "ur-Latn": 'Mujhe "{words}" wala koi {kind}task nahin mila.',
        "ur": 'مجھے "{words}" والا کوئی {kind}کام نہیں ملا۔',
    },
    "several": {
        "en": 'Several {kind}tasks match "{words}": {options}. Which one? '
        'Say for example "{example}".',
        "ur-Latn": '"{words}" se kai {kind}tasks milte hain: {options}. Kaun sa? '
        'Maslan kahein "{example}".',
        "ur": '"{words}" سے کئی {kind}کام ملتے ہیں: {options}۔ کون سا؟ مثلاً کہیں "{example}"۔',
    },
    "no_date": {
        "en": 'Sorry, I could not read a date in "{text}".',
        "ur-Latn": 'Maaf kijiye, "{text}" mein koi tareekh samajh nahin aayi.',
        "ur": 'معاف کیجیے، "{text}" میں کوئی تاریخ سمجھ نہیں آئی۔',
    },
    "no_due_to_shift": {
        "en": "{task} has no due time to move by that much; say when instead, for example "
        '"move it to friday 5pm".',
        "ur-Latn": "{task} ka koi waqt nahin jise itna aage kiya jaye; maslan kahein "
        '"move it to friday 5pm".',
        "ur": '{task} کا کوئی وقت نہیں جسے اتنا آگے کیا جائے؛ مثلاً کہیں "move it to friday 5pm"۔',
    },
    "check": {
        "en": " Please check: {notes}.",
        "ur-Latn": " Zara dekh lein: {notes}.",
        "ur": "\nبراہ کرم دیکھ لیں: {notes}",
    },
    "list_empty": {
        "en": "You have no {what}.",
        "ur-Latn": "Aap ke koi {what} nahin hain.",
        "ur": "آپ کے کوئی {what} نہیں ہیں۔",
    },
    "list_head": {
        "en": "Your {what} ({count}):",
        "ur-Latn": "Aap ke {what} ({count}):",
        "ur": "آپ کے {what} ({count}):",
    },
}

# "pending " / "completed " before "task" in not_found and several.
KINDS: dict[Language, dict[str, str]] = {
    "en": {"pending": "pending ", "completed": "completed "},
    "ur-Latn": {"pending": "baqi ", "completed": "mukammal "},
    "ur": {"pending": "باقی ", "completed": "مکمل "},
}

# The example a "several match" question ends with, per action.
EXAMPLES: dict[Language, dict[str, str]] = {
    "en": {
        "complete_task": "complete task {id}",
        "uncomplete_task": "reopen task {id}",
        "delete_task": "delete task {id}",
        "skip_occurrence": "skip task {id}",
        "stop_repeating": "stop repeating task {id}",
        "snooze_reminder": "snooze task {id}",
        "update_task": "change task {id}",
        "show_task": "show task {id}",
    },
    "ur-Latn": {"complete_task": "task {id} ho gaya", "delete_task": "task {id} delete karo"},
    "ur": {"complete_task": "کام {id} ہو گیا", "delete_task": "کام {id} حذف کرو"},
}

# The words of a listing's name in Roman Urdu and Urdu: "aaj ke baqi tasks", "آج کے باقی کام".
LIST_WORDS: dict[Language, dict[str, str]] = {
    "ur-Latn": {
        "tasks": "tasks",
        "pending": "baqi",
        "completed": "mukammal",
        "overdue": "overdue",
        "today": "aaj ke",
        "tomorrow": "kal ke",
        "week": "is hafte ke",
        "high": "zaroori",
    },
    "ur": {
        "tasks": "کام",
        "pending": "باقی",
        "completed": "مکمل",
        "overdue": "تاخیر والے",
        "today": "آج کے",
        "tomorrow": "کل کے",
        "week": "اس ہفتے کے",
        "high": "ضروری",
    },
}


def say(language: Language, key: str, **values: Any) -> str:
    """The sentence `key` in `language`, with the values filled in. A sentence that starts
    with a value ("task #3 ...") gets its capital letter."""
    text = PHRASES[key][language].format(**values)
    # "task #3 ... will not repeat any more." starts a sentence: "Task #3 ...".
    # (Not the name itself, in English: it goes inside sentences.)
    starts = language == "ur-Latn" or (language == "en" and key != "task")
    if starts and text[:1].islower():
        text = text[0].upper() + text[1:]
    return text


def example(language: Language, action: str, task_id: int) -> str:
    """How to name one task of several for `action`; English where the grammar has no other."""
    frame = EXAMPLES[language].get(action) or EXAMPLES["en"].get(action, "change task {id}")
    return frame.format(id=task_id)
