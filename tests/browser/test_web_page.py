"""The web page in headless Chromium (Debian's package, driven by Playwright) against the whole
product started by `python -m taskflow_dev.local` on free ports: sign up, add tasks by chat, see
them appear live in a second browser of the same user and never in another user's, complete one,
receive a reminder toast. Screenshots of the main screens go to test-artifacts/browser/."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from taskflow.config import REPO_ROOT, Ports
from taskflow_dev.local.launch import free_port, wait_until

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
START_TIMEOUT_SECONDS = 120
LIVE_TIMEOUT_MS = 10_000  # generous for a loaded CI machine; the product aims at < 1 s
REMINDER_TIMEOUT_MS = 40_000  # the reminder sweep runs every few seconds
PASSWORD = "correct horse battery"


class SwitchableProxy:
    """A TCP relay to the live-sync server that the test can cut and restore: a real network
    drop for the browser (Playwright's offline mode leaves open websockets alone)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connected = threading.Event()
        self.connected.set()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if not self.connected.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def cut(self) -> None:
        self.connected.clear()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for end in pair:
                # shutdown, not only close: it wakes the pump blocked in recv and sends FIN.
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def restore(self) -> None:
        self.connected.set()

    def close(self) -> None:
        self.cut()
        self._listener.close()


@pytest.fixture(scope="module")
def live_proxy() -> Iterator[SwitchableProxy]:
    proxy = SwitchableProxy(free_port())
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory, live_proxy: SwitchableProxy) -> Iterator[str]:
    """The whole product on free ports; yields the web page's URL. Browsers reach live sync
    through `live_proxy`."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/prepare.sh does)")
    data_dir = tmp_path_factory.mktemp("product")
    ports = {name: free_port() for name in asdict(Ports())}
    ports["broadcast_update"] = live_proxy.target_port
    env = {
        "TASKFLOW_PUBLIC_SOCKET_URL": f"http://127.0.0.1:{live_proxy.port}",
        **os.environ,
        **{f"TASKFLOW_PORT_{name.upper()}": str(port) for name, port in ports.items()},
        "TASKFLOW_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'taskflow.db'}",
        "JWT_SECRET": "browser-test-secret-of-enough-length-for-hs256",
        "OPENAI_API_KEY": "",
        "PYTHONUNBUFFERED": "1",
    }
    for variable in ("BROKER_URL", "CREATE_TASK_URL", "BROADCAST_URL"):
        env.pop(variable, None)
    log_path = data_dir / "local.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "taskflow_dev.local"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    web = f"http://127.0.0.1:{ports['web']}"
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the runner exited:\n{log_path.read_text()[-4000:]}")
            return _ready(web)

        wait_until(ready, what="the web app to answer", timeout=START_TIMEOUT_SECONDS)
        yield web
    finally:
        process.terminate()  # the runner stops its children on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _ready(web: str) -> bool:
    try:
        return requests.get(f"{web}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser: object, web: str, *, phone: bool = False) -> object:
    viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 800}
    context = browser.new_context(viewport=viewport)  # type: ignore[attr-defined]
    context.grant_permissions(["notifications"], origin=web)
    page = context.new_page()
    page.goto(web)
    return page


def _sign_up(page: object, email: str) -> None:
    page.get_by_role("tab", name="Sign up").click()  # type: ignore[attr-defined]
    page.get_by_label("Email").fill(email)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Create account").click()  # type: ignore[attr-defined]
    page.locator("#workspace").wait_for(state="visible")  # type: ignore[attr-defined]


def _log_in(page: object, email: str) -> None:
    page.get_by_label("Email").fill(email)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(PASSWORD)  # type: ignore[attr-defined]
    page.locator("#auth-submit").click()  # type: ignore[attr-defined]
    page.locator("#workspace").wait_for(state="visible")  # type: ignore[attr-defined]


def _wait_live(page: object) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#live-status")).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)  # type: ignore[attr-defined]


def _chat(page: object, message: str) -> str:
    answers = page.locator(".message.assistant:not(.pending)")  # type: ignore[attr-defined]
    before = answers.count()
    page.get_by_label("Message").fill(message)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Send").click()  # type: ignore[attr-defined]
    answers.nth(before).wait_for()
    return answers.nth(before).inner_text()


def _task(page: object, title: str) -> object:
    return page.locator(".task", has_text=title)  # type: ignore[attr-defined]


def _view(page: object, name: str) -> None:
    page.locator("#views").get_by_role("button", name=name, exact=True).click()  # type: ignore[attr-defined]


def _session(page: object) -> dict:
    return page.evaluate("JSON.parse(localStorage.getItem('taskflow.session'))")  # type: ignore[attr-defined]


def _api(
    product: str, session: dict, method: str, path: str, **kwargs: object
) -> requests.Response:
    return requests.request(
        method,
        f"{product}/api/{session['user_id']}/tasks{path}",
        headers={"Authorization": f"Bearer {session['token']}"},
        timeout=10,
        **kwargs,  # type: ignore[arg-type]
    )


def _shot(page: object, name: str) -> None:
    page.screenshot(path=ARTIFACTS / name)  # type: ignore[attr-defined]


def _open_in_zone(browser: object, web: str, zone: str, *, phone: bool = False) -> object:
    """A browser whose clock is in `zone`, as the user's laptop or phone would be."""
    viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 800}
    context = browser.new_context(viewport=viewport, timezone_id=zone)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(web)
    return page


def test_a_due_reads_the_same_in_the_list_and_in_the_assistants_reply(
    product: str, browser: object
) -> None:
    """One wording of days and times (domain/when.py, words.js): the list and the assistant
    write a due alike, in the user's zone (Karachi) even on a device set to New York; and an
    undo by chat of a repeating task's completion says the next occurrence is withdrawn, as
    the list shows."""
    from playwright.sync_api import expect

    email = f"jan-{uuid.uuid4().hex[:8]}@example.org"
    laptop = _open_in_zone(browser, product, "Asia/Karachi")
    _sign_up(laptop, email)
    _wait_live(laptop)
    session = _session(laptop)
    assert session["timezone"] == "Asia/Karachi"
    _chat(laptop, "add pay rent on the 1st every month p1 #home, remind me a day before")
    tomorrow = datetime.now(ZoneInfo("Asia/Karachi")).date() + timedelta(days=1)
    at_five = datetime.combine(tomorrow, time(17, 0), tzinfo=ZoneInfo("Asia/Karachi"))
    body = {"title": "call the plumber", "due": at_five.isoformat()}
    assert _api(product, session, "POST", "", json=body).status_code == 201
    expect(_task(laptop, "call the plumber")).to_be_visible(timeout=LIVE_TIMEOUT_MS)

    listing = _chat(laptop, "show my tasks")
    phone = _open_in_zone(browser, product, "America/New_York", phone=True)
    _log_in(phone, email)
    for title in ("pay rent", "call the plumber"):
        shown = _task(laptop, title).locator(".due").inner_text()
        assert shown.startswith("Due "), shown
        (line,) = [line for line in listing.splitlines() if f" {title} · " in line]
        assert f"· due {shown.removeprefix('Due ')} ·" in f"{line} ·", (shown, line)
        expect(_task(phone, title).locator(".due")).to_have_text(shown)
    assert "17:00" in _task(laptop, "call the plumber").locator(".due").inner_text()
    _shot(laptop, "15-due-wording-desktop.png")
    _shot(phone, "28-due-wording-phone.png")

    first_id = _task(laptop, "pay rent").get_attribute("data-task-id")
    _chat(laptop, "complete task pay rent")
    # The list shows the next occurrence in place of the completed one.
    following = laptop.locator(".task", has_text="pay rent").locator(  # type: ignore[attr-defined]
        f"xpath=self::*[not(@data-task-id='{first_id}')]"
    )
    expect(following).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(_task(laptop, "pay rent")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    next_id = following.get_attribute("data-task-id")
    undone = _chat(laptop, "undo")
    assert f'task #{next_id} "pay rent"' in undone and "is withdrawn" in undone, undone
    for page in (laptop, phone):
        expect(page.locator(f'.task[data-task-id="{next_id}"]')).to_have_count(  # type: ignore[attr-defined]
            0, timeout=LIVE_TIMEOUT_MS
        )
        expect(_task(page, "pay rent")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    _shot(laptop, "16-undo-by-chat.png")
    for page in (laptop, phone):
        page.context.close()  # type: ignore[attr-defined]


def test_chat_live_sync_isolation_completion_and_reminders(product: str, browser: object) -> None:
    from playwright.sync_api import expect

    email = f"alice-{uuid.uuid4().hex[:8]}@example.org"
    alice = _open(browser, product)
    alice.screenshot(path=ARTIFACTS / "01-sign-in.png")  # type: ignore[attr-defined]
    _sign_up(alice, email)
    _wait_live(alice)
    alice.screenshot(path=ARTIFACTS / "02-empty-workspace.png")  # type: ignore[attr-defined]

    alice_phone = _open(browser, product, phone=True)
    _log_in(alice_phone, email)
    bob = _open(browser, product)
    _sign_up(bob, f"bob-{uuid.uuid4().hex[:8]}@example.org")
    for page in (alice_phone, bob):
        _wait_live(page)

    answer = _chat(alice, "Add a task to buy groceries")
    assert "buy groceries" in answer
    _chat(alice, "add pay rent tomorrow at 9am p1 #home every month")
    for page in (alice, alice_phone):
        expect(_task(page, "buy groceries")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        rent = _task(page, "pay rent")
        expect(rent).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        expect(rent.locator(".chip.priority")).to_have_text("high priority")
        expect(rent.locator(".chip.tag")).to_have_text("#home")
        expect(rent.locator(".chip.recurring")).to_contain_text("↻ every month on the")
        expect(rent.locator(".due")).to_contain_text("Due")
    alice.screenshot(path=ARTIFACTS / "03-chat-and-live-list.png")  # type: ignore[attr-defined]
    # A reload shows the stored conversation again.
    alice.reload()  # type: ignore[attr-defined]
    expect(alice.locator(".message.user").first).to_have_text(  # type: ignore[attr-defined]
        "You: Add a task to buy groceries"
    )
    _wait_live(alice)

    # The phone completes a task: it leaves the pending list on both of alice's screens.
    _task(alice_phone, "buy groceries").get_by_role("checkbox").click()
    for page in (alice, alice_phone):
        expect(_task(page, "buy groceries")).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    _view(alice, "Completed")
    expect(_task(alice, "buy groceries")).to_have_class("task done", timeout=LIVE_TIMEOUT_MS)
    _view(alice, "All open")

    # A reminder a few seconds from now: a toast on alice's screens, nothing on bob's.
    session = alice.evaluate("JSON.parse(localStorage.getItem('taskflow.session'))")  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    created = requests.post(
        f"{product}/api/{session['user_id']}/tasks",
        json={
            "title": "stretch your legs",
            "due": (now + timedelta(minutes=30)).isoformat(),
            "reminders": [{"at": (now + timedelta(seconds=4)).isoformat()}],
        },
        headers={"Authorization": f"Bearer {session['token']}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    for page in (alice, alice_phone):
        toast = page.locator(".toast.reminder")  # type: ignore[attr-defined]
        expect(toast).to_contain_text("Reminder: stretch your legs", timeout=REMINDER_TIMEOUT_MS)
    alice.screenshot(path=ARTIFACTS / "04-reminder-toast.png")  # type: ignore[attr-defined]
    alice_phone.screenshot(path=ARTIFACTS / "05-phone.png", full_page=True)  # type: ignore[attr-defined]

    # Bob saw none of it: his list is empty and no toast reached him.
    expect(bob.locator(".task")).to_have_count(0)  # type: ignore[attr-defined]
    expect(bob.locator(".toast.reminder")).to_have_count(0)  # type: ignore[attr-defined]
    assert bob.locator("#task-count").inner_text() == "(0)"  # type: ignore[attr-defined]
    bob.screenshot(path=ARTIFACTS / "06-other-user.png")  # type: ignore[attr-defined]


def test_reconnecting_catches_up_on_what_was_missed(
    product: str, browser: object, live_proxy: SwitchableProxy
) -> None:
    from playwright.sync_api import expect

    email = f"carol-{uuid.uuid4().hex[:8]}@example.org"
    laptop = _open(browser, product)
    _sign_up(laptop, email)
    phone = _open(browser, product, phone=True)
    _log_in(phone, email)
    for page in (laptop, phone):
        _wait_live(page)

    live_proxy.cut()
    expect(phone.locator("#live-status")).not_to_have_text("Live", timeout=LIVE_TIMEOUT_MS)  # type: ignore[attr-defined]
    # Keyboard only: type the message and press Enter.
    laptop.get_by_label("Message").fill("Add a task to renew the passport")  # type: ignore[attr-defined]
    laptop.get_by_label("Message").press("Enter")  # type: ignore[attr-defined]
    expect(_task(laptop, "renew the passport")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(_task(phone, "renew the passport")).to_have_count(0)
    phone.screenshot(path=ARTIFACTS / "07-offline.png")  # type: ignore[attr-defined]

    live_proxy.restore()
    _wait_live(phone)
    expect(_task(phone, "renew the passport")).to_be_visible(timeout=LIVE_TIMEOUT_MS)


def test_editing_in_place_details_undo_views_and_shortcuts(product: str, browser: object) -> None:
    from playwright.sync_api import expect

    page = _open(browser, product)
    _sign_up(page, f"dana-{uuid.uuid4().hex[:8]}@example.org")
    _wait_live(page)
    session = _session(page)

    # q opens quick add from anywhere outside a text box.
    page.locator("body").click()  # type: ignore[attr-defined]
    page.keyboard.press("q")  # type: ignore[attr-defined]
    expect(page.locator("#quick-add")).to_be_focused()  # type: ignore[attr-defined]
    page.keyboard.type("water the plants tomorrow p3 #home")  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    plants = _task(page, "water the plants")
    expect(plants).to_be_visible(timeout=LIVE_TIMEOUT_MS)

    # A click on the title opens the details; it never completes the task.
    plants.locator(".title").click()
    details = page.locator("#details")  # type: ignore[attr-defined]
    expect(details).to_be_visible()
    expect(plants.get_by_role("checkbox")).not_to_be_checked()
    details.get_by_label("Notes").fill("the big ones on the balcony too")  # type: ignore[attr-defined]
    details.get_by_label("Time").fill("18:30")  # type: ignore[attr-defined]
    details.get_by_label("Priority", exact=True).select_option("high")  # type: ignore[attr-defined]
    details.get_by_label("Tags").fill("home, garden")  # type: ignore[attr-defined]
    details.get_by_label("Reminder").select_option(label="1 day before")  # type: ignore[attr-defined]
    details.get_by_label("Repeat").select_option(label="every 2 days")  # type: ignore[attr-defined]
    _shot(page, "10-details-panel.png")
    details.get_by_role("button", name="Save").click()
    expect(details).to_be_hidden()
    expect(plants.locator(".chip.recurring")).to_have_text(
        "↻ every 2 days", timeout=LIVE_TIMEOUT_MS
    )
    expect(plants.locator(".chip.reminder")).to_have_text("Remind 1 day before")
    expect(plants.locator(".chip.priority")).to_have_text("high priority")
    expect(plants.locator(".chip.tag")).to_have_text(["#home", "#garden"])
    stored = _api(product, session, "GET", f"/{plants.get_attribute('data-task-id')}").json()
    assert stored["description"] == "the big ones on the balcony too"
    assert stored["due_at"] is not None
    assert stored["recurrence"]["rule"] == "FREQ=DAILY;INTERVAL=2"
    assert stored["reminders"][0]["before_minutes"] == 1440
    assert "FREQ=" not in page.locator("#task-list").inner_text()  # type: ignore[attr-defined]

    # Double-click renames in place; Enter on the focused title does too.
    plants.locator(".title").dblclick()
    editor = page.locator(".title-editor")  # type: ignore[attr-defined]
    editor.fill("water all the plants")
    editor.press("Enter")
    plants = _task(page, "water all the plants")
    expect(plants).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    task_id = plants.get_attribute("data-task-id")

    def title() -> str:
        return _api(product, session, "GET", f"/{task_id}").json()["title"]

    wait_until(lambda: title() == "water all the plants", what="the rename to be stored")
    plants.locator(".title").focus()
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    page.locator(".title-editor").fill("water the plants")  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    wait_until(lambda: title() == "water the plants", what="the second rename to be stored")
    plants = page.locator(f'.task[data-task-id="{task_id}"]')  # type: ignore[attr-defined]
    expect(plants.locator(".title")).to_have_text("water the plants", timeout=LIVE_TIMEOUT_MS)

    # Complete, then Undo: the task is open again, and the occurrence its completion made for
    # the next time is gone again, so only one "water the plants" remains.
    this_one = page.locator(f'.task[data-task-id="{task_id}"]')  # type: ignore[attr-defined]
    this_one.get_by_role("checkbox").click()
    expect(this_one).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    pending = {"status": "pending", "search": "plants"}

    def open_titles() -> list[str]:
        answer = _api(product, session, "GET", "", params=pending).json()
        return [task["title"] for task in answer["items"]]

    wait_until(lambda: open_titles() == ["water the plants"], what="the next occurrence")
    undo = page.locator(".toast", has_text="Completed").get_by_role("button", name="Undo")  # type: ignore[attr-defined]
    undo.click()
    expect(this_one).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    wait_until(lambda: len(open_titles()) == 1, what="the next occurrence to go")
    assert _api(product, session, "GET", f"/{task_id}").json()["completed"] is False
    expect(_task(page, "water the plants")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)

    # Delete, then Undo: the same task (same id, same fields) is back.
    this_one.get_by_role("button", name="Delete").click()
    toast = page.locator(".toast", has_text='Deleted "water the plants"')  # type: ignore[attr-defined]
    expect(toast).to_be_visible()
    expect(this_one).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    _shot(page, "11-undo-toast.png")
    toast.get_by_role("button", name="Undo").click()
    back = page.locator(f'.task[data-task-id="{task_id}"]')  # type: ignore[attr-defined]
    expect(back).to_contain_text("water the plants", timeout=LIVE_TIMEOUT_MS)
    expect(back.locator(".chip.recurring")).to_have_text("↻ every 2 days")

    # Views: Overdue, Today, Upcoming; sort by priority puts high first.
    now = datetime.now(UTC)
    for title, due, priority in (
        ("file the old invoice", (now - timedelta(days=3)).date().isoformat(), "low"),
        ("call the dentist", (now + timedelta(minutes=90)).isoformat(), "medium"),
        ("book the flights", (now + timedelta(days=9)).date().isoformat(), "high"),
    ):
        body = {"title": title, "due": due, "priority": priority}
        assert _api(product, session, "POST", "", json=body).status_code == 201
    expect(_task(page, "book the flights")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    _view(page, "Overdue")
    expect(page.locator(".task .title")).to_have_text(["file the old invoice"])  # type: ignore[attr-defined]
    _view(page, "Upcoming")
    expect(_task(page, "book the flights")).to_be_visible()
    expect(_task(page, "file the old invoice")).to_have_count(0)
    _view(page, "All open")
    page.locator("summary", has_text="Filter").click()  # type: ignore[attr-defined]
    page.get_by_label("Sort by").select_option(label="Priority (high first)")  # type: ignore[attr-defined]
    expect(page.locator(".task .chip.priority").first).to_have_text("high priority")  # type: ignore[attr-defined]
    _shot(page, "12-sorted-by-priority.png")

    # The tag sidebar counts open tasks per tag; a click filters by it, another clears it.
    garden = page.locator(".tag-filter", has_text="#garden")  # type: ignore[attr-defined]
    expect(garden).to_have_text("#garden1", timeout=LIVE_TIMEOUT_MS)
    garden.click()
    expect(page.locator(".task .title")).to_have_text(["water the plants"])  # type: ignore[attr-defined]
    garden.click()
    expect(page.locator(".task")).to_have_count(4)  # type: ignore[attr-defined]

    # The activity panel: the user's changes, newest first, with a filter.
    page.get_by_role("button", name="Activity").click()  # type: ignore[attr-defined]
    activity = page.locator("#activity-list")  # type: ignore[attr-defined]
    expect(activity).to_contain_text('Deleted "water the plants"', timeout=LIVE_TIMEOUT_MS)
    expect(activity.locator(".activity").first).to_contain_text('Added "book the flights"')
    expect(activity).to_contain_text('Restored "water the plants"')
    # The occurrence the completion made, and its withdrawal by Undo, read as the series' doing.
    expect(activity).to_contain_text('Scheduled the next "water the plants"')
    expect(activity).to_contain_text('Took back the next "water the plants"')
    expect(activity.get_by_text('Deleted "water the plants"')).to_have_count(1)
    _shot(page, "13-tags-and-activity.png")
    page.locator("#activity-filter").select_option("completed")  # type: ignore[attr-defined]
    expect(activity.locator(".activity .what")).to_have_text(['Completed "water the plants"'])
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    expect(page.locator("#activity")).to_be_hidden()  # type: ignore[attr-defined]

    # / jumps to search.
    page.locator("body").click()  # type: ignore[attr-defined]
    page.keyboard.press("/")  # type: ignore[attr-defined]
    expect(page.locator("#search")).to_be_focused()  # type: ignore[attr-defined]

    # The favicon is served.
    assert requests.get(f"{product}/favicon.ico", timeout=10).status_code == 200


def test_phone_layout_puts_the_list_first(product: str, browser: object) -> None:
    from playwright.sync_api import expect

    phone = _open(browser, product, phone=True)
    _sign_up(phone, f"erin-{uuid.uuid4().hex[:8]}@example.org")
    session = _session(phone)
    for title in ("pay rent", "buy milk", "call mum"):
        assert _api(product, session, "POST", "", json={"title": title}).status_code == 201
    phone.reload()  # type: ignore[attr-defined]
    first = phone.locator(".task").first  # type: ignore[attr-defined]
    expect(first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    # The first task is on the first screen (a re-render may replace the node: measure in page).
    bottom = phone.evaluate("document.querySelector('.task').getBoundingClientRect().bottom")  # type: ignore[attr-defined]
    assert bottom < 844, bottom
    expect(phone.locator("#chat-panel")).to_be_hidden()  # type: ignore[attr-defined]
    # One compact filter control instead of a block of dropdowns.
    expect(phone.locator("#controls select:visible")).to_have_count(0)  # type: ignore[attr-defined]
    _shot(phone, "20-phone-tasks.png")
    phone.get_by_role("button", name="Assistant").click()  # type: ignore[attr-defined]
    expect(phone.locator("#chat-panel")).to_be_visible()  # type: ignore[attr-defined]
    expect(phone.locator("#tasks-panel")).to_be_hidden()  # type: ignore[attr-defined]
    answer = _chat(phone, "add stretch every 2 days remind me 1 day before")
    assert "every 2 days" in answer
    assert "FREQ" not in answer and "min before" not in answer
    assert "add_task" not in phone.locator("#messages").inner_text()  # type: ignore[attr-defined]
    _shot(phone, "21-phone-assistant.png")
    # Roman Urdu is answered in Roman Urdu, Urdu in Urdu, right to left.
    assert "Aap ke tasks (4):" in _chat(phone, "mere tasks dikhao")
    urdu = _chat(phone, "میرے کام دکھاؤ")
    assert "آپ کے کام (4):" in urdu, urdu
    lines = phone.locator(".message.assistant").last.locator(".line")  # type: ignore[attr-defined]
    direction = "(line) => getComputedStyle(line).direction"
    assert lines.first.evaluate(direction) == "rtl"  # the Urdu sentence
    assert lines.nth(1).evaluate(direction) == "ltr"  # an English title in it
    _shot(phone, "27-phone-urdu.png")
    phone.get_by_role("button", name="Tasks", exact=True).click()  # type: ignore[attr-defined]
    _view(phone, "Today")
    expect(phone.locator("#view-name")).to_have_text("Today")  # type: ignore[attr-defined]
    _shot(phone, "22-phone-today.png")


def test_offline_changes_wait_in_a_queue_and_land_once(product: str, browser: object) -> None:
    from playwright.sync_api import expect

    page = _open(browser, product, phone=True)
    _sign_up(page, f"fay-{uuid.uuid4().hex[:8]}@example.org")
    session = _session(page)
    assert _api(product, session, "POST", "", json={"title": "renew the passport"}).ok
    page.reload()  # type: ignore[attr-defined]
    expect(_task(page, "renew the passport")).to_be_visible(timeout=LIVE_TIMEOUT_MS)

    page.context.set_offline(True)  # type: ignore[attr-defined]
    _task(page, "renew the passport").get_by_role("checkbox").click()
    page.locator("#quick-add").fill("pack the suitcase")  # type: ignore[attr-defined]
    page.locator("#quick-add").press("Enter")  # type: ignore[attr-defined]
    banner = page.locator("#offline-banner")  # type: ignore[attr-defined]
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("will be sent when the connection is back")
    expect(banner).to_contain_text("2 changes waiting")
    expect(_task(page, "pack the suitcase")).to_contain_text("Waiting to be sent")
    expect(page.locator(".toast.error")).to_have_count(0)  # type: ignore[attr-defined]
    # A view change cannot load while offline: the controls stay with the list shown.
    _view(page, "Completed")
    expect(page.locator("#views [aria-pressed=true]")).to_have_text("All open")  # type: ignore[attr-defined]
    _shot(page, "30-offline-queue.png")

    page.context.set_offline(False)  # type: ignore[attr-defined]
    expect(banner).to_be_hidden(timeout=LIVE_TIMEOUT_MS)
    expect(_task(page, "pack the suitcase")).not_to_contain_text("Waiting", timeout=LIVE_TIMEOUT_MS)
    expect(_task(page, "renew the passport")).to_have_count(0)
    tasks = _api(product, session, "GET", "?status=all").json()["items"]
    assert sorted((t["title"], t["completed"]) for t in tasks) == [
        ("pack the suitcase", False),
        ("renew the passport", True),
    ]


def test_editing_undo_tags_and_activity_on_a_phone(product: str, browser: object) -> None:
    from playwright.sync_api import expect

    phone = _open(browser, product, phone=True)
    _sign_up(phone, f"gus-{uuid.uuid4().hex[:8]}@example.org")
    phone.locator("#quick-add").fill("buy stamps friday #errands")  # type: ignore[attr-defined]
    phone.locator("#quick-add").press("Enter")  # type: ignore[attr-defined]
    stamps = _task(phone, "buy stamps")
    expect(stamps).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    stamps.locator(".title").click()
    details = phone.locator("#details")  # type: ignore[attr-defined]
    expect(details).to_be_visible()
    expect(stamps.get_by_role("checkbox")).not_to_be_checked()
    width = phone.evaluate("document.getElementById('details').getBoundingClientRect().width")  # type: ignore[attr-defined]
    assert width == 390  # the whole screen
    details.get_by_label("Repeat").select_option(label="every month on the 1st")
    _shot(phone, "23-phone-details.png")
    details.get_by_role("button", name="Save").click()
    expect(stamps.locator(".chip.recurring")).to_have_text(
        "↻ every month on the 1st", timeout=LIVE_TIMEOUT_MS
    )
    task_id = stamps.get_attribute("data-task-id")
    stamps.get_by_role("button", name="Delete").click()
    toast = phone.locator(".toast", has_text='Deleted "buy stamps"')  # type: ignore[attr-defined]
    _shot(phone, "24-phone-undo.png")
    toast.get_by_role("button", name="Undo").click()
    back = phone.locator(f'.task[data-task-id="{task_id}"]')  # type: ignore[attr-defined]
    expect(back).to_contain_text("buy stamps", timeout=LIVE_TIMEOUT_MS)
    errands = phone.locator(".tag-filter", has_text="#errands")  # type: ignore[attr-defined]
    expect(errands).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    phone.get_by_role("button", name="Activity").click()  # type: ignore[attr-defined]
    activity = phone.locator("#activity-list .activity .what")  # type: ignore[attr-defined]
    expect(activity).to_have_text(
        [
            'Restored "buy stamps"',
            'Deleted "buy stamps"',
            'Changed repeat of "buy stamps"',
            'Added "buy stamps"',
        ],
        timeout=LIVE_TIMEOUT_MS,
    )
    _shot(phone, "25-phone-activity.png")
    # What quick add was unsure of is said once, each note after the other, one full stop.
    phone.locator("#quick-add").fill("call the bank 03/04 at 5")  # type: ignore[attr-defined]
    phone.locator("#quick-add").press("Enter")  # type: ignore[attr-defined]
    unsure = phone.locator(".toast", has_text='Added "call the bank". Please check: ')  # type: ignore[attr-defined]
    expect(unsure).to_contain_text(
        "to be sure; 'at 5' has no am/pm; I read it as 17:00, not 05:00.", timeout=LIVE_TIMEOUT_MS
    )
    expect(unsure).not_to_contain_text(".;")


def test_clear_completed_and_one_undo_for_them_all(product: str, browser: object) -> None:
    from playwright.sync_api import expect

    page = _open(browser, product)
    _sign_up(page, f"ivy-{uuid.uuid4().hex[:8]}@example.org")
    _wait_live(page)
    session = _session(page)
    for title in ("old invoice", "old receipt", "still to do"):
        created = _api(product, session, "POST", "", json={"title": title})
        assert created.status_code == 201, created.text
        if title.startswith("old"):
            done = _api(product, session, "PATCH", f"/{created.json()['id']}/complete")
            assert done.status_code == 200, done.text
    clear = page.get_by_role("button", name="Clear completed")  # type: ignore[attr-defined]
    expect(clear).to_be_hidden()  # not in the open tasks
    _view(page, "Completed")
    expect(page.locator("#task-list .task")).to_have_count(2, timeout=LIVE_TIMEOUT_MS)  # type: ignore[attr-defined]
    clear.click()
    toast = page.locator(".toast", has_text="Deleted 2 completed tasks")  # type: ignore[attr-defined]
    expect(toast).to_be_visible()
    expect(page.locator("#task-list .task")).to_have_count(0)  # type: ignore[attr-defined]
    expect(clear).to_be_hidden()
    left = [
        t["title"]
        for t in _api(product, session, "GET", "", params={"status": "all"}).json()["items"]
    ]
    assert left == ["still to do"]
    toast.get_by_role("button", name="Undo").click()
    expect(page.locator("#task-list .task")).to_have_count(2, timeout=LIVE_TIMEOUT_MS)  # type: ignore[attr-defined]
    _shot(page, "26-clear-completed-undone.png")


def test_a_reminder_toast_stays_until_dismissed(product: str, browser: object) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    page.clock.install()  # the page's timers run on a clock the test can move on
    page.goto(product)
    _sign_up(page, f"hal-{uuid.uuid4().hex[:8]}@example.org")
    _wait_live(page)
    session = _session(page)
    now = datetime.now(UTC)
    body = {
        "title": "take the cake out",
        "due": (now + timedelta(minutes=30)).isoformat(),
        "reminders": [{"at": (now + timedelta(seconds=3)).isoformat()}],
    }
    assert _api(product, session, "POST", "", json=body).status_code == 201
    reminder = page.locator(".toast.reminder")
    expect(reminder).to_contain_text("take the cake out", timeout=REMINDER_TIMEOUT_MS)
    _task(page, "take the cake out").get_by_role("checkbox").click()
    undo = page.locator(".toast", has_text="Completed")
    expect(undo).to_be_visible()
    page.clock.run_for(120_000)  # two minutes later: the undo offer is gone, the reminder not
    expect(undo).to_have_count(0)
    expect(reminder).to_be_visible()
    reminder.get_by_role("button", name="Dismiss").click()
    expect(reminder).to_have_count(0)
    context.close()


# Where the message box, the Send button, the bottom bar and every toast are on the screen.
_LAYOUT = """() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  const bar = document.querySelector('.bottom-bar');
  return {
    composer: [box(document.querySelector('#chat-form textarea')),
               box(document.querySelector('#chat-form button[type=submit]'))],
    toasts: [...document.querySelectorAll('.toast')].map(box),
    floor: bar && getComputedStyle(bar).display !== 'none' ? box(bar).top : innerHeight,
  };
}"""


def _overlaps(a: dict, b: dict) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and (b["top"] < a["bottom"])
    )


def _composer_is_clear(page: object) -> dict:
    """The message box and Send are on the screen, above the bottom bar, under no toast."""
    layout = page.evaluate(_LAYOUT)  # type: ignore[attr-defined]
    for part in layout["composer"]:
        assert part["top"] >= 0 and part["bottom"] <= layout["floor"], layout
        for toast in layout["toasts"]:
            assert not _overlaps(part, toast), layout
    return layout


@pytest.mark.parametrize("phone", [True, False], ids=["390px", "1280px"])
def test_a_reminder_toast_never_covers_the_message_box(
    product: str, browser: object, phone: bool
) -> None:
    from playwright.sync_api import expect

    page = _open(browser, product, phone=phone)
    _sign_up(page, f"ivy-{uuid.uuid4().hex[:8]}@example.org")
    _wait_live(page)
    if phone:
        page.get_by_role("button", name="Assistant").click()  # type: ignore[attr-defined]
    empty = _composer_is_clear(page)
    assert empty["toasts"] == []
    session = _session(page)
    now = datetime.now(UTC)
    for title in ("take the cake out", "call the plumber back about the boiler"):
        body = {
            "title": title,
            "due": (now + timedelta(minutes=30)).isoformat(),
            "reminders": [{"at": (now + timedelta(seconds=2)).isoformat()}],
        }
        assert _api(product, session, "POST", "", json=body).status_code == 201
    reminders = page.locator(".toast.reminder")  # type: ignore[attr-defined]
    expect(reminders).to_have_count(2, timeout=REMINDER_TIMEOUT_MS)
    # Two reminders at once: the chat makes room for both, and the box still takes a message.
    layout = _composer_is_clear(page)
    assert len(layout["toasts"]) == 2
    _chat(page, "what's due today?")
    _composer_is_clear(page)
    _shot(page, "26-phone-reminder-and-chat.png" if phone else "14-reminder-and-chat.png")
    # Dismissed, the room goes back to the conversation.
    for _ in range(2):
        reminders.first.get_by_role("button", name="Dismiss").click()
    expect(reminders).to_have_count(0)
    assert _composer_is_clear(page)["composer"][0]["bottom"] > layout["composer"][0]["bottom"]
    page.context.close()  # type: ignore[attr-defined]


# Whatever sticks out: the page wider than the screen, a tag button past the sidebar, a task
# card past the list.
_OVERFLOW = """() => {
  const right = (el) => el.getBoundingClientRect().right;
  const sidebar = document.getElementById('sidebar');
  const list = document.getElementById('task-list');
  // On a phone the tags are a row that scrolls sideways: past the edge is where they scroll.
  const sideways = matchMedia('(min-width: 821px)').matches;
  return {
    page: document.documentElement.scrollWidth - innerWidth,
    tags: [...document.querySelectorAll('.tag-filter')]
      .filter((b) => sideways && right(b) > right(sidebar) + 0.5).map((b) => b.textContent),
    tasks: [...document.querySelectorAll('.task')]
      .filter((t) => right(t) > right(list) + 0.5).map((t) => t.dataset.taskId),
  };
}"""


@pytest.mark.parametrize("phone", [True, False], ids=["390px", "1280px"])
def test_long_titles_tags_and_markup_stay_inside_the_page(
    product: str, browser: object, phone: bool
) -> None:
    """A title of one long word, a 50-letter tag and a title of HTML: shown as text, wrapped or
    cut inside their card, never widening the page past a phone's screen or pushing the tag
    list over the task list."""
    from playwright.sync_api import expect

    page = _open(browser, product, phone=phone)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    _sign_up(page, f"kim-{uuid.uuid4().hex[:8]}@example.org")
    session = _session(page)
    word = "Supercalifragilisticexpialidocious" * 5
    tag = "a" + "verylong" * 6 + "x"  # 50 characters, the longest a tag may be
    markup = "<img src=x onerror=alert(1)> & <b>bold</b>"
    for body in (
        {"title": word, "tags": [tag, "home"], "due": "2031-03-14", "priority": "high"},
        {"title": markup, "tags": ["home"]},
    ):
        assert _api(product, session, "POST", "", json=body).status_code == 201
    page.reload()  # type: ignore[attr-defined]
    expect(page.locator(".task")).to_have_count(2, timeout=LIVE_TIMEOUT_MS)  # type: ignore[attr-defined]
    expect(page.locator(".tag-filter")).to_have_count(2, timeout=LIVE_TIMEOUT_MS)  # type: ignore[attr-defined]
    assert page.evaluate(_OVERFLOW) == {"page": 0, "tags": [], "tasks": []}  # type: ignore[attr-defined]
    expect(_task(page, "<img src=x").locator(".title")).to_have_text(markup)
    assert page.locator(".task img, .task b").count() == 0  # type: ignore[attr-defined]
    # A cut tag keeps its whole name a hover away.
    expect(_task(page, word[:40]).locator(".chip.tag").first).to_have_attribute("title", f"#{tag}")
    _shot(page, "29-phone-long-text.png" if phone else "17-long-text.png")
    assert dialogs == []
    page.context.close()  # type: ignore[attr-defined]


def _box(locator: object) -> dict:
    box = locator.bounding_box()  # type: ignore[attr-defined]
    assert box is not None
    return box


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_a_rows_delete_button_stays_on_its_line_and_undo_names_the_occurrence(
    product: str, browser: object
) -> None:
    """At phone width (390x844) a repeating task's row keeps its Delete button on the title's
    line, beside the chips and never over them or under the repeat chip; completing or deleting
    an occurrence offers an Undo that says which occurrence ("pay rent for the flat" (Tue 1
    Dec)), and Undo brings that one back."""
    from playwright.sync_api import expect

    phone = _open(browser, product, phone=True)
    _sign_up(phone, f"ida-{uuid.uuid4().hex[:8]}@example.org")
    session = _session(phone)
    today = datetime.now(UTC).date()
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    body = {
        "title": "pay rent for the flat",
        "due": first.isoformat(),
        "priority": "high",
        "tags": ["home", "money"],
        "reminders": [{"before_minutes": 1440}],
        "recurrence": {"rule": "FREQ=MONTHLY;BYMONTHDAY=1"},
    }
    assert _api(product, session, "POST", "", json=body).status_code == 201
    long = "Verylongunbrokentitlewithoutanyspaces" * 2
    crowded = body | {"title": long, "tags": ["a-rather-long-tag-name", "x"], "priority": "low"}
    assert _api(product, session, "POST", "", json=crowded).status_code == 201
    row = _task(phone, "pay rent for the flat")
    expect(row.locator(".chip.recurring")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(_task(phone, long).locator(".chip.recurring")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    _shot(phone, "31-phone-row-controls.png")

    for shown in (row, _task(phone, long)):
        remove = shown.locator("button.danger")
        button, title, card = _box(remove), _box(shown.locator(".title")), _box(shown)
        # On the title's line, inside the card, one line high (not wrapped, not squeezed).
        assert button["y"] < title["y"] + title["height"], (button, title)
        assert button["y"] + button["height"] <= card["y"] + card["height"]
        assert button["x"] + button["width"] <= card["x"] + card["width"] + 0.5, (button, card)
        assert button["height"] <= 44, button
        assert remove.evaluate("b => b.scrollWidth <= b.clientWidth"), "the label is cut"
        for part in [shown.locator(".title"), *shown.locator(".meta > *").all()]:
            assert not _overlap(button, _box(part)), (button, part.inner_text())
        repeat = _box(shown.locator(".chip.recurring"))
        assert button["y"] + button["height"] <= repeat["y"], ("not above the repeat chip", button)

    due = row.locator(".due").inner_text().removeprefix("Due ")
    named = f'"pay rent for the flat" ({due})'
    row.get_by_role("checkbox").check()
    completed = phone.locator(".toast", has_text=f"Completed {named}")  # type: ignore[attr-defined]
    expect(completed).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    undo = completed.get_by_role("button", name=f"Undo completing {named}")
    _shot(phone, "32-phone-undo-names-the-occurrence.png")
    undo.click()
    expect(row.get_by_role("checkbox")).not_to_be_checked(timeout=LIVE_TIMEOUT_MS)
    expect(row.locator(".due")).to_have_text(f"Due {due}", timeout=LIVE_TIMEOUT_MS)

    row.get_by_role("button", name="Delete pay rent for the flat").click()
    deleted = phone.locator(".toast", has_text=f"Deleted {named}")  # type: ignore[attr-defined]
    expect(deleted).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    deleted.get_by_role("button", name=f"Undo deleting {named}").click()
    expect(row.locator(".due")).to_have_text(f"Due {due}", timeout=LIVE_TIMEOUT_MS)
    phone.context.close()  # type: ignore[attr-defined]
