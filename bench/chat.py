"""Chat turn overhead without the model: `POST /api/{user}/chat` on the running product, the
model being the scripted OpenAI-compatible server (taskflow_dev.scripted_model), which answers
at once. What remains is ours: authentication, rate limiting, the conversation store, the openai
client and its loopback calls, the agent loop and, for a tool turn, the create-task command.

Two turns are measured: a text answer (one model call), and a turn where the model calls
add_task and then answers (two model calls and a task written through create-task).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from taskflow_dev.scripted_model import API_KEY, ScriptedModel, text_reply, tool_call_reply

from bench.context import Context
from bench.product import Product, User
from bench.report import Result
from bench.stats import summary

WARM_UP_TURNS = 5


def _text_turn(body: dict[str, Any]) -> dict[str, Any]:
    return text_reply("You have nothing due today.")


def _tool_turn(body: dict[str, Any]) -> dict[str, Any]:
    last = body["messages"][-1]
    if last["role"] == "user":
        return tool_call_reply("call_1", "add_task", {"title": "Buy milk", "priority": "high"})
    return text_reply(f"Added: {json.loads(last['content'])['title']}.")


SCENARIOS = {"text answer (1 model call)": _text_turn, "add_task tool (2 model calls)": _tool_turn}


def run(context: Context) -> Result:
    turns = context.scaled(100, 20)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the model's per-request lines
    model = ScriptedModel()
    rows: list[dict[str, object]] = []
    samples: dict[str, list[float]] = {}
    env = {"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": model.url, "OPENAI_MODEL": "scripted"}
    try:
        with context.product(env) as product:
            user = product.sign_up()
            for label, script in SCENARIOS.items():
                model.script = script
                for _ in range(WARM_UP_TURNS):
                    _turn(product, user)
                model.requests.clear()
                timings = [_turn(product, user) for _ in range(turns)]
                calls = len(model.requests) / turns
                samples[label] = timings
                figures = summary(timings)
                rows.append(
                    {
                        "turn": label,
                        "turns": turns,
                        "model_calls_per_turn": calls,
                        "p50_ms": figures["p50_ms"],
                        "p95_ms": figures["p95_ms"],
                        "p99_ms": figures["p99_ms"],
                        "max_ms": figures["max_ms"],
                    }
                )
    finally:
        model.close()
    return Result(
        "chat",
        context.backing,
        rows,
        samples=samples,
        notes=[
            "each turn starts a new conversation; the scripted model answers in well under a "
            "millisecond, so the figure is TaskFlow's own (its loopback calls to the model "
            "included)"
        ],
    )


def _turn(product: Product, user: User) -> float:
    started = time.perf_counter()
    answer = product.session.post(
        f"{product.web}/api/{user.user_id}/chat",
        json={"message": "add buy milk, it's urgent"},
        headers=user.headers,
        timeout=60,
    )
    elapsed = (time.perf_counter() - started) * 1000
    answer.raise_for_status()
    return elapsed
