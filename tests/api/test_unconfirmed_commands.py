"""A command that reached create-task but whose answer was lost: the API retries it with the same
CloudEvent id (create-task applies it once), and when the answer stays lost it says the change may
have happened and hands back the Idempotency-Key that fetches the outcome without a second write."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from api_helpers import Account, sign_up
from flask.testing import FlaskClient
from taskflow.config import Settings


class AnswerDroppingProxy:
    """Forwards each command to create-task, then hangs up instead of answering while
    `answers_to_drop` is above zero: the command is applied, its answer never arrives."""

    def __init__(self, target: str) -> None:
        self.answers_to_drop = 0
        self.forwarded = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = requests.post(target + self.path, data=body, headers=headers, timeout=30)
                proxy.forwarded += 1
                if proxy.answers_to_drop > 0:
                    proxy.answers_to_drop -= 1
                    self.close_connection = True
                    return
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def proxy(create_task_url: str) -> Iterator[AnswerDroppingProxy]:
    dropping = AnswerDroppingProxy(create_task_url)
    yield dropping
    dropping.close()


@pytest.fixture(scope="module")
def settings(settings: Settings, proxy: AnswerDroppingProxy) -> Settings:
    """conftest's settings, with the API talking to create-task through the proxy."""
    return dataclasses.replace(settings, create_task_url=proxy.url)


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
