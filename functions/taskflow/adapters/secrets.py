"""Secret lookup: environment first, then a local secrets file (the same JSON file Dapr's
secretstores.local.file component reads), so no secret is ever hard-coded or logged."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

SECRETS_FILE_ENV = "TASKFLOW_SECRETS_FILE"


@cache
def _file_secrets() -> dict[str, str]:
    path = os.environ.get(SECRETS_FILE_ENV)
    if not path or not Path(path).is_file():
        return {}
    return {str(k): str(v) for k, v in json.loads(Path(path).read_text()).items()}


def get(name: str, default: str = "") -> str:
    return os.environ.get(name) or _file_secrets().get(name) or default
