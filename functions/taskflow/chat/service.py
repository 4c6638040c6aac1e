"""One chat turn: load the conversation, let the assistant answer, store both messages.

Nothing is kept in memory between requests, so a conversation resumes after a restart or on
another replica. The assistant is the online agent when an OpenAI key is configured, the offline
assistant otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import openai
from sqlalchemy.engine import Engine

from taskflow.chat.agent import OpenAIAgent
from taskflow.chat.conversations import ChatMessage, ConversationStore
from taskflow.chat.offline import OfflineAssistant
from taskflow.chat.reply import Reply
from taskflow.chat.tools import TaskTools
from taskflow.config import Settings
from taskflow.service_layer import accounts

# The start of the first message names a new conversation.
TITLE_CHARS = 60


class Assistant(Protocol):
    def reply(self, history: list[ChatMessage], message: str) -> Reply: ...


@dataclass(frozen=True)
class ChatAnswer:
    conversation_id: int
    response: str
    tool_calls: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "response": self.response,
            "tool_calls": self.tool_calls,
        }


def chat_turn(
    store: ConversationStore,
    assistant: Assistant,
    user_id: str,
    conversation_id: int | None,
    message: str,
) -> ChatAnswer:
    """Raises ConversationNotFound (before anything runs) for an id the user does not own."""
    if conversation_id is None:
        history: list[ChatMessage] = []
    else:
        history = store.history(user_id, conversation_id)
    reply = assistant.reply(history, message)
    if conversation_id is None:
        conversation_id = store.start(user_id, message[:TITLE_CHARS])
    store.append(
        user_id,
        conversation_id,
        [
            ChatMessage("user", message),
            ChatMessage("assistant", reply.text, reply.tool_calls or None),
        ],
    )
    return ChatAnswer(conversation_id, reply.text, reply.tool_calls)


def make_assistant(
    settings: Settings, tools: TaskTools, timezone: ZoneInfo, now: Callable[[], datetime]
) -> Assistant:
    """The online agent when an OpenAI key is configured, the offline assistant otherwise."""
    if not settings.openai_api_key:
        return OfflineAssistant(tools, timezone, now)
    client = openai.OpenAI(
        api_key=settings.openai_api_key, base_url=settings.openai_base_url or None
    )
    return OpenAIAgent(client, settings.openai_model, tools, timezone, now)


def user_timezone(engine: Engine, user_id: str) -> ZoneInfo:
    return accounts.zone(engine, user_id)
