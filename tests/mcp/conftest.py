"""The MCP tests run on the API's test stack (see tests/chat/api_stack.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))

from api_stack import api_fixtures

globals().update(api_fixtures())
