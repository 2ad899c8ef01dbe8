// Spend caps: the most a member or an API key may spend per UTC day or month, with what each has
// spent in the current period. Admins set, change and remove them; others read them. Refetched on
// each balance event (a hold or a charge moves "spent") and after reconnections.
import { useEffect, useRef, useState } from "preact/hooks";
import { gql, payload, useQuery } from "../api.js";
import { html } from "../html.js";
import { ErrorNote, money, relative } from "../ui.js";

/** "in 5 h", "in 12 days": when a cap's period ends. */
function untilReset(iso) {
  const hours = (new Date(iso).getTime() - Date.now()) / 3_600_000;
  if (hours > 48) return `in ${Math.round(hours / 24)} days`;
  return relative(iso);
}
import { dollarsValue, parseDollars } from "./format.js";

const CAPS = `query SpendCaps { spendCaps { id subject { kind id name } period limitCents spentCents remainingCents periodStartsAt periodEndsAt updatedAt } }`;
const KEYS = `query CapKeys { apiKeys { id name prefix } }`;
const SET_CAP = `mutation SetSpendCap($input: SetSpendCapInput!) {
  setSpendCap(input: $input) {
    spendCap { id limitCents }
    userErrors { field message code }
  }
}`;

const PERIOD_NAMES = { DAY: "Daily", MONTH: "Monthly" };
const EMPTY = { subject: "", period: "DAY", limit: "" };

function subjectInput(value) {
  const [kind, id] = value.split(":");
  return kind === "key" ? { apiKeyId: id } : { userId: id };
}

function Usage({ cap }) {
  const share = cap.limitCents > 0 ? Math.min(1, cap.spentCents / cap.limitCents) : 1;
  const tone = share >= 1 ? "full" : share >= 0.8 ? "near" : "ok";
  const percent = Math.round(share * 100);
  return html`<div class=${`cap-meter ${tone}`}>
    <div class="cap-bar" role="meter" aria-valuemin="0" aria-valuemax=${cap.limitCents} aria-valuenow=${Math.min(cap.spentCents, cap.limitCents)}
      aria-valuetext=${`${money(cap.spentCents)} of ${money(cap.limitCents)} spent, ${money(cap.remainingCents)} left`}
      aria-label=${`${cap.subject.name}, ${PERIOD_NAMES[cap.period].toLowerCase()}`}>
      <span style=${`width:${cap.spentCents > 0 ? Math.max(percent, 2) : 0}%`}></span>
    </div>
    <span class="cap-left">${cap.remainingCents === 0 ? "Reached: new jobs refused" : `${money(cap.remainingCents)} left`}</span>
  </div>`;
}

export function SpendCaps({ canEdit, why, members: loaded, balanceVersion }) {
  const members = loaded || {};
  const caps = useQuery(CAPS, {}, []);
  const keys = useQuery(canEdit ? KEYS : `query NoKeys { __typename }`, {}, [canEdit]);
  const [form, setForm] = useState(EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState("");
  const limitRef = useRef(null);

  const seen = useRef(balanceVersion);
  useEffect(() => {
    if (seen.current !== balanceVersion) {
      seen.current = balanceVersion;
      caps.refetch();
    }
  }, [balanceVersion]);

  const rows = caps.data?.spendCaps || [];
  const apiKeys = keys.data?.apiKeys || [];
  const cents = parseDollars(form.limit);
  const invalid = form.limit.trim() !== "" && cents == null;
  const existing = rows.find((c) => `${c.subject.kind === "API_KEY" ? "key" : "user"}:${c.subject.id}` === form.subject && c.period === form.period);

  async function save(input, message) {
    setBusy(true);
    setError(null);
    setSaved("");
    try {
      payload((await gql(SET_CAP, { input })).setSpendCap);
      setSaved(message);
      caps.refetch();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function submit(event) {
    event.preventDefault();
    if (!form.subject || cents == null) return;
    const name = subjectName(form.subject, members, apiKeys);
    const ok = await save(
      { ...subjectInput(form.subject), period: form.period, limitCents: cents },
      `${existing ? "Changed" : "Set"}: ${name} may spend ${money(cents)} per ${form.period === "DAY" ? "day" : "month"}.`,
    );
    if (ok) setForm(EMPTY);
  }

  function edit(cap) {
    setForm({ subject: `${cap.subject.kind === "API_KEY" ? "key" : "user"}:${cap.subject.id}`, period: cap.period, limit: dollarsValue(cap.limitCents) });
    setSaved("");
    limitRef.current?.focus();
  }

  function remove(cap) {
    const subject = cap.subject.kind === "API_KEY" ? { apiKeyId: cap.subject.id } : { userId: cap.subject.id };
    save({ ...subject, period: cap.period, limitCents: null }, `Removed the ${PERIOD_NAMES[cap.period].toLowerCase()} cap of ${cap.subject.name}.`);
  }

  return html`<section class="card caps" aria-labelledby="caps-heading" data-testid="spend-caps">
    <div class="section-head">
      <div>
        <h2 id="caps-heading">Spend caps</h2>
        <p class="hint">The most a member or an API key may spend per day or per month (UTC). A job that would go over
          a cap is refused when it is submitted, with a message naming the cap; jobs already accepted always finish.</p>
      </div>
    </div>
    <${ErrorNote} error=${caps.error} />
    ${caps.loading && !caps.data
      ? html`<p class="loading" role="status">Loading spend caps…</p>`
      : rows.length === 0
        ? html`<div class="empty compact"><h3>No spend caps</h3><p>Every member and key may spend up to the team's available credits.${canEdit ? " Add a cap below." : ""}</p></div>`
        : html`<div class="table-scroll"><table class="caps-table">
          <caption class="visually-hidden">Spend caps and what was spent in the current period</caption>
          <thead><tr>
            <th scope="col">Who</th><th scope="col">Period</th><th scope="col" class="num">Limit</th>
            <th scope="col" class="num">Spent</th><th scope="col" class="meter-col">Remaining</th>
            <th scope="col" class="hide-narrow">Resets</th>
            ${canEdit && html`<th scope="col"><span class="visually-hidden">Actions</span></th>`}
          </tr></thead>
          <tbody>
            ${rows.map((cap) => html`<tr key=${cap.id} data-subject=${cap.subject.name}>
              <td class="who"><span class="who-name">${cap.subject.name}</span>
                <span class=${`badge subject-${cap.subject.kind.toLowerCase()}`}>${cap.subject.kind === "API_KEY" ? "API key" : "Member"}</span></td>
              <td class="period">${PERIOD_NAMES[cap.period]}</td>
              <td class="num limit">${money(cap.limitCents)}</td>
              <td class="num spent">${money(cap.spentCents)}</td>
              <td class="meter-col"><${Usage} cap=${cap} /></td>
              <td class="hide-narrow resets"><time datetime=${cap.periodEndsAt} title=${new Date(cap.periodEndsAt).toLocaleString()}>${untilReset(cap.periodEndsAt)}</time></td>
              ${canEdit && html`<td class="row-actions">
                <button type="button" class="small" onClick=${() => edit(cap)} aria-label=${`Change the ${PERIOD_NAMES[cap.period].toLowerCase()} cap of ${cap.subject.name}`}>Change</button>
                <button type="button" class="small danger" disabled=${busy} onClick=${() => remove(cap)} aria-label=${`Remove the ${PERIOD_NAMES[cap.period].toLowerCase()} cap of ${cap.subject.name}`}>Remove</button>
              </td>`}
            </tr>`)}
          </tbody>
        </table></div>`}
    ${canEdit
      ? html`<form class="cap-form" onSubmit=${submit} aria-labelledby="cap-form-heading">
          <h3 id="cap-form-heading">${existing ? "Change a cap" : "Add a cap"}</h3>
          <div class="cap-fields">
            <div class="field">
              <label for="cap-subject">Member or API key</label>
              <select id="cap-subject" required value=${form.subject} onChange=${(e) => setForm({ ...form, subject: e.currentTarget.value })}>
                <option value="">Choose…</option>
                <optgroup label="Members">
                  ${Object.entries(members).map(([id, name]) => html`<option key=${id} value=${`user:${id}`}>${name}</option>`)}
                </optgroup>
                ${apiKeys.length > 0 && html`<optgroup label="API keys">
                  ${apiKeys.map((k) => html`<option key=${k.id} value=${`key:${k.id}`}>${k.name} (${k.prefix}…)</option>`)}
                </optgroup>`}
              </select>
            </div>
            <div class="field">
              <label for="cap-period">Period</label>
              <select id="cap-period" value=${form.period} onChange=${(e) => setForm({ ...form, period: e.currentTarget.value })}>
                <option value="DAY">Per day (UTC)</option>
                <option value="MONTH">Per month (UTC)</option>
              </select>
            </div>
            <div class="field">
              <label for="cap-limit">Limit</label>
              <div class="money-input">
                <span aria-hidden="true">$</span>
                <input id="cap-limit" ref=${limitRef} inputmode="decimal" autocomplete="off" required placeholder="e.g. 25.00"
                  aria-invalid=${invalid ? "true" : null} aria-describedby="cap-limit-hint"
                  value=${form.limit} onInput=${(e) => setForm({ ...form, limit: e.currentTarget.value })} />
              </div>
            </div>
            <div class="cap-submit">
              <button type="submit" class="primary" disabled=${busy || !form.subject || cents == null}>${busy ? "Saving…" : existing ? "Change cap" : "Set cap"}</button>
            </div>
          </div>
          <small id="cap-limit-hint" class=${invalid ? "hint is-invalid" : "hint"}>${invalid
            ? `“${form.limit.trim()}” is not an amount: type dollars, like 25 or 12.50.`
            : existing
              ? `${existing.subject.name} already has a ${PERIOD_NAMES[existing.period].toLowerCase()} cap of ${money(existing.limitCents)}: saving replaces it. $0 allows no spend.`
              : "$0 allows no spend at all. A member's cap counts the jobs they submit with any key."}</small>
        </form>`
      : html`<p class="hint readonly-why">${why}</p>`}
    <p class="saved" role="status" aria-live="polite">${saved}</p>
    <${ErrorNote} error=${error || keys.error} />
  </section>`;
}

function subjectName(value, members, apiKeys) {
  const [kind, id] = value.split(":");
  if (kind === "key") return apiKeys.find((k) => k.id === id)?.name || "The key";
  return members[id] || "The member";
}
