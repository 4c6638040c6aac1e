"""What PostgreSQL says while it stops or starts reaches API clients as a 503 to retry, never a
500, and the API still starts. A stand-in server answers every connection the way a stopping or
starting PostgreSQL does, so the moment the fault test can only hit by chance is certain here."""

from __future__ import annotations

import dataclasses
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from taskflow.adapters import tokens
from taskflow.config import load_settings
from taskflow.entrypoints.api import create_app

SSL_REQUEST = struct.pack("!i", 80877103)  # pg8000 asks for TLS before its startup message
MESSAGES = {
    "57P03": "the database system is shutting down",
    "57P01": "terminating connection due to administrator command",
}


class RefusingPostgres:
    """Declines TLS, reads each client's startup message and answers with a FATAL
    ErrorResponse, as PostgreSQL does while it stops or starts."""

    def __init__(self, sqlstate: str) -> None:
        fields = {"S": "FATAL", "V": "FATAL", "C": sqlstate, "M": MESSAGES[sqlstate]}
        body = b"".join(key.encode() + value.encode() + b"\0" for key, value in fields.items())
        self.answer = b"E" + struct.pack("!i", len(body) + 5) + body + b"\0"
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(10)
                if _packet(connection)[:4] == SSL_REQUEST:
                    connection.sendall(b"N")  # no TLS here; the startup message follows
                    _packet(connection)
                connection.sendall(self.answer)
                # Close only after the client has read the answer and hung up: closing with
                # unread bytes would reset the connection and lose the answer.
                connection.shutdown(socket.SHUT_WR)
                while connection.recv(4096):
                    pass

    def close(self) -> None:
        self.listener.close()


def _packet(connection: socket.socket) -> bytes:
    """One length-prefixed packet of a client that has not started a session yet."""
    length = struct.unpack("!i", _receive(connection, 4))[0]
    return _receive(connection, length - 4)


def _receive(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client hung up")
        data += chunk
    return data


@pytest.fixture(params=sorted(MESSAGES))
def refusing_postgres(request: pytest.FixtureRequest) -> Iterator[RefusingPostgres]:
    server = RefusingPostgres(request.param)
    yield server
    server.close()


def test_a_database_stopping_or_starting_is_503_and_the_api_still_starts(
    refusing_postgres: RefusingPostgres, tmp_path: Path
) -> None:
    database_url = f"postgresql+pg8000://taskflow:taskflow@127.0.0.1:{refusing_postgres.port}/x"
    settings = dataclasses.replace(
        load_settings(),
        data_dir=tmp_path,
        database_url=database_url,
        jwt_secret="database-outage-test-secret-of-32-bytes",
    )
    client = create_app(settings).test_client()
    token = tokens.issue("someone", secret=settings.jwt_secret, issuer="taskflow", ttl_seconds=60)

    answer = client.get("/api/someone/tasks", headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 503
    assert answer.get_json() == {"error": {"reason": "database unavailable, retry shortly"}}
    assert answer.headers["Retry-After"].isdigit()
