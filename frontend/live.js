// Live sync with broadcast-update's Socket.IO server. The JWT travels in the connect payload;
// the server puts this connection in the user's own room only. Events are hints to refetch:
// after any (re)connect the list is fetched again, which catches up on whatever was missed
// while the network was down.
import { io } from "./vendor/socket.io.esm.min.js";

const TASK_EVENTS = ["task.created", "task.updated", "task.completed", "task.deleted"];

export async function socketUrl() {
  const response = await fetch("/config.json");
  const config = await response.json();
  if (config.socket_url) return config.socket_url;
  return `${location.protocol}//${location.hostname}:${config.socket_port}`;
}

export function connectLive(url, token, handlers) {
  const socket = io(url, {
    auth: { token },
    transports: ["websocket"], // the server runs websocket only (no sticky sessions needed)
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  const seen = new Set(); // broker redeliveries carry the same event_id
  const firstSighting = (payload) => {
    if (!payload || !payload.event_id) return true;
    if (seen.has(payload.event_id)) return false;
    seen.add(payload.event_id);
    if (seen.size > 2000) seen.delete(seen.values().next().value);
    return true;
  };
  socket.on("connect", () => handlers.onStatus("live"));
  socket.on("disconnect", () => handlers.onStatus("offline"));
  socket.on("connect_error", () => handlers.onStatus("offline"));
  socket.io.on("reconnect_attempt", () => handlers.onStatus("reconnecting"));
  socket.on("connect", () => handlers.onCatchUp());
  for (const name of TASK_EVENTS) {
    socket.on(name, (payload) => firstSighting(payload) && handlers.onTaskEvent(name, payload));
  }
  socket.on("reminder.due", (payload) => firstSighting(payload) && handlers.onReminder(payload));
  return socket;
}
