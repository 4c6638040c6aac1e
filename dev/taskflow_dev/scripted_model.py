"""A scripted OpenAI-compatible server: `POST /v1/chat/completions` answered by a Python
function, on a free loopback port.

It stands in for the model where the model must not count: the online agent's tests (the tool
calling loop end to end with the real openai client) and the chat benchmark (a turn's cost
without the model's). Not used by the product itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import flask
from werkzeug.serving import make_server

API_KEY = "sk-test"  # the only key the server accepts; anything else is a 401

Script = Callable[[dict[str, Any]], dict[str, Any]]


class ScriptedModel:
    """Answers each completion request with `script(request_body)` (an assistant message);
    every request body is kept in `requests`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: Script = lambda body: text_reply("unscripted")
        app = flask.Flask("scripted-model")

        @app.post("/v1/chat/completions")
        def completions() -> flask.Response:
            body = flask.request.get_json()
            self.requests.append(body)
            if flask.request.headers.get("Authorization") != f"Bearer {API_KEY}":
                return flask.Response(status=401)
            return flask.jsonify(_completion(self.script(body)))

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


def text_reply(content: str) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def tool_call_reply(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }


def _completion(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            }
        ],
    }
