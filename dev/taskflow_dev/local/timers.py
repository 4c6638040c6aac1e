"""The local stand-in for the cluster's PingSources: POST a ping CloudEvent to a URL on a period.

In a cluster, PingSources wake create-task's /relay and send-reminder's /sweep; locally this runs
in the runner so the same endpoints are exercised the same way. `just up --containers` runs it
as a container of its own: `python -m taskflow_dev.local.timers NAME=SECONDS=URL...`.

Those doors take only the platform's timers (specs/deployment.md "Timer doors"): a PingSource's
ping carries an OIDC token for the service's audience, so each ping here is signed with the
delivery key for that audience, as the router signs its deliveries. The container form signs
for the Knative Service its URL's host names (the container network's name for it).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from taskflow.adapters import sender_identity
from taskflow.config import load_settings

log = logging.getLogger(__name__)

PING_TYPE = "dev.knative.sources.ping"


class PingTimer:
    def __init__(
        self,
        name: str,
        url: str,
        period_seconds: float,
        stopping: threading.Event,
        credential: Callable[[], Mapping[str, str]],
    ) -> None:
        """`credential` gives the headers that open the door at `url` (signed_for)."""
        self.name = name
        self.url = url
        self.period_seconds = period_seconds
        self._stopping = stopping
        self._credential = credential
        self._failing = False
        self._thread = threading.Thread(target=self._run, name=f"ping-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self.period_seconds):
            self._ping()

    def _ping(self) -> None:
        ping = CloudEvent(
            {
                "type": PING_TYPE,
                "source": f"/apis/v1/namespaces/taskflow/pingsources/{self.name}",
                "id": str(uuid.uuid4()),
                "time": datetime.now(UTC).isoformat(),
                "datacontenttype": "application/json",
            },
            {},
        )
        headers, body = to_binary(ping)
        headers |= self._credential()
        try:
            response = requests.post(self.url, data=body, headers=headers, timeout=30)
            ok = response.status_code < 300
            problem = f"answered {response.status_code}"
        except requests.RequestException as error:
            ok, problem = False, type(error).__name__
        # Say it once when a timer starts failing and once when it recovers, not every tick.
        if not ok and not self._failing:
            log.warning("timer %s: %s %s", self.name, self.url, problem)
        elif ok and self._failing:
            log.info("timer %s: %s works again", self.name, self.url)
        self._failing = not ok


def signed_for(
    signer: sender_identity.Signer, namespace: str, service: str
) -> Callable[[], Mapping[str, str]]:
    """A ping's credential for the timer doors of `service` (its Knative Service name)."""
    audience = sender_identity.service_audience(namespace, service)
    return lambda: signer.headers(audience)


def _timer_argument(text: str) -> tuple[str, float, str]:
    name, _, rest = text.partition("=")
    seconds, _, url = rest.partition("=")
    try:
        period = float(seconds)
    except ValueError:
        period = 0.0
    if not name or period <= 0 or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected NAME=SECONDS=URL, got {text!r}")
    return name, period, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taskflow_dev.local.timers")
    parser.add_argument("timers", nargs="+", type=_timer_argument, metavar="NAME=SECONDS=URL")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: stopping.set())
    settings = load_settings()
    signer = sender_identity.delivery_signer(settings)
    timers = [
        PingTimer(
            name,
            url,
            period,
            stopping,
            signed_for(signer, settings.namespace, urlsplit(url).hostname or ""),
        )
        for name, period, url in arguments.timers
    ]
    for timer in timers:
        log.info("timer %s: every %g s -> %s", timer.name, timer.period_seconds, timer.url)
        timer.start()
    stopping.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
