"""Real processes over real HTTP: each function runs under the functions-framework CLI exactly as
it is deployed, against a migrated database, and publishes to a capturing broker ingress.

The fixtures (`start_function`, `broker`, `stateless_env`, `function_env`) live in
function_fixtures.py, shared with tests/observability; the helpers in function_processes.py: test
modules import them from there, because every test folder has a module named `conftest` and
`from conftest import` picks whichever came first.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Make the sibling modules importable whichever folder's tests run first.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from function_fixtures import broker, function_env, start_function, stateless_env

__all__ = ["broker", "function_env", "start_function", "stateless_env"]
