// The REST API as the page uses it: JSON in and out, the bearer token on every call.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.field ? `${error.field}: ${error.reason}` : error.reason || `HTTP ${status}`);
    this.status = status;
  }
}

export class Api {
  constructor(session, onUnauthorized) {
    this.session = session; // {user_id, token, email, timezone}
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (this.session) headers.Authorization = `Bearer ${this.session.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      if (response.status === 401 && this.session) this.onUnauthorized();
      throw new ApiError(response.status, data);
    }
    return data;
  }

  get tasksPath() {
    return `/api/${encodeURIComponent(this.session.user_id)}/tasks`;
  }

  listTasks(params) {
    const query = new URLSearchParams(params).toString();
    return this.request("GET", `${this.tasksPath}?${query}`);
  }

  quickAdd(text) {
    return this.request("POST", this.tasksPath, { text });
  }

  setCompleted(taskId, completed) {
    return this.request("PATCH", `${this.tasksPath}/${taskId}/complete`, { completed });
  }

  deleteTask(taskId) {
    return this.request("DELETE", `${this.tasksPath}/${taskId}`);
  }

  snooze(taskId, minutes) {
    return this.request("POST", `${this.tasksPath}/${taskId}/snooze`, { minutes });
  }

  conversation(conversationId) {
    const user = encodeURIComponent(this.session.user_id);
    return this.request("GET", `/api/${user}/chat/${encodeURIComponent(conversationId)}`);
  }

  chat(message, conversationId) {
    const body = { message };
    if (conversationId) body.conversation_id = conversationId;
    return this.request("POST", `/api/${encodeURIComponent(this.session.user_id)}/chat`, body);
  }
}

export async function authenticate(kind, email, password) {
  const body = { email, password };
  if (kind === "signup") body.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return new Api(null).request("POST", `/api/auth/${kind}`, body);
}
