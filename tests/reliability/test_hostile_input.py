"""What a hostile tester found against the running product (issue 12, items 3 to 6), each kept
fixed here: every answer is a 4xx naming the field, and nothing was written or sent."""

from __future__ import annotations

import html.parser
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from sender_keys import headers_for
from stack import Stack
from taskflow import catalogue
from taskflow.config import FUNCTIONS, REPO_ROOT
from taskflow_dev.local.launch import wait_until
from workload import User

UNSTORABLE = {"lone surrogate": "before \ud800 after", "NUL": "before \x00 after"}


@pytest.fixture(scope="module")
def user(product: Stack) -> User:
    return User(product.web, seed=12)


def _field(answer: requests.Response) -> str | None:
    return answer.json().get("error", {}).get("field")


# -- item 3: server-side request forgery through the reminder webhook ---------------------------


class RecordingServer:
    """A local HTTP server counting what reaches it: the target an attacker would aim at."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                recorder.requests.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_target() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.close()


def test_webhooks_to_internal_addresses_are_refused_when_saved(product: Stack, user: User) -> None:
    """Pointing the webhook at send-reminder's own /deliver made it call itself."""
    own_port = product.ports.send_reminder
    internal = [
        f"http://127.0.0.1:{own_port}/deliver",
        f"http://localhost:{own_port}/deliver",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://[::1]:8103/deliver",
        "http://[::ffff:127.0.0.1]:8103/deliver",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0:8103/",
        "http://224.0.0.1/",
        "http://[fe80::1]/",
        "https://127.1/",
    ]
    for url in internal:
        answer = requests.patch(
            f"{product.web}/api/me", json={"webhook_url": url}, headers=user.auth, timeout=10
        )
        assert answer.status_code == 422, (url, answer.status_code, answer.text)
        assert _field(answer) == "webhook_url", answer.text
    me = requests.get(f"{product.web}/api/me", headers=user.auth, timeout=10).json()
    assert me["webhook_url"] is None


def test_a_webhook_that_resolves_to_an_internal_address_at_send_time_is_not_called(
    product: Stack, local_target: RecordingServer
) -> None:
    """DNS rebinding: a name that was public when saved resolves to loopback when the reminder
    fires. The row is written directly, as a URL saved back then would be."""
    victim = User(product.web, seed=13)
    engine = sa.create_engine(product.settings.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE users SET webhook_url = :url WHERE id = :id"),
                {"url": f"http://localhost:{local_target.port}/hook", "id": victim.user_id},
            )
    finally:
        engine.dispose()
    event = CloudEvent(
        {
            "type": catalogue.REMINDER_DUE,
            "source": "/tests/reliability",
            "id": f"rebinding-{uuid.uuid4().hex}",
            "partitionkey": victim.user_id,
        },
        {
            "task_id": 1,
            "reminder_id": "r1",
            "title": "rebinding",
            "due_at": None,
            "remind_at": "2030-01-01T09:00:00+00:00",
            "user_id": victim.user_id,
        },
    )
    headers, body = to_binary(event)
    deliver = product.url("send_reminder") + "/deliver"
    headers |= headers_for(deliver)  # as the broker delivers it
    answer = requests.post(deliver, data=body, headers=headers, timeout=30)
    assert answer.status_code == 422, answer.text
    assert _field(answer) == "webhook_url"
    assert "127.0.0.1" in answer.json()["error"]["reason"]
    assert local_target.requests == []


# -- item 4: lone surrogates and NUL in any string field --------------------------------------


def test_lone_surrogates_and_nul_are_422_naming_the_field_and_write_nothing(
    product: Stack, user: User
) -> None:
    tasks = f"{product.web}{user.tasks_path}"
    target = requests.post(tasks, json={"title": "kept as it is"}, headers=user.auth, timeout=10)
    assert target.status_code == 201, target.text
    task_url = f"{tasks}/{target.json()['id']}"
    email = f"{uuid.uuid4().hex[:8]}@example.org"
    for kind, text in UNSTORABLE.items():
        cases: list[tuple[str, str, str, dict[str, Any], dict[str, str]]] = [
            ("POST", tasks, "title", {"title": text}, user.auth),
            ("POST", tasks, "description", {"title": "t", "description": text}, user.auth),
            ("POST", tasks, "tags", {"title": "t", "tags": ["ok", text]}, user.auth),
            ("POST", tasks, "text", {"text": f"buy milk {text} tomorrow"}, user.auth),
            ("PUT", task_url, "title", {"title": text}, user.auth),
            (
                "POST",
                f"{product.web}/api/{user.user_id}/chat",
                "message",
                {"message": text},
                user.auth,
            ),
            (
                "POST",
                f"{product.web}/api/auth/signup",
                "email",
                {"email": text, "password": "long enough pw"},
                {},
            ),
            (
                "POST",
                f"{product.web}/api/auth/signup",
                "password",
                {"email": email, "password": f"long enough {text}"},
                {},
            ),
            (
                "POST",
                f"{product.web}/api/auth/login",
                "password",
                {"email": email, "password": text},
                {},
            ),
            ("PATCH", f"{product.web}/api/me", "timezone", {"timezone": text}, user.auth),
            (
                "PATCH",
                f"{product.web}/api/me",
                "webhook_url",
                {"webhook_url": f"https://hooks.example.org/{text}"},
                user.auth,
            ),
        ]
        for method, url, field, body, headers in cases:
            answer = requests.request(method, url, json=body, headers=headers, timeout=30)
            assert answer.status_code == 422, (kind, method, url, answer.status_code, answer.text)
            assert _field(answer) == field, (kind, answer.text)
    # A URL cannot carry a lone surrogate (UTF-8 has none), but %00 is NUL.
    search = requests.get(tasks, params={"search": "a\x00b"}, headers=user.auth, timeout=10)
    assert search.status_code == 422, search.text
    assert _field(search) == "search"

    listed = requests.get(tasks, headers=user.auth, timeout=10).json()
    assert [task["title"] for task in listed["items"]] == ["kept as it is"]
    login = requests.post(
        f"{product.web}/api/auth/login",
        json={"email": email, "password": "long enough pw"},
        timeout=10,
    )
    assert login.status_code == 401  # no account was made with either body
    me = requests.get(f"{product.web}/api/me", headers=user.auth, timeout=10).json()
    assert (me["timezone"], me["webhook_url"]) == ("UTC", None)
    requests.delete(task_url, headers=user.auth, timeout=10)


# -- item 5: dates near year 1 or 9999 ---------------------------------------------------------


def test_dues_outside_1900_to_2200_are_422_for_writes_and_list_filters(product: Stack) -> None:
    user = User(product.web, seed=14)
    tasks = f"{product.web}{user.tasks_path}"
    for due in ("0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01", "9999-12-31T23:00-05:00"):
        created = requests.post(
            tasks, json={"title": "far", "due": due}, headers=user.auth, timeout=10
        )
        assert created.status_code == 422, (due, created.status_code, created.text)
        assert _field(created) == "due"
        for bound in ("due_from", "due_to"):
            listed = requests.get(tasks, params={bound: due}, headers=user.auth, timeout=10)
            assert listed.status_code == 422, (bound, due, listed.status_code, listed.text)
            assert _field(listed) == bound
    kept = requests.post(
        tasks, json={"title": "edge", "due": "2200-12-31"}, headers=user.auth, timeout=10
    )
    assert kept.status_code == 201, kept.text
    moved = requests.put(
        f"{tasks}/{kept.json()['id']}", json={"due": "0001-01-01"}, headers=user.auth, timeout=10
    )
    assert moved.status_code == 422
    assert _field(moved) == "due"
    listed = requests.get(tasks, headers=user.auth, timeout=10).json()
    assert [(t["title"], t["due_date"]) for t in listed["items"]] == [("edge", "2200-12-31")]


def test_a_series_whose_next_date_is_out_of_bounds_ends_and_says_why(product: Stack) -> None:
    """A yearly task due 9998-12-31, once completed, made create-task fail until its spawn was
    dead-lettered, and the series ended without a word to the user."""
    user = User(product.web, seed=15)
    tasks = f"{product.web}{user.tasks_path}"
    created = requests.post(
        tasks,
        json={
            "title": "last of its kind",
            "due": "2200-06-01",
            "recurrence": {"rule": "FREQ=YEARLY"},
        },
        headers=user.auth,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    task_url = f"{tasks}/{created.json()['id']}"
    done = requests.patch(f"{task_url}/complete", json={}, headers=user.auth, timeout=30)
    assert done.status_code == 200, done.text

    def ended() -> bool:
        return requests.get(task_url, headers=user.auth, timeout=10).json()["recurrence"] is None

    wait_until(ended, what="the series to end", timeout=60)
    product.wait_quiet()
    listed = requests.get(tasks, headers=user.auth, timeout=10).json()
    assert listed["total"] == 1  # no occurrence in 2201
    history = requests.get(f"{task_url}/history", headers=user.auth, timeout=10).json()
    reasons = [str((entry.get("after") or {}).get("reason")) for entry in history["items"]]
    assert any("series ended" in reason and "2200" in reason for reason in reasons), history
    assert product.dead_letters() == []


# -- item 6: the smaller items ------------------------------------------------------------------


def test_a_huge_page_number_is_422(product: Stack, user: User) -> None:
    answer = requests.get(
        f"{product.web}{user.tasks_path}",
        params={"page": "99999999999999999999"},
        headers=user.auth,
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    assert _field(answer) == "page"


def test_localtime_is_not_a_timezone(product: Stack, user: User) -> None:
    for zone in ("localtime", "Factory", "posixrules"):
        moved = requests.patch(
            f"{product.web}/api/me", json={"timezone": zone}, headers=user.auth, timeout=10
        )
        assert moved.status_code == 422, (zone, moved.text)
        assert _field(moved) == "timezone"
    signup = requests.post(
        f"{product.web}/api/auth/signup",
        json={
            "email": f"{uuid.uuid4().hex[:8]}@example.org",
            "password": "long enough pw",
            "timezone": "localtime",
        },
        timeout=10,
    )
    assert signup.status_code == 422
    assert _field(signup) == "timezone"


def test_common_passwords_are_refused_at_sign_up(product: Stack) -> None:
    for password in ("password", "Password", "12345678", "iloveyou", "qwertyuiop"):
        answer = requests.post(
            f"{product.web}/api/auth/signup",
            json={"email": f"{uuid.uuid4().hex[:8]}@example.org", "password": password},
            timeout=10,
        )
        assert answer.status_code == 422, (password, answer.text)
        assert _field(answer) == "password"
        assert "common" in answer.json()["error"]["reason"]


def test_a_rule_ending_before_the_due_is_422(product: Stack, user: User) -> None:
    tasks = f"{product.web}{user.tasks_path}"
    before = requests.get(tasks, headers=user.auth, timeout=10).json()["total"]
    for due, rule in (
        ("2031-06-01", "FREQ=DAILY;UNTIL=20310501"),
        ("2031-06-01T09:00:00Z", "FREQ=DAILY;UNTIL=20310501T090000Z"),
        ("2031-06-01T09:00:00Z", "FREQ=WEEKLY;UNTIL=20310520"),
    ):
        answer = requests.post(
            tasks,
            json={"title": "never twice", "due": due, "recurrence": {"rule": rule}},
            headers=user.auth,
            timeout=10,
        )
        assert answer.status_code == 422, (rule, answer.text)
        assert _field(answer) == "recurrence"
    assert requests.get(tasks, headers=user.auth, timeout=10).json()["total"] == before


class _InlineCode(html.parser.HTMLParser):
    """What a CSP without 'unsafe-inline' would block in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{name}= on <{tag}>" for name in names if name == "style"]
        self.found += [f"{name}= on <{tag}>" for name in names if name.startswith("on")]


def test_the_web_app_sends_security_headers_and_its_page_obeys_the_csp(
    product: Stack, user: User
) -> None:
    for path, headers in (("/", {}), ("/app.js", {}), ("/api/me", user.auth)):
        answer = requests.get(f"{product.web}{path}", headers=headers, timeout=10)
        assert answer.status_code == 200, (path, answer.status_code)
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        policy = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        # Live sync is another port: the page may reach it, and only it besides itself.
        assert f":{product.ports.broadcast_update}" in policy
    page = _InlineCode()
    page.feed((REPO_ROOT / "frontend" / "index.html").read_text())
    assert page.found == []
    for script in (REPO_ROOT / "frontend").glob("*.js"):
        source = script.read_text()
        for blocked in ("eval(", "new Function(", ".innerHTML", 'setAttribute("style"'):
            assert blocked not in source, (script.name, blocked)


def test_empty_202_answers_claim_no_content_type(product: Stack) -> None:
    """A 202 with an empty body said Content-Type: text/html."""
    for url in (product.url("send_reminder") + "/sweep", product.url("create_task") + "/relay"):
        answer = requests.post(url, headers=headers_for(url), timeout=30)
        assert (answer.status_code, answer.content) == (202, b""), url
        assert "Content-Type" not in answer.headers, (url, dict(answer.headers))


@pytest.mark.parametrize("name", ["web", *FUNCTIONS])
def test_metrics_are_not_served_on_the_public_ports(product: Stack, name: str) -> None:
    """`/metrics` sat on the web app's public port (issue 12, item 6): now every public port
    (the web app's and each function's) answers it 404, and each process serves its counters
    only on its metrics port."""
    assert requests.get(f"{product.url(name)}/metrics", timeout=10).status_code == 404
    metrics = requests.get(f"{product.url(f'{name}_metrics')}/metrics", timeout=10)
    assert metrics.status_code == 200
    assert "taskflow_http_requests_total" in metrics.text
