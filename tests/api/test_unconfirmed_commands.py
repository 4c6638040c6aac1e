"""A command that reached create-task but whose answer was lost: the API retries it with the same
CloudEvent id (create-task applies it once), and when the answer stays lost it says the change may
have happened and hands back the Idempotency-Key that fetches the outcome without a second write."""

from __future__ import annotations

import pytest
from answer_dropping_proxy import proxy, settings
from api_helpers import Account, sign_up
from flask.testing import FlaskClient

__all__ = ["proxy", "settings"]  # fixtures: pytest finds them here by name


@pytest.fixture
def carol(client: FlaskClient) -> Account:
    return sign_up(client)


def titles(client: FlaskClient, account: Account) -> list[str]:
    listed = client.get(account.tasks_url, headers=account.headers).get_json()
    return [task["title"] for task in listed["items"]]


def test_a_lost_answer_is_retried_and_the_task_is_created_once(client, carol, proxy):
    proxy.answers_to_drop = 1
    forwarded_before = proxy.forwarded
    response = client.post(carol.tasks_url, json={"title": "pay rent"}, headers=carol.headers)
    assert response.status_code == 201
    assert proxy.forwarded - forwarded_before == 2  # the retry reached create-task again
    assert titles(client, carol) == ["pay rent"]


def test_an_unconfirmed_write_says_so_and_its_key_fetches_the_outcome(client, carol, proxy):
    proxy.answers_to_drop = 3  # every attempt of this request loses its answer
    lost = client.post(carol.tasks_url, json={"title": "call mom"}, headers=carol.headers)
    assert lost.status_code == 503
    reason = lost.get_json()["error"]["reason"]
    assert "may have been applied" in reason
    key = lost.headers["Idempotency-Key"]
    assert key in reason
    assert titles(client, carol) == ["call mom"]  # it was applied, once

    retried = client.post(
        carol.tasks_url,
        json={"title": "call mom"},
        headers=carol.headers | {"Idempotency-Key": key},
    )
    assert retried.status_code == 201
    assert retried.get_json()["title"] == "call mom"
    assert titles(client, carol) == ["call mom"]  # the retry did not write again
