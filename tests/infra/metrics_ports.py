"""Where a process a test starts serves its Prometheus metrics. The port that serves users and
deliveries answers /metrics 404 (issue 12, item 6), so whoever starts a service gives it a
metrics port of its own (`metrics_env`) and names it once with `serves_metrics_at`; then
`scrape(base_url)` reads it as Prometheus does, and `scrape_here()` reads this test process's
own registry (what an in-process router or app counted)."""

from __future__ import annotations

from collections.abc import Callable

import prometheus_client
import requests
from prometheus_client.parser import text_string_to_metric_families
from taskflow_dev.local.launch import free_port

Sample = Callable[..., float]
_metrics_urls: dict[str, str] = {}


def metrics_env() -> tuple[dict[str, str], str]:
    """The settings that give a process a free metrics port on loopback, and its URL."""
    port = free_port()
    env = {"TASKFLOW_METRICS_PORT": str(port), "TASKFLOW_METRICS_HOST": "127.0.0.1"}
    return env, f"http://127.0.0.1:{port}"


def serves_metrics_at(base_url: str, metrics_url: str) -> str:
    """Remember that the process at `base_url` serves its metrics at `metrics_url`."""
    _metrics_urls[base_url.rstrip("/")] = metrics_url
    return base_url


def metrics_url(base_url: str) -> str:
    found = _metrics_urls.get(base_url.rstrip("/"))
    if found is None:
        raise KeyError(f"no metrics port is known for {base_url}: start it through a helper")
    return found


def _sampler(text: str) -> Sample:
    samples = [
        sample for family in text_string_to_metric_families(text) for sample in family.samples
    ]

    def sample(name: str, **labels: str) -> float:
        return sum(
            s.value for s in samples if s.name == name and labels.items() <= s.labels.items()
        )

    return sample


def scrape(base_url: str) -> Sample:
    """The metrics of the process at `base_url`, from its metrics port:
    sample(name, **labels) -> the sum of the matching samples."""
    answer = requests.get(f"{metrics_url(base_url)}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    return _sampler(answer.text)


def scrape_here() -> Sample:
    """This process's own registry, as its metrics port would serve it."""
    return _sampler(prometheus_client.generate_latest().decode())
