// The REST API as the page uses it: JSON in and out, the bearer token on every call.
//
// Writes carry an Idempotency-Key made once per change. When the server cannot be reached, a
// write is kept in a queue in localStorage and sent again, with the same key, until it lands:
// the API answers a retried key with its first outcome, so a write is never lost nor applied
// twice (specs/rest-api.md).

const QUEUE_PREFIX = "taskflow.outbox.";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.field ? `${error.field}: ${error.reason}` : error.reason || `HTTP ${status}`);
    this.status = status;
  }
}

// The server did not answer at all (down, or no network): the caller may queue and retry.
export class Unreachable extends Error {
  constructor() {
    super("The server cannot be reached");
  }
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export class Api {
  constructor(session, onUnauthorized) {
    this.session = session; // {user_id, token, email, timezone}
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, body, key) {
    const headers = { Accept: "application/json" };
    if (this.session) headers.Authorization = `Bearer ${this.session.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["Idempotency-Key"] = key;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new Unreachable();
    }
    // 503 from the API means the database or create-task is down: retry later, same key.
    if (response.status === 502 || response.status === 503 || response.status === 504) {
      throw new Unreachable();
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      throw new Unreachable(); // a proxy's HTML error page: the API itself did not answer
    }
    if (!response.ok) {
      if (response.status === 401 && this.session) this.onUnauthorized();
      throw new ApiError(response.status, data);
    }
    return data;
  }

  get base() {
    return `/api/${encodeURIComponent(this.session.user_id)}`;
  }

  get tasksPath() {
    return `${this.base}/tasks`;
  }

  // --- the write queue -----------------------------------------------------------------------

  get queueKey() {
    return QUEUE_PREFIX + this.session.user_id;
  }

  queued() {
    try {
      return JSON.parse(localStorage.getItem(this.queueKey)) || [];
    } catch {
      return [];
    }
  }

  saveQueue(items) {
    if (items.length) localStorage.setItem(this.queueKey, JSON.stringify(items));
    else localStorage.removeItem(this.queueKey);
  }

  // A change: sent now; kept and retried (same key) when the server cannot be reached.
  // Resolves with the answer, or with {queued: true} when it waits in the queue.
  async write(method, path, body, label) {
    const item = { method, path, body, key: newKey(), label };
    if (this.queued().length) {
      // Keep the order: a change made after a queued one must not overtake it.
      this.saveQueue([...this.queued(), item]);
      return { queued: true };
    }
    try {
      return await this.request(method, path, body, item.key);
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      this.saveQueue([...this.queued(), item]);
      return { queued: true };
    }
  }

  // Send what waits, oldest first. Stops at the first change the server cannot take yet;
  // a change the server refuses (4xx) is dropped and reported to `onRefused`.
  async flush(onRefused) {
    for (;;) {
      const [item, ...rest] = this.queued();
      if (!item) return true;
      try {
        await this.request(item.method, item.path, item.body, item.key);
      } catch (error) {
        if (error instanceof Unreachable) return false;
        onRefused(item, error);
      }
      // Re-read: a change may have been queued while this one was in flight.
      const now = this.queued();
      this.saveQueue(now.length && now[0].key === item.key ? now.slice(1) : rest);
    }
  }

  // --- reads and writes ----------------------------------------------------------------------

  listTasks(params) {
    const query = new URLSearchParams(params).toString();
    return this.request("GET", `${this.tasksPath}?${query}`);
  }

  quickAdd(text) {
    return this.write("POST", this.tasksPath, { text }, `add "${text}"`);
  }

  updateTask(task, changes) {
    return this.write("PUT", `${this.tasksPath}/${task.id}`, changes, `change "${task.title}"`);
  }

  setCompleted(task, completed) {
    const label = `${completed ? "complete" : "reopen"} "${task.title}"`;
    return this.write("PATCH", `${this.tasksPath}/${task.id}/complete`, { completed }, label);
  }

  deleteTask(task) {
    return this.write("DELETE", `${this.tasksPath}/${task.id}`, undefined, `delete "${task.title}"`);
  }

  restoreTask(task) {
    return this.write("POST", `${this.tasksPath}/${task.id}/restore`, undefined, `restore "${task.title}"`);
  }

  snooze(taskId, minutes) {
    return this.write("POST", `${this.tasksPath}/${taskId}/snooze`, { minutes }, "snooze a reminder");
  }

  tags() {
    return this.request("GET", `${this.base}/tags`);
  }

  activity(params) {
    return this.request("GET", `${this.base}/audit?${new URLSearchParams(params).toString()}`);
  }

  health() {
    return this.request("GET", "/healthz");
  }

  conversation(conversationId) {
    return this.request("GET", `${this.base}/chat/${encodeURIComponent(conversationId)}`);
  }

  chat(message, conversationId) {
    const body = { message };
    if (conversationId) body.conversation_id = conversationId;
    return this.request("POST", `${this.base}/chat`, body);
  }
}

export async function authenticate(kind, email, password) {
  const body = { email, password };
  if (kind === "signup") body.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return new Api(null).request("POST", `/api/auth/${kind}`, body);
}
