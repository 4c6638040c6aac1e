"""The API's test stack (tests/api/conftest.py: a migrated database of each kind, create-task as a
real process over HTTP, a capturing broker and the Flask app), for the chat and MCP tests. The
fixtures are loaded by path and handed back by name rather than copied."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

API_TESTS = Path(__file__).resolve().parents[1] / "api"


def api_fixtures() -> dict[str, Any]:
    if str(API_TESTS) not in sys.path:
        sys.path.insert(0, str(API_TESTS))  # the API conftest imports its api_helpers module
    spec = importlib.util.spec_from_file_location(
        "taskflow_api_fixtures", API_TESTS / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        name: value
        for name, value in vars(module).items()
        if type(value).__name__ == "FixtureFunctionDefinition"
    }
