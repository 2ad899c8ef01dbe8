// Names and periods of the billing screen: provider and job-type names as people say them, the
// usage periods (days are UTC days, as the API groups them) and ledger amounts with their sign.
import { money } from "../ui.js";

// Provider and job-type names: the Jobs panel's (one name per type everywhere the app shows one:
// "Voice-over", not "Voice (TTS)" here and "Voice-over" in the forms).
export { providerName, typeName } from "../jobs/common.js";

// One colour per job type (AA against white for the text drawn next to the bars).
export const TYPE_COLORS = { IMAGE: "#2f4fd1", VIDEO: "#8a3ffc", AVATAR: "#0f7b6c", TTS: "#b8560b", COMPOSITE: "#a3195b" };

export const KIND_NAMES = {
  TOP_UP: "Top-up",
  HOLD: "Hold",
  CAPTURE: "Charge",
  RELEASE: "Release",
  REFUND: "Refund",
  ADJUSTMENT: "Adjustment",
};

export const KIND_HELP = {
  TOP_UP: "Credits added to the team",
  HOLD: "Set aside when a job is accepted; not spent yet",
  CAPTURE: "A finished job's cost, taken from the balance",
  RELEASE: "A hold given back (the job ended or cost less)",
  REFUND: "Credits given back to the balance",
  ADJUSTMENT: "A correction made by Creative Hub",
};

/** How a ledger row moves the money, as a person reads it: "−$0.60", "+$100.00", "$0.60 held". */
export function ledgerAmount(tx) {
  const amount = money(tx.amountCents);
  switch (tx.kind) {
    case "TOP_UP":
    case "REFUND":
      return { text: `+${amount}`, tone: "plus" };
    case "CAPTURE":
      return { text: `−${amount}`, tone: "minus" };
    case "HOLD":
      return { text: `${amount} held`, tone: "muted" };
    case "RELEASE":
      return { text: `${amount} released`, tone: "muted" };
    default:
      return { text: amount, tone: "" };
  }
}

const DAY_MS = 86_400_000;

function utcMidnight(date) {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

export const PERIODS = [
  { id: "7d", name: "Last 7 days" },
  { id: "30d", name: "Last 30 days" },
  { id: "month", name: "This month" },
];

/** { from, to, days: ["YYYY-MM-DD", …], name } of a period, whole UTC days up to the end of today. */
export function periodRange(id, now = new Date()) {
  const tomorrow = new Date(utcMidnight(now).getTime() + DAY_MS);
  let from;
  if (id === "month") from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  else from = new Date(tomorrow.getTime() - (id === "30d" ? 30 : 7) * DAY_MS);
  const days = [];
  for (let t = from.getTime(); t < tomorrow.getTime(); t += DAY_MS) days.push(new Date(t).toISOString().slice(0, 10));
  const name = PERIODS.find((p) => p.id === id)?.name || id;
  return { from: from.toISOString(), to: tomorrow.toISOString(), days, name };
}

const SHORT_DAY = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const LONG_DAY = new Intl.DateTimeFormat(undefined, { weekday: "short", month: "short", day: "numeric", timeZone: "UTC" });

/** "Nov 30" (the axis) and "Mon, Nov 30" (the table) of a "YYYY-MM-DD" UTC day. */
export function dayNames(day) {
  const date = new Date(`${day}T00:00:00Z`);
  return { short: SHORT_DAY.format(date), long: LONG_DAY.format(date) };
}

/** Dollars typed by a person ("20", "$20.50", "1,000") → cents, or null when it is not an amount. */
export function parseDollars(text) {
  const cleaned = String(text).trim().replace(/[$,\s]/g, "");
  if (!/^\d+(\.\d{0,2})?$/.test(cleaned)) return null;
  return Math.round(Number(cleaned) * 100);
}

/** Cents → "20.00" for an input's value. */
export function dollarsValue(cents) {
  return cents == null ? "" : (cents / 100).toFixed(2);
}
