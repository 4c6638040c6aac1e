"""Assemble and serve the router: manifests, event log, dispatcher, dead-letter sink, WSGI server.

Served by werkzeug's threaded server: each ingress request only appends to the event log, so a
thread per request is plenty locally and needs no extra dependency. The event log and the dead
letters live in the data folder, so a restarted router delivers what it had accepted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taskflow.adapters import sender_identity
from taskflow.config import FUNCTIONS, Ports, Settings, load_settings
from werkzeug.serving import make_server

from taskflow_dev.router import manifests
from taskflow_dev.router.app import create_app
from taskflow_dev.router.broker import Router
from taskflow_dev.router.dead_letters import DeadLetterStore
from taskflow_dev.router.delivery import Dispatcher
from taskflow_dev.router.eventlog import EventLog, SqliteEventLog

log = logging.getLogger(__name__)

DEAD_LETTER_SERVICE = "dead-letter"
DEAD_LETTERS_FILE = "dead-letters.jsonl"
EVENT_LOG_FILE = "router.db"


def local_addresses(ports: Ports, host: str = "127.0.0.1") -> dict[str, str]:
    """Each function's Knative Service name at its local port (create_task -> create-task)."""
    return {name.replace("_", "-"): f"http://{host}:{getattr(ports, name)}" for name in FUNCTIONS}


class RouterServer:
    """The router listening on host:port (0 picks a free port; see `url`)."""

    def __init__(
        self,
        eventing_dir: Path,
        addresses: Mapping[str, str],
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        event_log: EventLog | None = None,
        settings: Settings | None = None,
    ) -> None:
        """`event_log` defaults to the SQLite log in `data_dir` (KafkaEventLog is the other);
        `settings` (default: the environment's) give the keys it signs and checks with."""
        settings = settings or load_settings()
        eventing = manifests.load(eventing_dir)
        self._server = make_server(host, port, self._wsgi, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        # The manifests' dead-letter Service is this router's own sink unless told otherwise.
        addresses = {DEAD_LETTER_SERVICE: f"{self.url}/dead-letter", **addresses}
        self._stopping = threading.Event()
        self._log = event_log or SqliteEventLog(data_dir / EVENT_LOG_FILE)
        dispatcher = Dispatcher(
            addresses,
            self._stopping,
            signer=sender_identity.delivery_signer(settings),
            namespace=settings.namespace,
        )
        self.router = Router(eventing, self._log, dispatcher)
        self.dead_letters = DeadLetterStore(data_dir / DEAD_LETTERS_FILE)
        self._app = create_app(self.router, self.dead_letters, settings)
        self._thread: threading.Thread | None = None

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self._app(environ, start_response)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> RouterServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="router", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, interrupt pending retries (those deliveries stay in the event log for
        the next start) and wait for the attempts in flight."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        self._log.close()
