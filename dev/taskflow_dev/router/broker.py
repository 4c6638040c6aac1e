"""The broker: accepts events into a named broker and runs each of its Triggers over them."""

from __future__ import annotations

from cloudevents.http import CloudEvent

from taskflow_dev.router.delivery import Dispatcher
from taskflow_dev.router.eventlog import EventLog
from taskflow_dev.router.manifests import Eventing, Trigger


class UnknownBroker(LookupError):
    pass


class Router:
    def __init__(self, eventing: Eventing, log: EventLog, dispatcher: Dispatcher) -> None:
        self._eventing = eventing
        self._log = log
        self._dispatcher = dispatcher
        for trigger in eventing.triggers:
            log.subscribe(
                trigger.broker,
                trigger.name,
                lambda event, trigger=trigger: self._run_trigger(trigger, event),
                ordered=trigger.ordered,
            )
        log.start()

    @property
    def brokers(self) -> list[str]:
        return sorted(self._eventing.brokers)

    def accept(self, broker: str, event: CloudEvent) -> None:
        if broker not in self._eventing.brokers:
            raise UnknownBroker(broker)
        self._log.append(broker, event)

    def backlog(self) -> int:
        return self._log.backlog()

    def _run_trigger(self, trigger: Trigger, event: CloudEvent) -> None:
        attributes = {name: str(value) for name, value in event.get_attributes().items()}
        if not trigger.matches(attributes):
            return
        reply = self._dispatcher.dispatch(trigger, event)
        if reply is not None:
            # As on Knative, a subscriber's reply is a new event on the same broker.
            self._log.append(trigger.broker, reply)
