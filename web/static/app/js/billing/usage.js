// Usage as charts: spend by day, provider, type and member for a period (last 7 / 30 days, this
// month), all four in one request. Refetched when the balance moves (a job was charged) and after
// every reconnection (useQuery).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useQuery } from "../api.js";
import { html } from "../html.js";
import { ErrorNote, money } from "../ui.js";
import { CategoryBars, TimeBars } from "./charts.js";
import { PERIODS, TYPE_COLORS, dayNames, periodRange, providerName, typeName } from "./format.js";

const USAGE = `query Usage($from: DateTime!, $to: DateTime!) {
  byDay: creditUsage(from: $from, to: $to, groupBy: DAY) { totalCents rows { key costCents jobCount byType { key costCents } } }
  byProvider: creditUsage(from: $from, to: $to, groupBy: PROVIDER) { totalCents rows { key costCents jobCount } }
  byType: creditUsage(from: $from, to: $to, groupBy: TYPE) { totalCents rows { key costCents jobCount } }
  byUser: creditUsage(from: $from, to: $to, groupBy: USER) { totalCents rows { key costCents jobCount } }
  providers { provider type }
}`;

/** `members`: { [userId]: "name" } (teamMembers; null while they load: the member chart waits for
 *  them rather than flip from "You" to a name); `capturedCents` changes when a job is charged. */
export function UsageCharts({ viewer, members = {}, capturedCents }) {
  const [period, setPeriod] = useState("30d");
  const range = useMemo(() => periodRange(period), [period]);
  const usage = useQuery(USAGE, { from: range.from, to: range.to }, [range.from, range.to]);

  // A charge moves the balance: the charts follow (not on the first render, the query just ran).
  const seen = useRef(capturedCents);
  useEffect(() => {
    if (seen.current !== capturedCents) {
      seen.current = capturedCents;
      usage.refetch();
    }
  }, [capturedCents]);

  const data = usage.data;
  const providerType = Object.fromEntries((data?.providers || []).map((p) => [p.provider, p.type]));
  const byDay = useMemo(() => {
    const found = Object.fromEntries((data?.byDay.rows || []).map((r) => [r.key, r]));
    return range.days.map((day) => {
      const names = dayNames(day);
      const r = found[day];
      const parts = Object.fromEntries((r?.byType || []).map((t) => [t.key.toUpperCase(), t.costCents]));
      return { key: day, label: names.long, short: names.short, costCents: r?.costCents || 0, jobCount: r?.jobCount || 0, parts };
    });
  }, [data, range]);
  const byProvider = (data?.byProvider.rows || []).map((r) => ({
    ...r,
    label: providerName(r.key),
    color: TYPE_COLORS[providerType[r.key.toUpperCase()]],
  }));
  const byType = (data?.byType.rows || []).map((r) => ({ ...r, label: typeName(r.key), color: TYPE_COLORS[r.key.toUpperCase()] }));
  const byUser = (data?.byUser.rows || []).map((r) => ({
    ...r,
    label: memberName(r.key, viewer, members || {}),
    suffix: r.key === viewer?.userId ? " (you)" : "",
  }));
  const total = data?.byProvider.totalCents ?? 0;
  const jobCount = byType.reduce((n, r) => n + r.jobCount, 0);
  const typesUsed = byType.map((r) => r.key.toUpperCase());
  // The day bars' stack: the legend's types in its order (the biggest spend at the bottom).
  const series = typesUsed.map((t) => ({ key: t, label: typeName(t), color: TYPE_COLORS[t] || "#2f4fd1" }));

  return html`<section class="card usage" aria-labelledby="usage-heading" aria-busy=${usage.loading ? "true" : "false"}>
    <div class="section-head">
      <div>
        <h2 id="usage-heading">Usage</h2>
        <p class="hint">What finished jobs cost, by the day they completed (UTC days).</p>
      </div>
      <fieldset class="segmented">
        <legend class="visually-hidden">Period</legend>
        ${PERIODS.map((p) => html`<label key=${p.id} class=${period === p.id ? "on" : ""}>
          <input type="radio" name="usage-period" value=${p.id} checked=${period === p.id} onChange=${() => setPeriod(p.id)} />
          ${p.name}
        </label>`)}
      </fieldset>
    </div>
    <${ErrorNote} error=${usage.error} />
    ${data && html`<div class="usage-total" role="status" aria-live="polite">
      <span class="big" data-testid="usage-total">${money(total)}</span>
      <span class="hint">spent ${range.name.toLowerCase()} · ${jobCount} ${jobCount === 1 ? "job" : "jobs"}</span>
      ${typesUsed.length > 0 && html`<ul class="legend" aria-label="Colours by job type">
        ${typesUsed.map((t) => html`<li key=${t}><i style=${`background:${TYPE_COLORS[t] || "#2f4fd1"}`}></i>${typeName(t)}</li>`)}
      </ul>`}
    </div>`}
    ${!data && !usage.error && html`<div class="chart-skeleton" aria-hidden="true"></div>`}
    ${data && total === 0 && html`<div class="empty compact usage-empty" data-testid="usage-empty">
      <h3>No spend ${range.name.toLowerCase()}</h3>
      <p>The charts fill in as jobs complete.${period !== "30d" ? " Try the last 30 days." : ""}</p>
    </div>`}
    ${data && total > 0 && html`<div class="usage-grid">
      <div class="usage-wide">
        <${TimeBars} id="day" title=${`Spend by day, ${range.name.toLowerCase()}`} rows=${byDay} totalCents=${total} series=${series} />
      </div>
      <${CategoryBars} id="provider" title="By provider" keyHeading="Provider" rows=${byProvider} totalCents=${total} />
      <${CategoryBars} id="type" title="By type" keyHeading="Type" rows=${byType} totalCents=${total} />
      ${members
        ? html`<${CategoryBars} id="member" title="By member" keyHeading="Member" rows=${byUser} totalCents=${total} />`
        : html`<figure class="chart" data-chart="member"><figcaption><span class="chart-title">By member</span></figcaption>
            <div class="chart-skeleton small" aria-hidden="true"></div></figure>`}
    </div>`}
  </section>`;
}

/** A member's name: teamMembers' when known, "You" for the viewer, else a short id. */
export function memberName(userId, viewer, members) {
  const known = members[userId];
  const you = viewer?.userId === userId;
  if (known) return known;
  if (you) return "You";
  return `Member ${String(userId).slice(0, 8)}`;
}
