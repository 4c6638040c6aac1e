"""The online agent: an OpenAI-compatible chat model calling the task tools.

The loop: send the history and the tools' JSON schemas; while the model asks for tool calls, run
each (as the signed-in user, whatever arguments it wrote) and send the results back; stop when it
answers in plain text, or after MAX_ROUNDS rounds so a confused model cannot loop forever.

The schemas are the MCP tools' own (mcp's Tool.from_function over tools.tool_functions), so the
model sees exactly what an MCP client sees.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import openai
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from pydantic import ValidationError

from taskflow.chat.conversations import ChatMessage
from taskflow.chat.reply import Reply
from taskflow.chat.tools import TaskTools, tool_functions

MAX_ROUNDS = 8
# How many earlier messages go back to the model: enough context, bounded cost.
HISTORY_MESSAGES = 40

SYSTEM_PROMPT = """You are TaskFlow, a concise assistant that manages the user's todo list with \
the tools given. The signed-in user's id is {user_id}; their timezone is {timezone}; it is now \
{now} there. Use tools for every change and every question about tasks; never invent tasks or \
ids. When a request could mean several tasks, list them and ask which one. Give due dates to \
tools as ISO 8601 in the user's timezone. "It", "that one" or a bare "done" mean the task this \
conversation was last about. "Undo" reverses your last change: delete a task you added, \
restore_task a task you deleted, uncomplete_task a task you completed (say what its \
next_occurrence result tells: withdrawn, or kept because it was changed), or set back the fields \
you changed. Reply in plain text, in the language the user writes in (Urdu, Roman Urdu, English \
or any other). Say repeats and reminders in plain words ("every 2 days", "1 day before", \
"every month on the 1st"), never rule text like FREQ=..., and never name your tools."""


class LanguageModelUnavailable(Exception):
    """The model server failed or could not be reached; nothing was stored."""


class OpenAIAgent:
    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        tools: TaskTools,
        timezone: ZoneInfo,
        now: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._model = model
        self._tools = tools
        self._timezone = timezone
        self._now = now
        self._catalogue = {
            tool.name: tool
            for tool in (Tool.from_function(fn) for fn in tool_functions(lambda: tools))
        }

    def schemas(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in self._catalogue.values()
        ]

    def reply(self, history: list[ChatMessage], message: str) -> Reply:
        system = SYSTEM_PROMPT.format(
            user_id=self._tools.user_id,
            timezone=self._timezone.key,
            now=self._now().astimezone(self._timezone).isoformat(timespec="minutes"),
        )
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            *history_for_model(history[-HISTORY_MESSAGES:]),
            {"role": "user", "content": message},
        ]
        reply = Reply("")
        for _ in range(MAX_ROUNDS):
            answer = self._complete(messages)
            calls = answer.tool_calls or []
            if not calls:
                reply.text = answer.content or ""
                return reply
            messages.append(
                {
                    "role": "assistant",
                    "content": answer.content or "",
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": call.function.name,
                                "arguments": call.function.arguments,
                            },
                        }
                        for call in calls
                    ],
                }
            )
            for call in calls:
                arguments, result = self._run(call.function.name, call.function.arguments)
                reply.tool_calls.append(
                    {"name": call.function.name, "arguments": arguments, "result": result}
                )
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
                )
        reply.text = (
            "I stopped after too many steps without an answer. Please ask again more simply."
        )
        return reply

    def _complete(self, messages: list[dict[str, Any]]) -> Any:
        try:
            response = self._client.chat.completions.create(
                model=self._model, messages=messages, tools=self.schemas()
            )
        except openai.OpenAIError as error:
            raise LanguageModelUnavailable(type(error).__name__) from None
        if not response.choices:
            raise LanguageModelUnavailable("the model returned no choices")
        return response.choices[0].message

    def _run(self, name: str, raw_arguments: str) -> tuple[dict[str, Any], Any]:
        """Run one tool call; a bad call becomes an error result the model can read and fix."""
        try:
            arguments = json.loads(raw_arguments or "{}")
        except json.JSONDecodeError:
            return {"raw": raw_arguments}, {"error": "arguments are not valid JSON"}
        if not isinstance(arguments, dict):
            return {"raw": raw_arguments}, {"error": "arguments must be a JSON object"}
        tool = self._catalogue.get(name)
        if tool is None:
            return arguments, {"error": f"unknown tool {name!r}"}
        try:
            validated = tool.fn_metadata.validate_arguments(arguments)
            return arguments, tool.fn(**validated)
        except ValidationError as error:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
            return arguments, {"error": f"invalid arguments: {', '.join(fields)}"}
        except ToolError as error:
            return arguments, {"error": str(error)}


def history_for_model(history: list[ChatMessage]) -> list[dict[str, Any]]:
    """Stored turns as OpenAI messages: each answer's tool calls and results come back as the
    assistant's tool_calls and the tool messages that answered them, then the answer itself."""
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(history):
        if message.role == "assistant" and message.tool_calls:
            ids = [f"call_{index}_{n}" for n in range(len(message.tool_calls))]
            messages.append(
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {
                                "name": call["name"],
                                "arguments": json.dumps(call["arguments"]),
                            },
                        }
                        for call_id, call in zip(ids, message.tool_calls, strict=True)
                    ],
                }
            )
            messages += [
                {"role": "tool", "tool_call_id": call_id, "content": json.dumps(call["result"])}
                for call_id, call in zip(ids, message.tool_calls, strict=True)
            ]
        messages.append({"role": message.role, "content": message.content})
    return messages
