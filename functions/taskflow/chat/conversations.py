"""Where chat history lives between requests: the server keeps none in memory.

One turn is stored as two messages: the user's text, and the assistant's answer together with the
tool calls it made ({"name", "arguments", "result"} each, exactly as the chat endpoint returns
them). That one shape serves both assistants: the online agent rebuilds OpenAI tool-call messages
from it (see agent.history_for_model) and the page can show it as is.

Two stores with one interface: the database (tables `conversations` and `messages`, the default)
and the Dapr state store (when the chat runs beside a Dapr sidecar: settings.dapr_http_port).
A conversation belongs to one user; asking for another user's id is the same as asking for one
that does not exist.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from taskflow.adapters import orm
from taskflow.config import Settings

TITLE_MAX = 200


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "user" or "assistant"
    content: str
    tool_calls: list[dict[str, Any]] | None = None


class ConversationNotFound(Exception):
    def __init__(self, conversation_id: int) -> None:
        super().__init__(f"conversation {conversation_id} not found")
        self.conversation_id = conversation_id


class ConversationStore(Protocol):
    def start(self, user_id: str, title: str) -> int:
        """Create an empty conversation and return its id."""
        ...

    def history(self, user_id: str, conversation_id: int) -> list[ChatMessage]:
        """All messages, oldest first; ConversationNotFound when the user has no such one."""
        ...

    def append(self, user_id: str, conversation_id: int, messages: list[ChatMessage]) -> None: ...


class DatabaseConversations:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(self, user_id: str, title: str) -> int:
        now = datetime.now(UTC)
        values = {
            "user_id": user_id,
            "title": title[:TITLE_MAX],
            "created_at": now,
            "updated_at": now,
        }
        with self._engine.begin() as connection:
            result = connection.execute(sa.insert(orm.conversations).values(values))
            return int(result.inserted_primary_key[0])

    def history(self, user_id: str, conversation_id: int) -> list[ChatMessage]:
        with self._engine.connect() as connection:
            self._check_owner(connection, user_id, conversation_id)
            rows = connection.execute(
                sa.select(orm.messages.c.role, orm.messages.c.content, orm.messages.c.tool_calls)
                .where(orm.messages.c.conversation_id == conversation_id)
                .order_by(orm.messages.c.id)
            ).all()
        return [ChatMessage(row.role, row.content, row.tool_calls) for row in rows]

    def append(self, user_id: str, conversation_id: int, messages: list[ChatMessage]) -> None:
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            self._check_owner(connection, user_id, conversation_id)
            connection.execute(
                sa.insert(orm.messages),
                [
                    {
                        "conversation_id": conversation_id,
                        "user_id": user_id,
                        "created_at": now,
                        **asdict(message),
                    }
                    for message in messages
                ],
            )
            connection.execute(
                sa.update(orm.conversations)
                .where(orm.conversations.c.id == conversation_id)
                .values(updated_at=now)
            )

    @staticmethod
    def _check_owner(connection: sa.Connection, user_id: str, conversation_id: int) -> None:
        owner = connection.execute(
            sa.select(orm.conversations.c.user_id).where(orm.conversations.c.id == conversation_id)
        ).scalar_one_or_none()
        if owner != user_id:
            raise ConversationNotFound(conversation_id)


class DaprConversations:
    """One state-store key per conversation, namespaced by user: `conversation:<user>:<id>`
    (daprd refuses keys holding `||`, its own separator: it stores `<app id>||<key>`).

    Ids are random 53-bit integers (exact in JavaScript) rather than a counter: a counter would
    need its own key and a compare-and-swap per new conversation. Appends read the document with
    its ETag and write it back with first-write concurrency, retrying a few times when another
    request wrote in between.
    """

    CONFLICT_RETRIES = 5
    # Above the sidecar's own budget for a state call (resiliency.yaml: 10 s per attempt).
    TIMEOUT_SECONDS = 30.0

    def __init__(self, dapr_http_url: str, store_name: str, session: requests.Session) -> None:
        self._url = f"{dapr_http_url.rstrip('/')}/v1.0/state/{store_name}"
        self._session = session

    @staticmethod
    def _key(user_id: str, conversation_id: int) -> str:
        return f"conversation:{user_id}:{conversation_id}"

    def start(self, user_id: str, title: str) -> int:
        conversation_id = secrets.randbelow(2**53 - 1) + 1
        document = {"title": title[:TITLE_MAX], "messages": []}
        self._save(self._key(user_id, conversation_id), document, etag=None)
        return conversation_id

    def history(self, user_id: str, conversation_id: int) -> list[ChatMessage]:
        document, _ = self._load(user_id, conversation_id)
        return [ChatMessage(**message) for message in document["messages"]]

    def append(self, user_id: str, conversation_id: int, messages: list[ChatMessage]) -> None:
        for _ in range(self.CONFLICT_RETRIES):
            document, etag = self._load(user_id, conversation_id)
            document["messages"] += [asdict(message) for message in messages]
            if self._save(self._key(user_id, conversation_id), document, etag=etag):
                return
        raise RuntimeError(f"conversation {conversation_id} kept changing while appending")

    def _load(self, user_id: str, conversation_id: int) -> tuple[dict[str, Any], str | None]:
        response = self._session.get(
            f"{self._url}/{self._key(user_id, conversation_id)}", timeout=self.TIMEOUT_SECONDS
        )
        response.raise_for_status()
        if response.status_code == 204 or not response.content:
            raise ConversationNotFound(conversation_id)
        return response.json(), response.headers.get("ETag")

    def _save(self, key: str, document: dict[str, Any], *, etag: str | None) -> bool:
        item: dict[str, Any] = {"key": key, "value": document}
        if etag is not None:
            item |= {"etag": etag, "options": {"concurrency": "first-write"}}
        response = self._session.post(self._url, json=[item], timeout=self.TIMEOUT_SECONDS)
        if response.status_code == 409:
            return False
        response.raise_for_status()
        return True


def conversation_store(settings: Settings, engine: Engine) -> ConversationStore:
    """The Dapr state store when a sidecar is beside us (DAPR_HTTP_PORT), else the database."""
    if not settings.dapr_http_port:
        return DatabaseConversations(engine)
    return DaprConversations(
        f"http://127.0.0.1:{settings.dapr_http_port}", settings.dapr_state_store, requests.Session()
    )
