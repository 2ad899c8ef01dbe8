// The low-balance alert: its threshold (admins set or turn it off; others read it) and what it does.
import { useEffect, useState } from "preact/hooks";
import { gql, payload } from "../api.js";
import { html } from "../html.js";
import { ErrorNote, money } from "../ui.js";
import { dollarsValue, parseDollars } from "./format.js";

const SET_THRESHOLD = `mutation SetThreshold($cents: Int) {
  setLowBalanceThreshold(cents: $cents) {
    creditBalance { lowBalanceThresholdCents lowBalance availableCents }
    userErrors { field message code }
  }
}`;

/** `canEdit`: an admin with every scope; `why`: the reason shown when not. */
export function ThresholdCard({ balance, canEdit, why }) {
  const current = balance?.lowBalanceThresholdCents ?? null;
  const [text, setText] = useState(dollarsValue(current));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState("");
  const [dirty, setDirty] = useState(false);

  // Follow the live value (another admin may change it) until the person starts typing.
  useEffect(() => {
    if (!dirty) setText(dollarsValue(current));
  }, [current]);

  const cents = parseDollars(text);
  const invalid = text.trim() !== "" && cents == null;

  async function save(value) {
    setBusy(true);
    setError(null);
    setSaved("");
    try {
      const data = await gql(SET_THRESHOLD, { cents: value });
      const result = payload(data.setLowBalanceThreshold).creditBalance;
      setDirty(false);
      setText(dollarsValue(result.lowBalanceThresholdCents));
      setSaved(result.lowBalanceThresholdCents == null ? "The low-balance alert is off." : `Saved: alert below ${money(result.lowBalanceThresholdCents)}.`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const status = balance == null ? null : current == null
    ? html`<span class="badge">Off</span>`
    : balance.lowBalance
      ? html`<span class="badge badge-warn">Below threshold</span>`
      : html`<span class="badge badge-ok">Above threshold</span>`;

  return html`<section class="card alert-card" aria-labelledby="threshold-heading">
    <div class="section-head">
      <h2 id="threshold-heading">Low-balance alert</h2>
      ${status}
    </div>
    <p>When available credits fall below this amount, everyone on the team sees a banner at the top
      of every page, and the billing contacts get one email. Another email is sent only after the balance has gone back above the threshold and
      crossed it again — never one per job.</p>
    ${canEdit
      ? html`<form class="threshold-form" onSubmit=${(e) => { e.preventDefault(); if (!invalid) save(text.trim() === "" ? null : cents); }}>
          <div class="field">
            <label for="threshold">Alert when available credits are below</label>
            <div class="money-input">
              <span aria-hidden="true">$</span>
              <input id="threshold" inputmode="decimal" autocomplete="off" placeholder="e.g. 20.00"
                aria-describedby="threshold-hint" aria-invalid=${invalid ? "true" : null}
                value=${text} onInput=${(e) => { setText(e.currentTarget.value); setDirty(true); setSaved(""); }} />
            </div>
            <small id="threshold-hint" class=${invalid ? "hint is-invalid" : "hint"}>${invalid ? `“${text.trim()}” is not an amount: type dollars, like 20 or 12.50.` : "Leave empty and save to turn the alert off."}</small>
          </div>
          <div class="actions">
            <button type="submit" class="primary" disabled=${busy || invalid || !dirty}>${busy ? "Saving…" : "Save threshold"}</button>
            ${current != null && html`<button type="button" onClick=${() => save(null)} disabled=${busy}>Turn off</button>`}
          </div>
        </form>`
      : html`<dl class="readonly">
          <dt>Threshold</dt><dd data-testid="threshold-value">${current == null ? "Off" : money(current)}</dd>
        </dl>
        <p class="hint">${why}</p>`}
    <p class="saved" role="status" aria-live="polite">${saved}</p>
    <${ErrorNote} error=${error} />
  </section>`;
}
