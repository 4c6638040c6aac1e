"""What either assistant answers to one message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    text: str
    # {"name", "arguments", "result"} per tool call, in the order they ran
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
