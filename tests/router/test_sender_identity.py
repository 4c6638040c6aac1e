"""The router holds the cluster's rule (specs/eventing.md, "Sender identity"): its ingress takes
an event only from the outbox relay, signed for that broker, and each delivery carries a token
for its subscriber that the subscriber's door accepts."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cloudevents.conversion import to_binary
from router_harness import (
    RouterStarter,
    Subscribers,
    backlog,
    broker_yaml,
    dead_letters,
    event,
    send,
    trigger_yaml,
)
from sender_keys import KEYS, NAMESPACE, as_outbox_relay, as_router
from taskflow.adapters import sender_identity
from taskflow.config import load_settings
from taskflow_dev.local.launch import wait_until

ALL_TASK_EVENTS = "[{prefix: {type: com.taskflow.task.}}]"


def post(url: str, headers: dict[str, str]) -> requests.Response:
    event_headers, body = to_binary(event("com.taskflow.task.created", id_="forged"))
    return requests.post(url, data=body, headers=event_headers | headers, timeout=5)


def test_the_ingress_refuses_events_the_outbox_relay_did_not_sign_for_that_broker(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    audit = subscribers("write-audit")
    router = start_router(
        broker_yaml("task-events")
        + broker_yaml("reminders")
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS)
    )
    ingress = f"{router.url}/taskflow/task-events"
    other_key = sender_identity.Signer(
        sender_identity.OUTBOX_RELAY, "someone-elses-key-of-32-bytes-0123456"
    )
    task_events = sender_identity.broker_audience(NAMESPACE, "task-events")
    forgeries = {
        "no credential": {},
        "a user's bearer scheme without a token": {"Authorization": "Bearer "},
        "another key": other_key.headers(task_events),
        "another broker's audience": as_outbox_relay.headers(
            sender_identity.broker_audience(NAMESPACE, "reminders")
        ),
        "the router's own delivery key": as_router.headers(task_events),
    }
    answers = {name: post(ingress, headers) for name, headers in forgeries.items()}

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(
        forgeries, 401
    )
    assert answers["no credential"].json()["error"]["field"] == "authorization"
    # Nothing was stored: a signed event sent afterwards is the only one delivered.
    assert send(router.url, "task-events", event("com.taskflow.task.created", id_="real")).ok
    wait_until(lambda: audit.ids() and backlog(router.url) == 0, what="the signed delivery")
    assert audit.ids() == ["real"]


def test_each_delivery_carries_a_token_its_subscribers_door_accepts(
    subscribers: Subscribers, start_router: RouterStarter
) -> None:
    audit = subscribers("write-audit")
    router = start_router(
        broker_yaml("task-events")
        + trigger_yaml("audit", "task-events", "write-audit", ALL_TASK_EVENTS)
    )
    assert send(router.url, "task-events", event("com.taskflow.task.created", id_="e-1")).ok
    wait_until(lambda: audit.received(), what="the delivery")
    (delivery,) = audit.received()
    settings = load_settings()
    assert settings.delivery_key == KEYS["TASKFLOW_DELIVERY_KEY"]

    claims = sender_identity.delivery_door(settings, "write-audit").check(delivery.headers)
    assert claims["iss"] == sender_identity.ROUTER
    try:
        sender_identity.delivery_door(settings, "create-task").check(delivery.headers)
    except sender_identity.Unauthorized:
        pass
    else:
        raise AssertionError("a delivery to write-audit opened create-task's door")


def test_the_local_dead_letter_sink_takes_only_the_routers_own_deliveries(
    start_router: RouterStarter,
) -> None:
    router = start_router(broker_yaml("task-events"))
    assert post(f"{router.url}/dead-letter", {}).status_code == 401
    assert dead_letters(router.url) == []


def test_a_door_that_accepted_a_token_refuses_it_once_expired_and_elsewhere() -> None:
    # A door remembers the tokens it verified (a sender reuses one for half its life): that
    # memory must end with the token's lifetime and never open another door.
    key = KEYS["TASKFLOW_DELIVERY_KEY"]
    audience = sender_identity.service_audience(NAMESPACE, "write-audit")
    door = sender_identity.Door(audience, sender_identity.ROUTER, key)
    # Expired a moment ago, still inside the tolerated clock skew: accepted until that ends.
    expires = time.time() - sender_identity.LEEWAY_SECONDS + 1.5
    claims = {"iss": sender_identity.ROUTER, "sub": "router", "aud": audience, "exp": expires}
    headers = {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='HS256')}"}
    assert door.check(headers)["aud"] == audience
    assert door.check(headers)["aud"] == audience  # the remembered verdict

    other = sender_identity.Door(
        sender_identity.service_audience(NAMESPACE, "send-reminder"), sender_identity.ROUTER, key
    )
    with pytest.raises(sender_identity.Unauthorized):
        other.check(headers)

    def refused() -> bool:
        try:
            door.check(headers)
        except sender_identity.Unauthorized:
            return True
        return False

    wait_until(refused, what="the expired token to be refused", timeout=10)
