"""The chat tests run on the API's stack (tests/api/conftest.py): a migrated database of each
kind, create-task as a real process over HTTP, a capturing broker and the Flask app. Its fixtures
are loaded by path and re-exported here rather than copied."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

API_TESTS = Path(__file__).resolve().parents[1] / "api"


def _load_api_fixtures() -> Any:
    if str(API_TESTS) not in sys.path:
        sys.path.insert(0, str(API_TESTS))  # the API conftest imports its api_helpers module
    spec = importlib.util.spec_from_file_location(
        "taskflow_api_fixtures", API_TESTS / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


api_fixtures = _load_api_fixtures()
# Every fixture of the API's conftest (the stack, the client, alice and bob), under its own name.
globals().update(
    {
        name: value
        for name, value in vars(api_fixtures).items()
        if type(value).__name__ == "FixtureFunctionDefinition"
    }
)
