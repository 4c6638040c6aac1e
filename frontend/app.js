// The TaskFlow page: sign up / log in, the chat, the live task list and reminder toasts.
// Plain ES modules, no build step. User text is only ever set with textContent.
import { Api, authenticate } from "./api.js";
import { connectLive, socketUrl } from "./live.js";

const SESSION_KEY = "taskflow.session";
const REFRESH_DEBOUNCE_MS = 80;
const SEARCH_DEBOUNCE_MS = 250;
const TOAST_SECONDS = 20;

const $ = (id) => document.getElementById(id);
const state = {
  session: null,
  api: null,
  socket: null,
  authKind: "login",
  tag: "",
  refreshTimer: 0,
};

// --- small DOM helpers ---------------------------------------------------------------------

function element(tag, { className, text, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function zone() {
  return (state.session && state.session.timezone) || undefined;
}

function formatMoment(iso) {
  return new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    timeZone: zone(),
  }).format(new Date(iso));
}

function formatDay(isoDate) {
  // An all-day date is a calendar day, not a moment: format it in UTC so no zone shifts it.
  return new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", timeZone: "UTC",
  }).format(new Date(`${isoDate}T00:00:00Z`));
}

function todayInUserZone() {
  // en-CA formats as YYYY-MM-DD, comparable with a task's due_date.
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone() }).format(new Date());
}

function isOverdue(task) {
  if (task.completed) return false;
  if (task.due_at) return new Date(task.due_at) < new Date();
  if (task.due_date) return task.due_date < todayInUserZone();
  return false;
}

// --- session ---------------------------------------------------------------------------------

function loadSession() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY));
  } catch {
    return null;
  }
}

function startSession(session) {
  state.session = session;
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  state.api = new Api(session, logOut);
  $("auth").hidden = true;
  $("workspace").hidden = false;
  $("session").hidden = false;
  $("who").textContent = session.email || "";
  updateNotifyButton();
  restoreConversation();
  refreshTasks();
  startLiveSync();
  $("chat-input").focus();
}

function logOut() {
  if (state.socket) state.socket.disconnect();
  state.socket = null;
  state.session = null;
  localStorage.removeItem(SESSION_KEY);
  $("workspace").hidden = true;
  $("session").hidden = true;
  $("auth").hidden = false;
  $("messages").replaceChildren();
  $("task-list").replaceChildren();
  $("email").focus();
}

function selectAuthTab(kind) {
  state.authKind = kind;
  $("tab-login").setAttribute("aria-selected", String(kind === "login"));
  $("tab-signup").setAttribute("aria-selected", String(kind === "signup"));
  $("auth-submit").textContent = kind === "login" ? "Log in" : "Create account";
  $("password").autocomplete = kind === "login" ? "current-password" : "new-password";
  $("auth-error").textContent = "";
}

async function submitAuth(event) {
  event.preventDefault();
  const email = $("email").value.trim();
  const password = $("password").value;
  $("auth-error").textContent = "";
  $("auth-submit").disabled = true;
  try {
    const answer = await authenticate(state.authKind, email, password);
    startSession({
      user_id: answer.user_id, token: answer.token, email: answer.email, timezone: answer.timezone,
    });
  } catch (error) {
    $("auth-error").textContent = error.message;
  } finally {
    $("auth-submit").disabled = false;
  }
}

// --- the task list ---------------------------------------------------------------------------

function listParams() {
  const params = {
    status: $("status-filter").value,
    sort: $("sort").value,
    order: $("order").value,
    page_size: "100",
  };
  const search = $("search").value.trim();
  if (search) params.search = search;
  const when = $("when-filter").value;
  if (when) params[when] = "true";
  const priority = $("priority-filter").value;
  if (priority) params.priority = priority;
  if (state.tag) params.tags = state.tag;
  return params;
}

function scheduleRefresh(delay = REFRESH_DEBOUNCE_MS) {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refreshTasks, delay);
}

async function refreshTasks() {
  if (!state.api) return;
  try {
    const page = await state.api.listTasks(listParams());
    renderTasks(page.items, page.total_exact === false ? `${page.total}+` : page.total);
  } catch (error) {
    toast(`Could not load tasks: ${error.message}`, "error");
  }
}

// `count` is the number of matches, or "1000+" when there are more than the API counts.
function renderTasks(tasks, count) {
  $("task-count").textContent = `(${count})`;
  $("empty").hidden = tasks.length > 0;
  $("task-list").replaceChildren(...tasks.map(taskItem));
  $("task-list").dataset.loaded = "true";
}

function taskItem(task) {
  const item = element("li", {
    className: `task${task.completed ? " done" : ""}${isOverdue(task) ? " overdue" : ""}`,
    attrs: { "data-task-id": String(task.id) },
  });
  const checkboxId = `done-${task.id}`;
  const checkbox = element("input", { attrs: { type: "checkbox", id: checkboxId } });
  checkbox.checked = task.completed;
  checkbox.addEventListener("change", () => toggleTask(task, checkbox));
  const title = element("label", { className: "title", text: task.title, attrs: { for: checkboxId } });
  const meta = element("div", { className: "meta" });
  if (task.priority && task.priority !== "none") {
    meta.append(element("span", { className: `chip priority ${task.priority}`, text: `${task.priority} priority` }));
  }
  if (task.due_at || task.due_date) {
    const text = task.due_at ? formatMoment(task.due_at) : formatDay(task.due_date);
    const due = element("span", { className: "due", text: `Due ${text}` });
    if (isOverdue(task)) due.append(element("strong", { className: "overdue-flag", text: " · Overdue" }));
    meta.append(due);
  }
  if (task.recurrence) {
    meta.append(element("span", { className: "chip recurring", text: "↻ Repeats", attrs: { title: task.recurrence.rule } }));
  }
  for (const tag of task.tags || []) {
    const chip = element("button", {
      className: "chip tag", text: `#${tag}`, attrs: { type: "button", "aria-label": `Show tasks tagged ${tag}` },
    });
    chip.addEventListener("click", () => filterByTag(tag));
    meta.append(chip);
  }
  const remove = element("button", {
    className: "icon danger", text: "Delete", attrs: { type: "button", "aria-label": `Delete ${task.title}` },
  });
  remove.addEventListener("click", () => deleteTask(task));
  const body = element("div", { className: "body" }, [title, meta]);
  item.append(checkbox, body, remove);
  return item;
}

async function toggleTask(task, checkbox) {
  try {
    await state.api.setCompleted(task.id, checkbox.checked);
  } catch (error) {
    checkbox.checked = !checkbox.checked;
    toast(`Could not update "${task.title}": ${error.message}`, "error");
  }
  scheduleRefresh();
}

async function deleteTask(task) {
  try {
    await state.api.deleteTask(task.id);
  } catch (error) {
    toast(`Could not delete "${task.title}": ${error.message}`, "error");
  }
  scheduleRefresh();
}

function filterByTag(tag) {
  state.tag = tag;
  $("active-tag-name").textContent = `#${tag}`;
  $("active-tag").hidden = !tag;
  if (!tag) $("search").focus();
  refreshTasks();
}

async function quickAdd(event) {
  event.preventDefault();
  const input = $("quick-add");
  const text = input.value.trim();
  if (!text) return;
  try {
    await state.api.quickAdd(text);
    input.value = "";
  } catch (error) {
    toast(`Could not add: ${error.message}`, "error");
  }
  scheduleRefresh();
}

// --- chat ------------------------------------------------------------------------------------

function conversationKey() {
  return `taskflow.conversation.${state.session.user_id}`;
}

async function restoreConversation() {
  $("messages").replaceChildren();
  addMessage("assistant", 'Hi! Tell me what to do, e.g. "add pay rent friday p1 #home" or "what\'s overdue?"');
  const stored = localStorage.getItem(conversationKey());
  if (!stored) return;
  try {
    const conversation = await state.api.conversation(stored);
    for (const message of conversation.messages) {
      addMessage(message.role, message.content, message.tool_calls || []);
    }
  } catch {
    localStorage.removeItem(conversationKey()); // gone, or another account's: start afresh
  }
}

function addMessage(role, text, toolCalls = []) {
  const item = element("li", { className: `message ${role}` }, [
    element("span", { className: "visually-hidden", text: role === "user" ? "You: " : "Assistant: " }),
    element("p", { className: "text", text }),
  ]);
  if (toolCalls.length) {
    const names = toolCalls.map((call) => (call.result && call.result.error ? `${call.name} ✗` : `${call.name} ✓`));
    item.append(element("p", { className: "tools", text: names.join(" · ") }));
  }
  $("messages").append(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

async function sendChat(event) {
  event.preventDefault();
  const input = $("chat-input");
  const message = input.value.trim();
  if (!message) return;
  addMessage("user", message);
  input.value = "";
  $("chat-send").disabled = true;
  const pending = addMessage("assistant", "…");
  pending.classList.add("pending");
  try {
    const stored = Number(localStorage.getItem(conversationKey())) || undefined;
    const answer = await state.api.chat(message, stored);
    localStorage.setItem(conversationKey(), String(answer.conversation_id));
    pending.remove();
    addMessage("assistant", answer.response, answer.tool_calls);
  } catch (error) {
    pending.remove();
    addMessage("assistant", `Something went wrong: ${error.message}`);
  } finally {
    $("chat-send").disabled = false;
    input.focus();
  }
  scheduleRefresh();
}

function newConversation() {
  localStorage.removeItem(conversationKey());
  restoreConversation();
  $("chat-input").focus();
}

// --- live sync, toasts and notifications ------------------------------------------------------

async function startLiveSync() {
  try {
    const url = await socketUrl();
    state.socket = connectLive(url, state.session.token, {
      onStatus: setLiveStatus,
      onCatchUp: () => scheduleRefresh(0),
      onTaskEvent: () => scheduleRefresh(),
      onReminder: showReminder,
    });
  } catch {
    setLiveStatus("offline");
  }
}

function setLiveStatus(status) {
  const labels = { live: "Live", offline: "Offline", reconnecting: "Reconnecting…" };
  $("live-status").textContent = labels[status];
  $("live-status").dataset.state = status;
}

function toast(text, kind = "info", actions = []) {
  const box = element("div", { className: `toast ${kind}`, attrs: { role: kind === "error" ? "alert" : "status" } }, [
    element("p", { text }),
  ]);
  const close = () => box.remove();
  const buttons = element("div", { className: "toast-actions" });
  for (const [label, action] of actions) {
    const button = element("button", { text: label, attrs: { type: "button" } });
    button.addEventListener("click", () => { action(); close(); });
    buttons.append(button);
  }
  const dismiss = element("button", { text: "Dismiss", attrs: { type: "button" } });
  dismiss.addEventListener("click", close);
  buttons.append(dismiss);
  box.append(buttons);
  $("toasts").append(box);
  setTimeout(close, TOAST_SECONDS * 1000);
  return box;
}

function showReminder(reminder) {
  const when = reminder.due_at ? ` (due ${formatMoment(reminder.due_at)})` : "";
  const text = `Reminder: ${reminder.title}${when}`;
  const box = toast(text, "reminder", [
    ["Snooze 10 min", () => state.api.snooze(reminder.task_id, 10).catch((e) => toast(e.message, "error"))],
  ]);
  box.dataset.taskId = String(reminder.task_id);
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification("TaskFlow reminder", { body: text, tag: `reminder-${reminder.task_id}` });
  }
}

function updateNotifyButton() {
  const button = $("notify-button");
  if (!("Notification" in window)) {
    button.hidden = true;
    return;
  }
  button.hidden = Notification.permission !== "default";
}

async function askNotificationPermission() {
  await Notification.requestPermission();
  updateNotifyButton();
}

// --- wiring ----------------------------------------------------------------------------------

function wire() {
  $("tab-login").addEventListener("click", () => selectAuthTab("login"));
  $("tab-signup").addEventListener("click", () => selectAuthTab("signup"));
  $("auth-form").addEventListener("submit", submitAuth);
  $("logout-button").addEventListener("click", logOut);
  $("notify-button").addEventListener("click", askNotificationPermission);
  $("chat-form").addEventListener("submit", sendChat);
  $("chat-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) sendChat(event); // Shift+Enter: new line
  });
  $("new-conversation").addEventListener("click", newConversation);
  $("quick-add-form").addEventListener("submit", quickAdd);
  for (const id of ["status-filter", "when-filter", "priority-filter", "sort", "order"]) {
    $(id).addEventListener("change", () => refreshTasks());
  }
  $("search").addEventListener("input", () => scheduleRefresh(SEARCH_DEBOUNCE_MS));
  $("clear-tag").addEventListener("click", () => filterByTag(""));
  const session = loadSession();
  if (session && session.token) startSession(session);
  else $("email").focus();
}

wire();
