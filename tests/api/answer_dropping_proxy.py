"""Lose create-task's answers on the way back: a proxy in front of create-task, and the module
fixtures that put it between the API and create-task. A test module imports `proxy` and
`settings` from here (pytest finds fixtures by name in the module), then sets
`proxy.answers_to_drop`."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
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
