// Small shared pieces: formatting and the components every screen uses.
import { useEffect, useState } from "preact/hooks";
import { html } from "./html.js";

const dollars = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

/** Credits are cents of a US dollar. */
export function money(cents) {
  return cents == null ? "—" : dollars.format(cents / 100);
}

// One formatter: toLocaleString with options builds a new one (ICU) on every call.
const dateTimes = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function dateTime(iso) {
  if (!iso) return "—";
  return dateTimes.format(new Date(iso));
}

/** "in 2 min", "5 s ago": for expected completion and timings. */
export function relative(iso, now = Date.now()) {
  if (!iso) return "—";
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  // `now` ticks once a second (useNow): an event that just arrived is up to a second "ahead".
  if (abs < 2) return "just now";
  const text = abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : `${Math.round(abs / 3600)} h`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

/** Re-render every `ms` (relative times, countdowns). */
export function useNow(ms = 1000) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

export function bytes(n) {
  if (n == null) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

/** PROVIDER_NAME → "Provider name" for enums shown to people. */
export function label(value) {
  if (!value) return "—";
  const text = String(value).toLowerCase().replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function StatusBadge({ status }) {
  return html`<span class=${`badge status-${String(status).toLowerCase()}`}>${label(status)}</span>`;
}

/** value 0–1, or null for "not known yet" (an indeterminate bar). */
export function ProgressBar({ value, label: text = "Progress" }) {
  if (value == null) return html`<progress class="progress" aria-label=${text}></progress>`;
  const percent = Math.round(value * 100);
  return html`<progress class="progress" max="100" value=${percent} aria-label=${text} title=${`${percent} %`}>${percent} %</progress>`;
}

export function ErrorNote({ error }) {
  if (!error) return null;
  const text = error.message || String(error);
  // The API's messages start lowercase (they read as clauses in logs); a sentence on screen starts capitalized.
  return html`<p class="error-note" role="alert">${text.charAt(0).toUpperCase() + text.slice(1)}</p>`;
}

export function Notice({ kind = "info", children }) {
  return html`<div class=${`notice notice-${kind}`} role=${kind === "error" ? "alert" : "status"}>${children}</div>`;
}

export function Loading({ what = "Loading" }) {
  return html`<p class="loading" role="status" aria-live="polite">${what}…</p>`;
}

/** A labelled form control: every input has a visible label (screen readers read it). */
export function Field({ id, label: text, hint, children }) {
  return html`<div class="field">
    <label for=${id}>${text}</label>
    ${children}
    ${hint ? html`<small id=${`${id}-hint`} class="hint">${hint}</small>` : null}
  </div>`;
}

export function EmptyState({ title, children }) {
  return html`<div class="empty"><h3>${title}</h3>${children}</div>`;
}

/** Navigate within the app (hash routes). */
export function go(path) {
  location.hash = `#${path}`;
}

/** True for an image that may be a logo or have transparency (a PNG, GIF, WebP or SVG, or a small
 *  one): shown whole (contain, on a checkerboard) instead of cropped to fill its box. */
export function showWhole(file) {
  if (!file || file.kind !== "IMAGE") return false;
  if (/png|gif|webp|svg/i.test(file.contentType || file.name?.split(".").pop() || "")) return true;
  return Boolean(file.width && file.height && Math.max(file.width, file.height) <= 512);
}

/** A long file name shown whole where there is room, else cut in the middle: its start, "…", and
 *  its distinguishing end (what tells "image-flux_2_pro-a-…-1.jpg" files apart). The full name is
 *  the tooltip, and what a screen reader reads (the two parts are the whole name). */
export function MiddleName({ name, className = "", tail = 16 }) {
  const text = String(name || "");
  if (text.length <= tail + 6) return html`<span class=${`mid-name ${className}`} title=${text}><span class="mid-head">${text}</span></span>`;
  let cut = text.length - tail;
  const sep = text.slice(cut - 6, cut + 6).search(/[-_ .]/);
  if (sep >= 0) cut = cut - 6 + sep;
  return html`<span class=${`mid-name ${className}`} title=${text}><span class="mid-head">${text.slice(0, cut)}</span><span class="mid-tail"><bdi>${text.slice(cut)}</bdi></span></span>`;
}
