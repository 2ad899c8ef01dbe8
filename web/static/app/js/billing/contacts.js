// Billing contacts: who gets the low-balance email. Admins add and remove addresses (each change
// saved at once: setBillingContacts replaces the list); others read the list.
import { useState } from "preact/hooks";
import { gql, payload, useQuery } from "../api.js";
import { html } from "../html.js";
import { ErrorNote } from "../ui.js";

const CONTACTS = `query BillingContacts { billingContacts }`;
const SET_CONTACTS = `mutation SetBillingContacts($emails: [String!]!) {
  setBillingContacts(emails: $emails) { billingContacts userErrors { field message code } }
}`;
const MAX = 10;

export function BillingContacts({ canEdit, why }) {
  const query = useQuery(CONTACTS, {}, []);
  const [list, setList] = useState(null);
  const [draft, setDraft] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState("");
  const contacts = list ?? query.data?.billingContacts ?? [];

  async function save(emails, message) {
    setBusy(true);
    setError(null);
    setSaved("");
    try {
      const result = payload((await gql(SET_CONTACTS, { emails })).setBillingContacts);
      setList(result.billingContacts);
      setSaved(message);
      return true;
    } catch (e) {
      // The API names the bad entry by its index: say it with the address.
      if (e.path?.[0] === "emails" && e.path.length > 1) e.message = `${emails[Number(e.path[1])]} is not an email address. Check it and add it again.`;
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function add(event) {
    event.preventDefault();
    const email = draft.trim();
    if (!email) return;
    if (contacts.some((c) => c.toLowerCase() === email.toLowerCase())) {
      setError(new Error(`${email} is already a billing contact.`));
      return;
    }
    if (await save([...contacts, email], `Added ${email}.`)) setDraft("");
  }

  return html`<section class="card contacts-card" aria-labelledby="contacts-heading" data-testid="billing-contacts">
    <div class="section-head">
      <h2 id="contacts-heading">Billing contacts</h2>
      <span class="badge">${contacts.length} of ${MAX}</span>
    </div>
    <p>They get the low-balance email: one message each time available credits cross below the threshold.</p>
    <${ErrorNote} error=${query.error} />
    ${query.loading && !query.data && list == null
      ? html`<p class="loading" role="status">Loading contacts…</p>`
      : contacts.length === 0
        ? html`<p class="contacts-empty">No billing contacts yet: ${canEdit ? "add one so that someone hears about a low balance before jobs are refused." : "nobody gets the low-balance email."}</p>`
        : html`<ul class="contacts" aria-label="Billing contacts">
            ${contacts.map((email) => html`<li key=${email}>
              <span class="mono">${email}</span>
              ${canEdit && html`<button type="button" class="link remove" disabled=${busy} aria-label=${`Remove ${email}`}
                onClick=${() => save(contacts.filter((c) => c !== email), `Removed ${email}.`)}>Remove</button>`}
            </li>`)}
          </ul>`}
    ${canEdit
      ? html`<form class="contact-form" onSubmit=${add}>
          <div class="field">
            <label for="contact-email">Add an email address</label>
            <div class="inline">
              <input id="contact-email" type="email" autocomplete="email" placeholder="finance@example.com" value=${draft}
                onInput=${(e) => { setDraft(e.currentTarget.value); setError(null); }} disabled=${contacts.length >= MAX} />
              <button type="submit" disabled=${busy || !draft.trim() || contacts.length >= MAX}>Add</button>
            </div>
            ${contacts.length >= MAX && html`<small class="hint">A team has at most ${MAX} billing contacts: remove one to add another.</small>`}
          </div>
        </form>`
      : html`<p class="hint">${why}</p>`}
    <p class="saved" role="status" aria-live="polite">${saved}</p>
    <${ErrorNote} error=${error} />
  </section>`;
}
