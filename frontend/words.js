// Plain words for what the API stores in technical form: repeat rules (RFC 5545 RRULE) and
// reminder offsets. The page never shows "FREQ=..." or "1440 min before".

const UNITS = { HOURLY: "hour", DAILY: "day", WEEKLY: "week", MONTHLY: "month", YEARLY: "year" };
const DAYS = { MO: "Monday", TU: "Tuesday", WE: "Wednesday", TH: "Thursday", FR: "Friday", SA: "Saturday", SU: "Sunday" };
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];

export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}

function list(words) {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

// "FREQ=DAILY;INTERVAL=2" -> "every 2 days"; "FREQ=MONTHLY;BYMONTHDAY=1" -> "every month on the 1st".
// A plain weekly or monthly rule repeats on its due's weekday or day of the month: `dueDay`
// ("YYYY-MM-DD", the due's local day) names it, "every month on the 1st".
export function describeRule(rule, mode, dueDay) {
  const parts = Object.fromEntries(
    String(rule || "").replace(/^RRULE:/i, "").split(";").filter(Boolean)
      .map((part) => part.split("=").map((s) => s.trim().toUpperCase())),
  );
  const unit = UNITS[parts.FREQ];
  if (!unit) return "repeats";
  const interval = Number(parts.INTERVAL || 1);
  let text = interval === 1 ? `every ${unit}` : `every ${interval} ${unit}s`;
  const days = (parts.BYDAY || "").split(",").filter(Boolean);
  if (days.length) {
    const plain = days.map((day) => day.replace(/^[+-]?\d+/, ""));
    if (plain.join(",") === "MO,TU,WE,TH,FR") text = interval === 1 ? "every weekday" : `${text} on weekdays`;
    else text += ` on ${list(plain.map((day) => DAYS[day] || day))}`;
  }
  if (parts.BYMONTHDAY) {
    const monthDays = parts.BYMONTHDAY.split(",").map(Number);
    text += ` on the ${list(monthDays.map((d) => (d === -1 ? "last day" : ordinal(d))))}`;
  }
  if (dueDay && !parts.BYDAY && !parts.BYMONTHDAY && !parts.BYMONTH) {
    const day = new Date(`${dueDay}T12:00:00Z`);
    if (unit === "week") text += ` on ${new Intl.DateTimeFormat("en-GB", { weekday: "long", timeZone: "UTC" }).format(day)}`;
    if (unit === "month") text += ` on the ${ordinal(day.getUTCDate())}`;
  }
  if (parts.BYMONTH) text += ` in ${list(parts.BYMONTH.split(",").map((m) => MONTHS[Number(m) - 1] || m))}`;
  if (parts.COUNT) text += `, ${parts.COUNT} times`;
  if (parts.UNTIL) text += `, until ${parts.UNTIL.slice(0, 4)}-${parts.UNTIL.slice(4, 6)}-${parts.UNTIL.slice(6, 8)}`;
  if (mode === "completion") text += ", counted from completion";
  return text;
}

// Days and moments as the assistant writes them (functions/taskflow/domain/when.py, the one
// wording): "Fri 4 Dec", "Fri 4 Dec 18:00" in the user's zone, 24-hour clock, the year only when
// it is not this year. Fixed English names, not the browser's locale, so the list and the
// assistant's replies never disagree on how a due reads.
const WEEKDAYS_SHORT = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS_SHORT = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// `isoDate` "YYYY-MM-DD" (a calendar day, no zone); `today` the user's today, "YYYY-MM-DD".
export function sayDay(isoDate, today) {
  const [year, month, day] = isoDate.split("-").map(Number);
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  let text = `${WEEKDAYS_SHORT[weekday]} ${day} ${MONTHS_SHORT[month - 1]}`;
  if (!today || Number(today.slice(0, 4)) !== year) text += ` ${year}`;
  return text;
}

// `moment` a Date; `zone` the user's IANA zone (undefined: the browser's).
export function sayMoment(moment, zone, today) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23", timeZone: zone,
    }).formatToParts(moment).map((part) => [part.type, part.value]),
  );
  return `${sayDay(`${parts.year}-${parts.month}-${parts.day}`, today)} ${parts.hour}:${parts.minute}`;
}

export function describeOffset(minutes) {
  if (minutes === 0) return "at the due time";
  const units = [[10080, "week"], [1440, "day"], [60, "hour"], [1, "minute"]];
  for (const [size, name] of units) {
    if (minutes % size === 0) {
      const count = minutes / size;
      return `${count} ${name}${count === 1 ? "" : "s"} before`;
    }
  }
  return `${minutes} minutes before`;
}

// Repeat choices the detail panel offers; a task's other rule is shown as an extra choice.
export const REPEAT_CHOICES = [
  ["", "Does not repeat"],
  ["FREQ=DAILY", "every day"],
  ["FREQ=DAILY;INTERVAL=2", "every 2 days"],
  ["FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "every weekday"],
  ["FREQ=WEEKLY", "every week"],
  ["FREQ=WEEKLY;INTERVAL=2", "every 2 weeks"],
  ["FREQ=MONTHLY", "every month"],
  ["FREQ=MONTHLY;BYMONTHDAY=1", "every month on the 1st"],
  ["FREQ=YEARLY", "every year"],
];

export const REMINDER_CHOICES = [null, 0, 10, 30, 60, 1440];

// What a tool of the assistant did, in words (the page never shows tool names).
export const TOOL_WORDS = {
  add_task: "added a task",
  list_tasks: "looked at your tasks",
  complete_task: "completed a task",
  uncomplete_task: "reopened a task",
  delete_task: "deleted a task",
  restore_task: "restored a task",
  update_task: "changed a task",
  skip_occurrence: "skipped an occurrence",
  stop_repeating: "stopped a repeat",
  snooze_reminder: "snoozed a reminder",
};
