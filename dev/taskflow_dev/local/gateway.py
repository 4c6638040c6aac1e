"""`python -m taskflow_dev.local.gateway`: the one door of `just up --containers` on the host,
standing in for a cluster's ingress. It forwards each connection by the path of its first request:
a path under a routed prefix (/socket.io/ -> broadcast-update) goes there, anything else to the
default upstream (the web app). So a browser sees the page, the API and live sync on one origin,
and no function's event door is published.

    python -m taskflow_dev.local.gateway --port 8080 --default api:8080 \
        --route /socket.io/=broadcast-update:8080

A plain request is sent upstream with `Connection: close`, so every request on a connection is
routed by its own path; a websocket upgrade keeps its connection, both ways, until either side
closes it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

log = logging.getLogger("taskflow.gateway")

MAX_HEAD_BYTES = 64 * 1024
HOP_BY_HOP = (b"connection", b"keep-alive", b"proxy-connection")


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def parse_route(text: str) -> tuple[str, tuple[str, int]]:
    prefix, separator, address = text.partition("=")
    if not separator or not prefix.startswith("/"):
        raise argparse.ArgumentTypeError(f"expected /PREFIX=HOST:PORT, got {text!r}")
    return prefix, parse_address(address)


def request_path(head: bytes) -> str:
    """The path of `GET /socket.io/?EIO=4 HTTP/1.1`, without its query."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    target = parts[1].decode("latin-1") if len(parts) == 3 else "/"
    return target.split("?", 1)[0]


def is_upgrade(head: bytes) -> bool:
    return any(line.lower().startswith(b"upgrade:") for line in head.split(b"\r\n")[1:] if line)


def closing_head(head: bytes) -> bytes:
    """The request head with its connection headers replaced by `Connection: close`."""
    lines = head.rstrip(b"\r\n").split(b"\r\n")
    kept = [lines[0]] + [
        line for line in lines[1:] if line.split(b":", 1)[0].strip().lower() not in HOP_BY_HOP
    ]
    return b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n"


class Gateway:
    def __init__(self, default: tuple[str, int], routes: dict[str, tuple[str, int]]) -> None:
        self.default = default
        # The longest prefix wins.
        self.routes = sorted(routes.items(), key=lambda item: -len(item[0]))

    def upstream(self, path: str) -> tuple[str, int]:
        for prefix, address in self.routes:
            if path.startswith(prefix):
                return address
        return self.default

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        host, port = self.upstream(request_path(head))
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except OSError as error:
            log.warning("%s:%s unreachable: %s", host, port, error)
            writer.write(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()
            return
        upstream_writer.write(head if is_upgrade(head) else closing_head(head))
        await asyncio.gather(
            pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True
        )
        for stream in (writer, upstream_writer):
            stream.close()


async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            target.write(chunk)
            await target.drain()
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if target.can_write_eof():
                target.write_eof()
            else:
                target.close()


async def serve(host: str, port: int, gateway: Gateway) -> None:
    server = await asyncio.start_server(gateway.handle, host, port, limit=MAX_HEAD_BYTES)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    log.info("gateway on %s:%s -> %s", host, port, [*gateway.routes, ("/", gateway.default)])
    async with server:
        await stopping.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m taskflow_dev.local.gateway", description=__doc__
    )
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--default", type=parse_address, required=True, metavar="HOST:PORT")
    parser.add_argument(
        "--route", type=parse_route, action="append", default=[], metavar="/PREFIX=HOST:PORT"
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    asyncio.run(
        serve(arguments.host, arguments.port, Gateway(arguments.default, dict(arguments.route)))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
