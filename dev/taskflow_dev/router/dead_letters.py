"""The local dead-letter sink: appends every dead-lettered event, as a structured CloudEvent, to a
JSON-lines file an operator can read after the run, and lists them all, those of earlier runs
included."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from cloudevents.conversion import to_json
from cloudevents.http import CloudEvent


class DeadLetterStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._letters: list[dict[str, Any]] = (
            [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
            if path.exists()
            else []
        )

    def add(self, event: CloudEvent) -> None:
        # The structured JSON form: binary data becomes data_base64, so every letter is JSON.
        letter = json.loads(to_json(event))
        with self._lock:
            self._letters.append(letter)
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(letter) + "\n")

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._letters)
