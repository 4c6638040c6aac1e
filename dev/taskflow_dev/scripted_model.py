"""A scripted OpenAI-compatible server: `POST /v1/chat/completions` answered by a Python
function, on a free port (of loopback unless told otherwise).

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
    every request body is kept in `requests`. `host` is the address it listens on: loopback for a
    product on this machine; containers reach the host through their network's gateway
    (host.containers.internal), which exists only once their network does, so their model
    listens on every address (0.0.0.0)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
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

        self._server = make_server(host, 0, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


def text_reply(content: str) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def tool_call_reply(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    reply = tool_calls_reply([(name, arguments)])
    reply["tool_calls"][0]["id"] = call_id
    return reply


def tool_calls_reply(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """An assistant message asking for several tools at once (ids call_0, call_1, ...)."""
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{index}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for index, (name, arguments) in enumerate(calls)
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
