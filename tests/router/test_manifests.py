"""The manifests in eventing/ route every catalogued event where specs/architecture.md says, and
the router reads Knative's filter dialects and delivery specs as Knative does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from taskflow import catalogue
from taskflow.config import REPO_ROOT
from taskflow_dev.router.filters import FilterError, compile_filters, compile_legacy_filter
from taskflow_dev.router.manifests import DeliverySpec, ManifestError, load, parse_duration

EVENTING_DIR = REPO_ROOT / "eventing"


def routes(broker: str, type_: str) -> set[tuple[str, str]]:
    """(service, uri) of every Trigger on `broker` that would receive an event of `type_`."""
    eventing = load(EVENTING_DIR)
    return {
        (trigger.subscriber.service or "", trigger.subscriber.uri or "")
        for trigger in eventing.triggers_of(broker)
        if trigger.matches({"type": type_, "source": "s", "id": "1", "specversion": "1.0"})
    }


@pytest.mark.parametrize("type_", catalogue.TASK_EVENT_TYPES)
def test_task_events_reach_audit_reminders_and_live_updates(type_: str) -> None:
    expected = {("write-audit", "/"), ("send-reminder", "/")}
    if type_ == catalogue.TASK_COMPLETED:
        expected.add(("spawn-recurrence", "/"))
    assert routes(catalogue.TOPIC_TASK_EVENTS, type_) == expected
    assert routes(catalogue.TOPIC_TASK_UPDATES, type_) == {("broadcast-update", "/")}


@pytest.mark.parametrize("type_", catalogue.COMMAND_TYPES)
def test_commands_on_task_events_reach_create_task_only(type_: str) -> None:
    assert routes(catalogue.TOPIC_TASK_EVENTS, type_) == {("create-task", "/")}


def test_reminders_reach_the_toast_and_the_webhook() -> None:
    assert routes(catalogue.TOPIC_REMINDERS, catalogue.REMINDER_DUE) == {
        ("broadcast-update", "/"),
        ("send-reminder", "/deliver"),
    }


def test_every_catalogued_event_is_routed_on_each_of_its_topics() -> None:
    for event_type in catalogue.CATALOGUE.values():
        for topic in event_type.topics:
            assert routes(topic, event_type.type), f"{event_type.type} on {topic} goes nowhere"


def test_command_results_are_never_routed() -> None:
    for topic in catalogue.TOPICS:
        assert routes(topic, catalogue.COMMAND_RESULT) == set()


def test_brokers_are_kafka_brokers_bound_to_the_topics_of_the_same_name() -> None:
    documents = [
        document
        for path in sorted(EVENTING_DIR.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
    ]
    brokers = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Broker"}
    assert set(brokers) == set(catalogue.TOPICS)
    for name, broker in brokers.items():
        annotations = broker["metadata"]["annotations"]
        assert annotations["eventing.knative.dev/broker.class"] == "Kafka"
        assert annotations["kafka.eventing.knative.dev/external.topic"] == name
    for trigger in (d for d in documents if d["kind"] == "Trigger"):
        annotations = trigger["metadata"]["annotations"]
        assert annotations["kafka.eventing.knative.dev/delivery.order"] == "ordered"


def test_every_trigger_retries_with_exponential_backoff_into_the_dead_letter_sink() -> None:
    for trigger in load(EVENTING_DIR).triggers:
        assert trigger.ordered
        assert trigger.delivery.retry == 5
        assert trigger.delivery.backoff_policy == "exponential"
        assert trigger.delivery.backoff_delay == 0.5
        assert trigger.delivery.dead_letter_sink is not None
        assert trigger.delivery.dead_letter_sink.service == "dead-letter"


ATTRIBUTES = {"type": "com.taskflow.task.created", "source": "api", "partitionkey": "u1"}


@pytest.mark.parametrize(
    ("filters", "matches"),
    [
        ([{"exact": {"type": "com.taskflow.task.created"}}], True),
        ([{"exact": {"type": "com.taskflow.task"}}], False),
        ([{"prefix": {"type": "com.taskflow.task."}}], True),
        ([{"suffix": {"type": ".created"}}], True),
        ([{"suffix": {"type": ".deleted"}}], False),
        ([{"exact": {"subject": "x"}}], False),  # a missing attribute never matches
        ([{"prefix": {"type": "com."}}, {"exact": {"source": "chat"}}], False),
        ([{"all": [{"prefix": {"type": "com."}}, {"exact": {"source": "api"}}]}], True),
        ([{"any": [{"exact": {"source": "chat"}}, {"exact": {"source": "api"}}]}], True),
        ([{"any": [{"exact": {"source": "chat"}}, {"exact": {"source": "mcp"}}]}], False),
        ([{"not": {"exact": {"source": "api"}}}], False),
        ([{"not": {"exact": {"source": "chat"}}}], True),
        ([], True),
    ],
)
def test_filter_dialects(filters: list[dict], matches: bool) -> None:
    assert compile_filters(filters, "test")(ATTRIBUTES) is matches


def test_legacy_attribute_filter_matches_exactly_and_treats_empty_as_any() -> None:
    assert compile_legacy_filter({"type": "com.taskflow.task.created", "source": ""})(ATTRIBUTES)
    assert not compile_legacy_filter({"type": "com.taskflow.task."})(ATTRIBUTES)
    assert compile_legacy_filter({})(ATTRIBUTES)


def test_cesql_filters_are_refused_rather_than_ignored() -> None:
    with pytest.raises(FilterError, match="cesql"):
        compile_filters([{"cesql": "type = 'x'"}], "test")


def test_a_trigger_on_an_unknown_broker_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: lost}\n"
        "spec:\n  broker: nowhere\n  subscriber: {uri: 'http://127.0.0.1:1'}\n"
    )
    with pytest.raises(ManifestError, match="unknown broker 'nowhere'"):
        load(tmp_path)


@pytest.mark.parametrize(
    ("text", "seconds"), [("PT0.5S", 0.5), ("PT2M", 120.0), ("PT1H30M", 5400.0), ("P1D", 86400.0)]
)
def test_iso_8601_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0.5", "PT", "P", "PTS", "5s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ManifestError):
        parse_duration(text)


def test_backoff_grows_linearly_or_exponentially_as_on_the_kafka_broker() -> None:
    exponential = DeliverySpec(retry=5, backoff_policy="exponential", backoff_delay=0.5)
    linear = DeliverySpec(retry=5, backoff_policy="linear", backoff_delay=0.5)
    assert [exponential.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert [linear.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 1.5, 2.0, 2.5]
