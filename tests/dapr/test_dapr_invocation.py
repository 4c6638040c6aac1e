"""Service invocation: the web app sends commands to create-task through its own sidecar
(CREATE_TASK_URL = .../v1.0/invoke/create-task/method), and the resiliency policy's retries carry
a command over a restart of create-task: it succeeds, once."""

from __future__ import annotations

import threading
import time

import pytest
import requests
import sqlalchemy as sa
from dapr_stack import Stack

pytestmark = pytest.mark.dapr

COMMAND_TIMEOUT_SECONDS = 60.0
# Long enough for the command to meet the stopped create-task at least once.
DOWN_SECONDS = 1.0


def tasks_titled(product_database_url: str, user_id: str, title: str) -> int:
    engine = sa.create_engine(product_database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text("SELECT count(*) FROM tasks WHERE user_id = :user AND title = :title"),
                {"user": user_id, "title": title},
            ).scalar_one()
    finally:
        engine.dispose()


def test_the_api_reaches_create_task_through_dapr(stack: Stack) -> None:
    assert stack.web.app_env["CREATE_TASK_URL"].startswith(
        f"{stack.web.sidecar_url}/v1.0/invoke/create-task/method"
    )


def test_a_command_sent_while_create_task_restarts_succeeds_once(
    stack: Stack, signed_up: tuple[str, dict[str, str]], product_database_url: str
) -> None:
    user_id, auth = signed_up
    title = "sent while create-task restarts"
    create_task = stack.functions["create_task"]
    answers: list[requests.Response] = []

    def send() -> None:
        answers.append(
            requests.post(
                f"{stack.api_url}/api/{user_id}/tasks",
                json={"title": title},
                headers=auth,
                timeout=COMMAND_TIMEOUT_SECONDS,
            )
        )

    create_task.stop_app(crash=True)
    sender = threading.Thread(target=send)
    try:
        sender.start()
        time.sleep(DOWN_SECONDS)
    finally:
        create_task.start_app()
    sender.join(COMMAND_TIMEOUT_SECONDS)

    (answer,) = answers
    assert answer.status_code == 201, answer.text
    assert answer.json()["title"] == title
    assert tasks_titled(product_database_url, user_id, title) == 1
