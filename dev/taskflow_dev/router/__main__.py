"""`python -m taskflow_dev.router`: the local broker on BROKER_URL's port (specs/eventing.md)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from taskflow.config import ROUTER_BACKINGS, Settings, load_settings

from taskflow_dev.router.eventlog import EventLog
from taskflow_dev.router.server import RouterServer, local_addresses


def _subscriber(text: str) -> tuple[str, str]:
    name, separator, url = text.partition("=")
    if not separator or not name or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected SERVICE=URL, got {text!r}")
    return name, url


def kafka_log_or_default(backing: str, settings: Settings) -> EventLog | None:
    """The Kafka log when asked for; None leaves RouterServer its SQLite default."""
    if backing != "kafka":
        return None
    # Late: confluent-kafka is loaded only by the router that uses it.
    from taskflow_dev.router.kafka_eventlog import KafkaEventLog

    return KafkaEventLog(settings.kafka_bootstrap, group_prefix=settings.kafka_group_prefix)


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m taskflow_dev.router")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.ports.router)
    parser.add_argument("--eventing-dir", type=Path, default=settings.eventing_dir)
    parser.add_argument(
        "--subscriber",
        type=_subscriber,
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="address of a Knative Service named in the Triggers (default: its local port)",
    )
    parser.add_argument(
        "--backing",
        choices=ROUTER_BACKINGS,
        default=settings.router_backing,
        help="where accepted events wait: a SQLite file in the data folder, or Kafka at"
        " KAFKA_BOOTSTRAP (default: TASKFLOW_ROUTER_BACKING, else sqlite)",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="router %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    addresses = {**local_addresses(settings.ports), **dict(arguments.subscriber)}
    server = RouterServer(
        arguments.eventing_dir,
        addresses,
        settings.data_dir,
        host=arguments.host,
        port=arguments.port,
        event_log=kafka_log_or_default(arguments.backing, settings),
    )

    def stop(_signal: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    logging.getLogger(__name__).info(
        "brokers %s at %s/{namespace}/{broker}", ", ".join(server.router.brokers), server.url
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
