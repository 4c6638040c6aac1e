// The TaskFlow page: sign up / log in, the chat, the live task list, editing, undo, the offline
// queue and reminder toasts. Plain ES modules, no build step, no inline scripts or handlers.
// User text is only ever set with textContent.
import { Api, ApiError, Unreachable, authenticate } from "./api.js";
import { connectLive, socketUrl } from "./live.js";
import {
  REMINDER_CHOICES, REPEAT_CHOICES, TOOL_WORDS, describeOffset, describeRule, sayDay, sayMoment,
} from "./words.js";

const SESSION_KEY = "taskflow.session";
const REFRESH_DEBOUNCE_MS = 80;
const SEARCH_DEBOUNCE_MS = 250;
const TOAST_SECONDS = 8; // errors and notes; reminders stay until dismissed or snoozed
const UNDO_SECONDS = 6;
const RETRY_SECONDS = 3; // while offline: how often the page asks whether the server is back
const TOAST_GAP_PX = 8; // between the toasts and the message box above them
const CLICK_DELAY_MS = 250; // a click on a title waits this long in case it is a double-click

const VIEWS = {
  inbox: { name: "All open", params: () => ({ status: "pending" }) },
  today: { name: "Today", params: () => ({ status: "pending", due_today: "true" }) },
  upcoming: { name: "Upcoming", params: () => ({ status: "pending", due_from: tomorrowInUserZone() }) },
  overdue: { name: "Overdue", params: () => ({ status: "pending", overdue: "true" }) },
  completed: { name: "Completed", params: () => ({ status: "completed" }) },
};

const $ = (id) => document.getElementById(id);
const state = {
  session: null,
  api: null,
  socket: null,
  authKind: "login",
  view: "inbox",
  tag: "",
  tasks: [],
  count: "",
  pendingAdds: [], // quick-add texts waiting in the offline queue
  shown: null, // the controls' values of the list on screen: restored when a reload fails
  refreshTimer: 0,
  offline: false,
  retryTimer: 0,
  detailsTask: null,
  renaming: false, // a title editor is open: a re-render now would throw the typing away
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

// The assistant's wording (words.js sayMoment/sayDay), so a due reads the same in both.
function formatMoment(iso) {
  return sayMoment(new Date(iso), zone(), todayInUserZone());
}

function formatDay(isoDate) {
  // An all-day date is a calendar day, not a moment: no zone shifts it.
  return sayDay(isoDate, todayInUserZone());
}

function dayInUserZone(moment) {
  // en-CA formats as YYYY-MM-DD, comparable with a task's due_date.
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone() }).format(moment);
}

function todayInUserZone() {
  return dayInUserZone(new Date());
}

function tomorrowInUserZone() {
  const today = new Date(`${todayInUserZone()}T12:00:00Z`);
  return new Date(today.getTime() + 86_400_000).toISOString().slice(0, 10);
}

function timeInUserZone(moment) {
  return new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone(),
  }).format(moment);
}

// The local calendar day of a task's due, "YYYY-MM-DD", or null.
function dueDay(task) {
  if (task.due_at) return dayInUserZone(new Date(task.due_at));
  return task.due_date || null;
}

function isOverdue(task) {
  if (task.completed) return false;
  if (task.due_at) return new Date(task.due_at) < new Date();
  if (task.due_date) return task.due_date < todayInUserZone();
  return false;
}

function typing(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
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
  if (state.api.queued().length) goOffline(); // changes left from an earlier visit: send them
  refreshTasks();
  startLiveSync();
  if (window.matchMedia("(min-width: 821px)").matches) $("chat-input").focus();
}

function logOut() {
  if (state.socket) state.socket.disconnect();
  state.socket = null;
  state.session = null;
  localStorage.removeItem(SESSION_KEY);
  closeDetails();
  $("workspace").hidden = true;
  $("session").hidden = true;
  $("offline-banner").hidden = true;
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
    $("auth-error").textContent = error instanceof Unreachable
      ? "The server cannot be reached. Try again in a moment."
      : error.message;
  } finally {
    $("auth-submit").disabled = false;
  }
}

// --- offline: one banner, a queue, retries ---------------------------------------------------

function goOffline() {
  if (!state.offline) {
    state.offline = true;
    $("offline-banner").hidden = false;
  }
  updatePendingCount();
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(tryReconnect, RETRY_SECONDS * 1000);
}

function updatePendingCount() {
  const waiting = state.api ? state.api.queued().length : 0;
  $("offline-pending").textContent = waiting
    ? ` (${waiting} change${waiting === 1 ? "" : "s"} waiting)` : "";
}

async function tryReconnect() {
  if (!state.api) return;
  try {
    await state.api.health();
  } catch {
    goOffline();
    return;
  }
  const done = await state.api.flush((item, error) => toast(`Could not ${item.label}: ${error.message}`, "error"));
  if (!done) {
    goOffline();
    return;
  }
  state.offline = false;
  state.pendingAdds = [];
  $("offline-banner").hidden = true;
  refreshTasks();
}

// An API call failed: offline when the server did not answer, else a toast with the reason.
function failed(what, error) {
  if (error instanceof Unreachable) goOffline();
  else toast(`Could not ${what}: ${error.message}`, "error");
}

// --- the task list ---------------------------------------------------------------------------

function controlsNow() {
  return {
    view: state.view, tag: state.tag, search: $("search").value,
    priority: $("priority-filter").value, sort: $("sort").value,
  };
}

function setControls(shown) {
  state.view = shown.view;
  state.tag = shown.tag;
  $("search").value = shown.search;
  $("priority-filter").value = shown.priority;
  $("sort").value = shown.sort;
  showViewButtons();
  showActiveTag();
  showFilterSummary();
}

function showFilterSummary() {
  const active = ($("priority-filter").value ? 1 : 0) + ($("sort").value !== "due:asc" ? 1 : 0);
  $("filter-summary").textContent = active ? `Filter & sort (${active})` : "Filter & sort";
}

function listParams(controls) {
  const [sort, order] = controls.sort.split(":");
  const params = { ...VIEWS[controls.view].params(), sort, order, page_size: "100" };
  const search = controls.search.trim();
  if (search) params.search = search;
  if (controls.priority) params.priority = controls.priority;
  if (controls.tag) params.tags = controls.tag;
  return params;
}

function scheduleRefresh(delay = REFRESH_DEBOUNCE_MS) {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refreshTasks, delay);
}

async function refreshTasks() {
  if (!state.api) return;
  const controls = controlsNow();
  try {
    const page = await state.api.listTasks(listParams(controls));
    state.shown = controls;
    state.tasks = page.items;
    state.count = page.total_exact === false ? `${page.total}+` : String(page.total);
    renderTasks();
    refreshSidebar();
  } catch (error) {
    // The list on screen stays the last one loaded; the controls go back to what it shows,
    // so the list and the filter never disagree.
    if (state.shown) setControls(state.shown);
    failed("load tasks", error);
  }
}

function renderTasks() {
  if (state.renaming) return; // the editor re-renders when it closes
  $("view-name").textContent = VIEWS[state.view].name;
  $("task-count").textContent = `(${state.count})`;
  $("clear-completed").hidden = state.view !== "completed" || state.tasks.length === 0;
  const items = [...state.pendingAdds.map(pendingItem), ...state.tasks.map(taskItem)];
  $("empty").hidden = items.length > 0;
  // Keep the keyboard where it was: a re-render must not drop focus from a task's title.
  const focused = document.activeElement;
  const focusedId = focused && focused.classList.contains("title") && focused.closest(".task")
    ? focused.closest(".task").dataset.taskId : null;
  $("task-list").replaceChildren(...items);
  if (focusedId) focusTitle(focusedId);
  $("task-list").dataset.loaded = "true";
}

function pendingItem(text) {
  return element("li", { className: "task waiting" }, [
    element("span", { className: "spacer" }),
    element("div", { className: "body" }, [
      element("span", { className: "title", text }),
      element("div", { className: "meta" }, [element("span", { className: "due", text: "Waiting to be sent" })]),
    ]),
  ]);
}

function taskItem(task) {
  const item = element("li", {
    className: `task${task.completed ? " done" : ""}${isOverdue(task) ? " overdue" : ""}`,
    attrs: { "data-task-id": String(task.id) },
  });
  const checkbox = element("input", {
    attrs: { type: "checkbox", "aria-label": `${task.completed ? "Reopen" : "Complete"} ${task.title}` },
  });
  checkbox.checked = task.completed;
  checkbox.addEventListener("change", () => toggleTask(task, checkbox.checked));
  // The title is not the checkbox's label: clicking it opens the details, never completes.
  const title = element("span", {
    className: "title", text: task.title,
    attrs: { tabindex: "0", role: "button", dir: "auto", title: "Click for details, double-click or Enter to rename" },
  });
  let clickTimer = 0;
  title.addEventListener("click", () => {
    clearTimeout(clickTimer);
    clickTimer = setTimeout(() => openDetails(task), CLICK_DELAY_MS);
  });
  title.addEventListener("dblclick", () => {
    clearTimeout(clickTimer);
    editTitle(task, title);
  });
  title.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === "F2") {
      event.preventDefault();
      editTitle(task, title);
    } else if (event.key === " ") {
      event.preventDefault();
      openDetails(task);
    }
  });
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
    const words = describeRule(task.recurrence.rule, task.recurrence.mode, dueDay(task));
    meta.append(element("span", { className: "chip recurring", text: `↻ ${words}` }));
  }
  for (const reminder of task.reminders || []) {
    const words = reminder.before_minutes !== null && reminder.before_minutes !== undefined
      ? describeOffset(reminder.before_minutes) : formatMoment(reminder.at);
    meta.append(element("span", { className: "chip reminder", text: `Remind ${words}` }));
  }
  for (const tag of task.tags || []) {
    const chip = element("button", {
      className: "chip tag", text: `#${tag}`,
      attrs: { type: "button", "aria-label": `Show tasks tagged ${tag}`, title: `#${tag}` },
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

function dropFromList(task) {
  const before = state.tasks.length;
  state.tasks = state.tasks.filter((shown) => shown.id !== task.id);
  // The heading's count goes down with the list at once ("All open (1)" over an empty list
  // read as a bug); an inexact "1000+" stays until the refresh.
  if (state.tasks.length < before && /^\d+$/.test(state.count)) state.count = String(Number(state.count) - 1);
  renderTasks();
}

async function toggleTask(task, completed) {
  try {
    const answer = await state.api.setCompleted(task, completed);
    if (answer && answer.queued) goOffline();
    dropFromList(task); // it leaves the open views (or the completed one) either way
    if (completed) {
      const named = occurrenceName(task);
      toast(`Completed ${named}`, "info", [["Undo", () => undoComplete(task), `Undo completing ${named}`]], UNDO_SECONDS);
    }
  } catch (error) {
    failed(`update "${task.title}"`, error);
  }
  scheduleRefresh();
}

// What an Undo toast names: the title, and for a repeating task the occurrence's due, since
// several occurrences share the title ('"pay rent" (Fri 1 Jan 2027)').
function occurrenceName(task) {
  const due = task.due_at ? formatMoment(task.due_at) : task.due_date ? formatDay(task.due_date) : "";
  return task.recurrence && due ? `"${task.title}" (${due})` : `"${task.title}"`;
}

// Reopening takes the completion back on the server: a repeating task's next occurrence, made by
// that completion and untouched since, goes away in the same change (specs/task-domain.md,
// decision 8), so Undo is one write that can also wait in the offline queue.
async function undoComplete(task) {
  await toggleTask(task, false);
}

async function deleteTask(task) {
  try {
    const answer = await state.api.deleteTask(task);
    if (answer && answer.queued) goOffline();
    dropFromList(task);
    if (state.detailsTask && state.detailsTask.id === task.id) closeDetails();
    const named = occurrenceName(task);
    toast(`Deleted ${named}`, "info", [["Undo", () => restoreTask(task), `Undo deleting ${named}`]], UNDO_SECONDS);
  } catch (error) {
    failed(`delete "${task.title}"`, error);
  }
  scheduleRefresh();
}

// The completed tasks on screen, deleted one by one as the Delete buttons would; one Undo
// restores them all.
async function clearCompleted() {
  const deleted = [];
  for (const task of state.tasks.filter((shown) => shown.completed)) {
    try {
      const answer = await state.api.deleteTask(task);
      if (answer && answer.queued) goOffline();
      dropFromList(task);
      deleted.push(task);
    } catch (error) {
      failed(`delete "${task.title}"`, error);
    }
  }
  if (deleted.length) {
    const named = `${deleted.length} completed task${deleted.length === 1 ? "" : "s"}`;
    const undo = () => Promise.all(deleted.map(restoreTask));
    toast(`Deleted ${named}`, "info", [["Undo", undo, `Undo deleting ${named}`]], UNDO_SECONDS);
  }
  scheduleRefresh();
}

async function restoreTask(task) {
  try {
    const answer = await state.api.restoreTask(task);
    if (answer && answer.queued) goOffline();
  } catch (error) {
    failed(`restore "${task.title}"`, error);
  }
  scheduleRefresh();
}

async function saveChanges(task, changes) {
  const answer = await state.api.updateTask(task, changes);
  if (answer && answer.queued) {
    goOffline();
    Object.assign(task, changes.title ? { title: changes.title } : {});
    renderTasks();
  }
  scheduleRefresh();
}

function editTitle(task, titleNode) {
  const input = element("input", {
    className: "title-editor", attrs: { type: "text", maxlength: "200", "aria-label": `Rename ${task.title}` },
  });
  input.value = task.title;
  let finished = false;
  const finish = async (save) => {
    if (finished) return;
    finished = true;
    state.renaming = false;
    const title = input.value.trim();
    input.replaceWith(titleNode);
    if (!save || !title || title === task.title) {
      renderTasks();
      focusTitle(task.id);
      return;
    }
    // Shown at once: a second rename typed before the answer compares with this title.
    const before = task.title;
    task.title = title;
    titleNode.textContent = title;
    try {
      await saveChanges(task, { title });
    } catch (error) {
      task.title = before;
      titleNode.textContent = before;
      failed(`rename "${before}"`, error);
    }
    renderTasks();
    focusTitle(task.id);
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      finish(true);
    } else if (event.key === "Escape") {
      finish(false);
    }
  });
  input.addEventListener("blur", () => finish(true));
  state.renaming = true;
  titleNode.replaceWith(input);
  input.focus();
  input.select();
}

function filterByTag(tag) {
  state.tag = tag;
  showActiveTag();
  if (!tag) $("search").focus();
  refreshTasks();
}

function showActiveTag() {
  $("active-tag-name").textContent = `#${state.tag}`;
  $("active-tag").hidden = !state.tag;
  for (const button of document.querySelectorAll(".tag-filter")) {
    button.setAttribute("aria-pressed", String(button.querySelector("span").textContent === `#${state.tag}`));
  }
}

function selectView(view) {
  state.view = view;
  showViewButtons();
  refreshTasks();
}

function showViewButtons() {
  for (const button of document.querySelectorAll(".view[data-view]")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === state.view));
  }
  $("view-name").textContent = VIEWS[state.view].name;
}

async function quickAdd(event) {
  event.preventDefault();
  const input = $("quick-add");
  const text = input.value.trim();
  if (!text) return;
  try {
    const answer = await state.api.quickAdd(text);
    input.value = "";
    if (answer && answer.queued) {
      goOffline();
      state.pendingAdds.push(text);
      renderTasks();
    } else if (answer.ambiguities && answer.ambiguities.length) {
      const notes = answer.ambiguities.map((note) => note.replace(/\.$/, "")).join("; ");
      toast(`Added "${answer.title}". Please check: ${notes}.`);
    }
  } catch (error) {
    failed("add", error);
  }
  scheduleRefresh();
}

// --- tags and activity ------------------------------------------------------------------------

async function refreshSidebar() {
  try {
    const answer = await state.api.tags();
    const items = answer.items.map(({ tag, count }) => {
      const button = element("button", {
        className: "tag-filter",
        attrs: { type: "button", "aria-pressed": String(state.tag === tag), title: `#${tag}` }, // a long one is cut
      }, [element("span", { text: `#${tag}` }), element("span", { className: "count", text: String(count) })]);
      button.setAttribute("aria-label", `${tag}: ${count} open task${count === 1 ? "" : "s"}`);
      button.addEventListener("click", () => filterByTag(state.tag === tag ? "" : tag));
      return element("li", {}, [button]);
    });
    $("tag-list").replaceChildren(...items);
    $("tags-title").hidden = items.length === 0;
  } catch {
    // the list's own refresh reports the outage
  }
  if (!$("activity").hidden) refreshActivity();
}

const ACTIVITY_WORDS = { created: "Added", updated: "Changed", completed: "Completed", deleted: "Deleted" };

function changedWords(entry) {
  // What the series did by itself reads as such, not as an add or a delete of the user's:
  // the next occurrence a completion made, and the one an Undo of it took back (its reason).
  if (entry.operation === "created" && entry.after && entry.after.recurrence
    && entry.after.recurrence.occurrence > 1) return "Scheduled the next";
  if (entry.operation === "deleted" && entry.after && entry.after.reason) return "Took back the next";
  if (entry.operation === "completed") {
    return entry.after && entry.after.completed === false ? "Reopened" : "Completed";
  }
  if (entry.operation !== "updated" || !entry.after) return ACTIVITY_WORDS[entry.operation] || entry.operation;
  if (entry.after.completed === false) return "Reopened";
  const names = { description: "notes", due_at: "due", due_date: "due", recurrence: "repeat" };
  const fields = [...new Set(Object.keys(entry.after).map((key) => names[key] || key))]
    .filter((key) => !["updated_at", "completed_at", "reason"].includes(key));
  return fields.length ? `Changed ${fields.join(", ")} of` : "Changed";
}

async function refreshActivity() {
  const params = { limit: "50" };
  if ($("activity-filter").value) params.operation = $("activity-filter").value;
  try {
    const answer = await state.api.activity(params);
    // A task created again after its deletion was restored (undo), not added anew.
    const restored = (entry, index) => entry.operation === "created" && answer.items
      .slice(index + 1).some((older) => older.task_id === entry.task_id && older.operation === "deleted");
    $("activity-list").replaceChildren(...answer.items.map((entry, index) => element("li", {
      className: `activity ${entry.operation}`,
    }, [
      element("span", {
        className: "what", text: `${restored(entry, index) ? "Restored" : changedWords(entry)} "${entry.title}"`,
      }),
      element("span", { className: "when", text: formatMoment(entry.at) }),
    ])));
    $("activity-empty").hidden = answer.items.length > 0;
  } catch (error) {
    failed("load the activity", error);
  }
}

function openActivity() {
  $("activity").hidden = false;
  $("activity-button").setAttribute("aria-expanded", "true");
  refreshActivity();
  $("activity-filter").focus();
}

function closeActivity() {
  $("activity").hidden = true;
  $("activity-button").setAttribute("aria-expanded", "false");
  $("activity-button").focus();
}

// --- the detail panel ------------------------------------------------------------------------

function option(value, label) {
  const node = element("option", { text: label });
  node.value = value;
  return node;
}

function openDetails(task) {
  state.detailsTask = task;
  $("d-title").value = task.title;
  $("d-notes").value = task.description || "";
  if (task.due_at) {
    $("d-date").value = dayInUserZone(new Date(task.due_at));
    $("d-time").value = timeInUserZone(new Date(task.due_at));
  } else {
    $("d-date").value = task.due_date || "";
    $("d-time").value = "";
  }
  $("d-priority").value = task.priority || "none";
  $("d-tags").value = (task.tags || []).join(", ");

  const reminders = task.reminders || [];
  const single = reminders.length === 1 && reminders[0].before_minutes !== null
    && reminders[0].before_minutes !== undefined ? reminders[0].before_minutes : undefined;
  const reminderOptions = REMINDER_CHOICES.map((minutes) => option(
    minutes === null ? "" : String(minutes), minutes === null ? "No reminder" : describeOffset(minutes),
  ));
  if (reminders.length && (single === undefined || !REMINDER_CHOICES.includes(single))) {
    const words = reminders.map((r) => (r.at ? formatMoment(r.at) : describeOffset(r.before_minutes))).join(", ");
    reminderOptions.unshift(option("keep", `Keep: ${words}`));
  }
  $("d-reminder").replaceChildren(...reminderOptions);
  $("d-reminder").value = !reminders.length ? "" : (single !== undefined && REMINDER_CHOICES.includes(single) ? String(single) : "keep");

  const rule = task.recurrence ? task.recurrence.rule : "";
  const repeatOptions = REPEAT_CHOICES.map(([value, label]) => option(value, label));
  if (rule && !REPEAT_CHOICES.some(([value]) => value === rule)) {
    repeatOptions.splice(1, 0, option(rule, describeRule(rule, task.recurrence.mode, dueDay(task))));
  }
  $("d-repeat").replaceChildren(...repeatOptions);
  $("d-repeat").value = rule;

  $("details-error").textContent = "";
  $("details").hidden = false;
  $("d-title").focus();
}

function focusTitle(taskId) {
  const title = document.querySelector(`.task[data-task-id="${taskId}"] .title`);
  if (title) title.focus();
}

function closeDetails() {
  const task = state.detailsTask;
  state.detailsTask = null;
  $("details").hidden = true;
  if (task) focusTitle(task.id);
}

function detailChanges(task) {
  const changes = {};
  const title = $("d-title").value.trim();
  if (title !== task.title) changes.title = title;
  const notes = $("d-notes").value;
  if (notes !== (task.description || "")) changes.description = notes;
  const day = $("d-date").value;
  const time = $("d-time").value;
  const due = !day ? null : (time ? `${day}T${time}:00` : day);
  const before = task.due_at
    ? `${dayInUserZone(new Date(task.due_at))}T${timeInUserZone(new Date(task.due_at))}:00`
    : (task.due_date || null);
  if (due !== before) changes.due = due;
  const priority = $("d-priority").value;
  if (priority !== (task.priority || "none")) changes.priority = priority;
  const tags = $("d-tags").value.split(/[,\s]+/).map((tag) => tag.replace(/^#/, "").trim()).filter(Boolean);
  if (tags.join(",") !== (task.tags || []).join(",")) changes.tags = tags;
  const reminder = $("d-reminder").value;
  if (reminder !== "keep") {
    const wanted = reminder === "" ? [] : [{ before_minutes: Number(reminder) }];
    const had = (task.reminders || []).map((r) => ({ before_minutes: r.before_minutes }));
    if (JSON.stringify(wanted) !== JSON.stringify(had)) changes.reminders = wanted.length ? wanted : null;
  }
  const rule = $("d-repeat").value;
  const hadRule = task.recurrence ? task.recurrence.rule : "";
  if (rule !== hadRule) {
    changes.recurrence = rule ? { rule, mode: (task.recurrence && task.recurrence.mode) || "due" } : null;
  }
  return changes;
}

async function saveDetails(event) {
  event.preventDefault();
  const task = state.detailsTask;
  if (!task) return;
  const changes = detailChanges(task);
  if (!$("d-title").value.trim()) {
    $("details-error").textContent = "The title cannot be empty.";
    return;
  }
  if (!Object.keys(changes).length) {
    closeDetails();
    return;
  }
  $("details-save").disabled = true;
  try {
    await saveChanges(task, changes);
    closeDetails();
  } catch (error) {
    if (error instanceof ApiError) $("details-error").textContent = error.message;
    else failed("save", error);
  } finally {
    $("details-save").disabled = false;
  }
}

// --- chat ------------------------------------------------------------------------------------

function conversationKey() {
  return `taskflow.conversation.${state.session.user_id}`;
}

async function restoreConversation() {
  $("messages").replaceChildren();
  addMessage("assistant", 'Hi! Tell me what to do, e.g. "add pay rent friday p1 #home", "what\'s due this week?" or "undo".');
  const stored = localStorage.getItem(conversationKey());
  if (!stored) return;
  try {
    const conversation = await state.api.conversation(stored);
    for (const message of conversation.messages) {
      addMessage(message.role, message.content, message.tool_calls || []);
    }
  } catch (error) {
    if (error instanceof Unreachable) goOffline();
    else localStorage.removeItem(conversationKey()); // gone, or another account's: start afresh
  }
}

function toolSummary(toolCalls) {
  const words = toolCalls
    .filter((call) => call.name !== "list_tasks")
    .map((call) => {
      const done = TOOL_WORDS[call.name] || "did something";
      return call.result && call.result.error ? `could not: ${done}` : `✓ ${done}`;
    });
  return words.join(" · ");
}

function addMessage(role, text, toolCalls = []) {
  const item = element("li", { className: `message ${role}` }, [
    element("span", { className: "visually-hidden", text: role === "user" ? "You: " : "Assistant: " }),
    // One line each, dir=auto: an Urdu line reads right to left, an English task line left to
    // right, even inside an Urdu answer.
    element("p", { className: "text" }, text.split("\n").map((line) => element("span", {
      className: "line", text: line, attrs: { dir: "auto" },
    }))),
  ]);
  const summary = toolSummary(toolCalls);
  if (summary) item.append(element("p", { className: "tools", text: summary }));
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
    if (error instanceof Unreachable) {
      goOffline();
      input.value = message; // not sent: give it back to send again later
      addMessage("assistant", "You are offline, so I could not read that. It is back in the message box: send it again when the connection returns.");
    } else {
      addMessage("assistant", `Something went wrong: ${error.message}`);
    }
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

// --- panels on a phone -------------------------------------------------------------------------

function showPanel(tab) {
  $("workspace").dataset.tab = tab;
  $("show-tasks").setAttribute("aria-pressed", String(tab === "tasks"));
  $("show-chat").setAttribute("aria-pressed", String(tab === "chat"));
}

function shortcut(event) {
  if (!state.session || typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "q") {
    event.preventDefault();
    showPanel("tasks");
    $("quick-add").focus();
  } else if (event.key === "/") {
    event.preventDefault();
    showPanel("tasks");
    $("search").focus();
  }
}

// --- live sync, toasts and notifications ------------------------------------------------------

async function startLiveSync() {
  try {
    const url = await socketUrl();
    state.socket = connectLive(url, state.session.token, {
      onStatus: setLiveStatus,
      onCatchUp: () => (state.offline ? tryReconnect() : scheduleRefresh(0)),
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

// `seconds` 0 keeps the toast until the user dismisses it.
function toast(text, kind = "info", actions = [], seconds = TOAST_SECONDS) {
  const box = element("div", { className: `toast ${kind}`, attrs: { role: kind === "error" ? "alert" : "status" } }, [
    element("p", { text }),
  ]);
  const close = () => box.remove();
  const buttons = element("div", { className: "toast-actions" });
  for (const [label, action, spoken] of actions) {
    // `spoken`: the button's full name for a screen reader ("Undo deleting "pay rent" (…)").
    const attrs = spoken ? { type: "button", "aria-label": spoken } : { type: "button" };
    const button = element("button", { text: label, attrs });
    button.addEventListener("click", () => { action(); close(); });
    buttons.append(button);
  }
  const dismiss = element("button", { text: "Dismiss", attrs: { type: "button" } });
  dismiss.addEventListener("click", close);
  buttons.append(dismiss);
  box.append(buttons);
  $("toasts").append(box);
  if (seconds) setTimeout(close, seconds * 1000);
  return box;
}

// The toasts sit at the bottom of the screen, over the assistant's column (and, on a phone,
// just above the bottom bar). The space they take is given up by the chat and the page
// (--toast-space in styles.css), so a toast, which may stay until dismissed, never hides the
// message box or the end of the list.
function keepToastsClearOfTheComposer() {
  const stack = $("toasts");
  const update = () => {
    const space = stack.childElementCount ? stack.offsetHeight + TOAST_GAP_PX : 0;
    document.documentElement.style.setProperty("--toast-space", `${space}px`);
  };
  new ResizeObserver(update).observe(stack);
  new MutationObserver(update).observe(stack, { childList: true });
  update();
}

function showReminder(reminder) {
  const when = reminder.due_at ? ` (due ${formatMoment(reminder.due_at)})` : "";
  const text = `Reminder: ${reminder.title}${when}`;
  const snooze = () => state.api.snooze(reminder.task_id, 10)
    .then((answer) => answer && answer.queued && goOffline())
    .catch((error) => failed("snooze", error));
  const box = toast(text, "reminder", [["Snooze 10 min", snooze]], 0);
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
  keepToastsClearOfTheComposer();
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
  $("clear-completed").addEventListener("click", clearCompleted);
  for (const id of ["priority-filter", "sort"]) {
    $(id).addEventListener("change", () => {
      showFilterSummary();
      refreshTasks();
    });
  }
  for (const button of document.querySelectorAll(".view[data-view]")) {
    button.addEventListener("click", () => selectView(button.dataset.view));
  }
  $("activity-button").addEventListener("click", openActivity);
  $("activity-close").addEventListener("click", closeActivity);
  $("activity-filter").addEventListener("change", refreshActivity);
  $("activity").addEventListener("keydown", (event) => event.key === "Escape" && closeActivity());
  $("search").addEventListener("input", () => scheduleRefresh(SEARCH_DEBOUNCE_MS));
  $("clear-tag").addEventListener("click", () => filterByTag(""));
  $("details-form").addEventListener("submit", saveDetails);
  $("details-close").addEventListener("click", closeDetails);
  $("details-delete").addEventListener("click", () => state.detailsTask && deleteTask(state.detailsTask));
  $("details").addEventListener("keydown", (event) => event.key === "Escape" && closeDetails());
  $("show-tasks").addEventListener("click", () => showPanel("tasks"));
  $("show-chat").addEventListener("click", () => showPanel("chat"));
  document.addEventListener("keydown", shortcut);
  // The filter popover closes when the user clicks elsewhere or presses Escape.
  document.addEventListener("click", (event) => {
    if (!$("filter").contains(event.target)) $("filter").open = false;
  });
  $("filter").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      $("filter").open = false;
      $("filter-summary").focus();
    }
  });
  window.addEventListener("online", () => state.offline && tryReconnect());
  window.addEventListener("offline", () => state.session && goOffline());
  const session = loadSession();
  if (session && session.token) startSession(session);
  else $("email").focus();
}

wire();
