"""A chat write whose answer from create-task is lost: the chat says the change may have been
applied and that the task list will show it, rather than "it did not work", which would invite
asking again and applying it twice."""

from __future__ import annotations

from answer_dropping_proxy import proxy, settings
from api_helpers import Account
from chat_helpers import say, tasks_of, titles
from flask.testing import FlaskClient

__all__ = ["proxy", "settings"]  # fixtures: pytest finds them here by name


def test_an_unconfirmed_add_says_it_may_have_happened_and_is_applied_once(
    client: FlaskClient, alice: Account, proxy
) -> None:
    proxy.answers_to_drop = 3  # every attempt of this message loses its answer
    answer = say(client, alice, "Add a task to call mom")

    assert "may have been applied" in answer["response"]
    assert "task list will show it" in answer["response"]
    assert "did not work" not in answer["response"]
    (call,) = answer["tool_calls"]
    assert call["name"] == "add_task"
    assert "may have been applied" in call["result"]["error"]
    assert "retry could apply it twice" in call["result"]["error"]
    assert titles(tasks_of(client, alice)) == ["call mom"]  # applied, once

    listed = say(client, alice, "show my tasks")
    assert "call mom" in listed["response"]
    assert titles(tasks_of(client, alice)) == ["call mom"]
