// Team billing (#/billing): the live balance, usage as charts, the ledger with its CSV export, the
// low-balance alert, billing contacts and spend caps. What a credential may not see or change is
// hidden with the reason said in words (a key without the billing scope; a member, not an admin).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useQuery } from "../api.js";
import { ThresholdCard } from "../billing/alerts.js";
import { SpendCaps } from "../billing/caps.js";
import { BillingContacts } from "../billing/contacts.js";
import { Ledger } from "../billing/ledger.js";
import { UsageCharts } from "../billing/usage.js";
import { useApp } from "../context.js";
import { html } from "../html.js";
import { ErrorNote, money } from "../ui.js";

const BALANCE = `query Balance { creditBalance { teamId balanceCents availableCents heldCents lowBalanceThresholdCents lowBalance lowBalanceCrossed } }`;
const MEMBERS = `query Members { teamMembers { id name email role } }`;
const ALL_SCOPES = ["READ", "GENERATE", "BILLING"];

/** What this credential may do on the billing screen, and why not. */
export function billingAccess(viewer) {
  const scopes = viewer?.scopes || [];
  const billing = scopes.includes("BILLING");
  const missing = ALL_SCOPES.filter((s) => !scopes.includes(s));
  const admin = Boolean(viewer?.isAdmin) && missing.length === 0;
  let why = null;
  if (!viewer?.isAdmin) why = "Only team owners and admins can change billing settings. Ask one of them to change it.";
  else if (missing.length) why = `You are an admin, but this API key lacks the ${missing.map((s) => s.toLowerCase()).join(" and ")} scope${missing.length > 1 ? "s" : ""}: changing billing settings needs a key with every scope.`;
  return { billing, admin, why };
}

/** A number that briefly lights up when it changes (live updates are seen, not only read). */
function Stat({ name, cents, hint, testid, tone = "", none = "…" }) {
  const [flash, setFlash] = useState(false);
  const last = useRef(cents);
  useEffect(() => {
    if (last.current !== cents && last.current != null) {
      setFlash(true);
      const t = setTimeout(() => setFlash(false), 1200);
      last.current = cents;
      return () => clearTimeout(t);
    }
    last.current = cents;
    return undefined;
  }, [cents]);
  return html`<div class=${`stat ${tone} ${flash ? "flash" : ""}`}>
    <div class="name">${name}</div>
    <div class="value" data-testid=${testid} data-cents=${cents ?? ""}>${cents == null ? none : money(cents)}</div>
    ${hint && html`<div class="hint">${hint}</div>`}
  </div>`;
}

function Balances({ balance }) {
  const held = balance?.heldCents ?? null;
  return html`<section class="balances" aria-label="Credits">
    <${Stat} name="Available" cents=${balance?.availableCents} testid="available" tone=${balance?.lowBalance ? "low" : "primary"}
      hint="What new jobs can use" />
    <${Stat} name="Balance" cents=${balance?.balanceCents} testid="balance" hint="Credits the team holds" />
    <${Stat} name="Held for running jobs" cents=${held} testid="held"
      hint=${held ? "Charged or given back when they finish" : "No job is running"} />
    <${Stat} name="Low-balance alert" cents=${balance?.lowBalanceThresholdCents ?? null} testid="threshold" none=${balance ? "Off" : "…"}
      hint=${balance == null ? "" : balance.lowBalanceThresholdCents == null ? "No banner or email is sent" : balance.lowBalance ? "Available credits are below it" : "Banner and email below this"} />
  </section>`;
}

export default function Billing() {
  const { viewer, balance: live } = useApp();
  const access = billingAccess(viewer);
  const initial = useQuery(BALANCE, {}, []);
  const balance = live || initial.data?.creditBalance || null;
  const team = useQuery(MEMBERS, {}, []);
  const members = useMemo(() => {
    if (!team.data && !team.error) return null; // still loading: no "You" that turns into a name a moment later
    const names = {};
    for (const m of team.data?.teamMembers || []) names[m.id] = m.id === viewer?.userId ? `${m.name || m.email} (you)` : m.name || m.email;
    return names;
  }, [team.data, team.error]);
  // Every balance event gives a new object: the ledger fetches its first page again on each.
  const balanceVersion = live ? `${live.balanceCents}/${live.availableCents}/${live.heldCents}/${live.lowBalanceThresholdCents}` : "initial";

  return html`<div class="billing">
    <div class="page-head">
      <h1>Billing</h1>
      <p class="hint">${viewer?.teamName} · credits are US dollars, updated live as jobs are held and charged.</p>
    </div>
    <${ErrorNote} error=${!live && initial.error} />
    <${Balances} balance=${balance} />
    ${!access.billing && html`<div class="notice notice-info access-note" role="note" data-testid="billing-scope-note">
      <strong>Ledger, usage and spend caps are hidden.</strong> This API key has no <code>billing</code> scope, so it may
      see the balance only. Sign in with a key that has the billing scope (a team admin can create one) to see the ledger,
      usage charts, spend caps and billing contacts.
    </div>`}
    ${access.billing && html`<${UsageCharts} viewer=${viewer} members=${members} capturedCents=${balance?.balanceCents} />`}
    ${access.billing && html`<${Ledger} balanceVersion=${balanceVersion} />`}
    <div class="settings-grid">
      <${ThresholdCard} balance=${balance} canEdit=${access.admin} why=${access.why} />
      ${access.billing && html`<${BillingContacts} canEdit=${access.admin} why=${access.why} />`}
    </div>
    ${access.billing && html`<${SpendCaps} canEdit=${access.admin} why=${access.why} members=${members} balanceVersion=${balanceVersion} />`}
  </div>`;
}
