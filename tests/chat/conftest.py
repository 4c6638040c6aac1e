"""The chat tests run on the API's test stack (see api_stack.py)."""

from __future__ import annotations

from api_stack import api_fixtures

globals().update(api_fixtures())
