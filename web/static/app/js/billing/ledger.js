// The credit ledger: newest first, filters (kind, date range, job), "Load more" pages, live (the
// first page is fetched again on each balance event and new rows are put on top, marked for a few
// seconds) and a CSV export of the same filters (fetched with the Authorization header, saved as
// a Blob: a plain link cannot send the header).
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, gql, onResync } from "../api.js";
import { html } from "../html.js";
import { authHeader } from "../session.js";
import { ErrorNote, Field, dateTime, money } from "../ui.js";
import { KIND_HELP, KIND_NAMES, ledgerAmount, providerName, typeName } from "./format.js";

const PAGE = 25;
const LEDGER = `query Ledger($first: Int, $after: String, $filter: CreditTransactionFilter) {
  creditTransactions(first: $first, after: $after, filter: $filter) {
    nodes { id kind amountCents jobId balanceAfterCents availableAfterCents description createdAt
      job { type provider submittedBy { name email } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
export const CSV_PATH = "/api/v1/creative-hub/ledger.csv";

const EMPTY_FILTERS = { kind: "", from: "", to: "", jobId: "" };

/** The API's filter of the form's values: dates are whole local days, `to` inclusive. */
function apiFilter(f) {
  const filter = {};
  if (f.kind) filter.kinds = [f.kind];
  if (f.jobId.trim()) filter.jobId = f.jobId.trim();
  if (f.from) filter.from = new Date(`${f.from}T00:00:00`).toISOString();
  if (f.to) {
    const end = new Date(`${f.to}T00:00:00`);
    end.setDate(end.getDate() + 1);
    filter.to = end.toISOString();
  }
  return filter;
}

function filterProblem(f) {
  if (f.from && f.to && f.from > f.to) return "The start date is after the end date.";
  if (f.jobId.trim() && !/^[0-9a-f-]{36}$/i.test(f.jobId.trim())) return "A job id looks like 2f4ff6a8-f041-4460-87de-84a17bfc8bc8 (copy it from the job's page).";
  return null;
}

export function Ledger({ balanceVersion }) {
  const [form, setForm] = useState(EMPTY_FILTERS);
  const [filters, setFilters] = useState(EMPTY_FILTERS);
  const [rows, setRows] = useState([]);
  const [cursor, setCursor] = useState({ hasNextPage: false, endCursor: null });
  const [state, setState] = useState({ loading: true, more: false, error: null });
  const [fresh, setFresh] = useState(() => new Set());
  const [exporting, setExporting] = useState(null);
  const generation = useRef(0);
  const pages = useRef(1);
  const rowsRef = useRef(rows);
  rowsRef.current = rows;

  async function firstPage({ live = false } = {}) {
    const mine = ++generation.current;
    if (!live) setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const data = await gql(LEDGER, { first: PAGE, filter: apiFilter(filters) });
      if (mine !== generation.current) return;
      const got = data.creditTransactions;
      const before = rowsRef.current;
      const known = new Set(before.map((r) => r.id));
      const overlaps = got.nodes.some((r) => known.has(r.id));
      if (live && pages.current > 1 && overlaps) {
        // Keep the pages loaded below: put the new rows on top.
        const added = got.nodes.filter((r) => !known.has(r.id));
        setRows([...added, ...before]);
        markFresh(added);
      } else {
        pages.current = 1;
        setRows(got.nodes);
        setCursor(got.pageInfo);
        if (live) markFresh(got.nodes.filter((r) => !known.has(r.id)));
      }
      setState({ loading: false, more: false, error: null });
    } catch (error) {
      if (mine === generation.current) setState({ loading: false, more: false, error });
    }
  }

  function markFresh(added) {
    if (!added.length) return;
    const ids = new Set(added.map((r) => r.id));
    setFresh(ids);
    setTimeout(() => setFresh((current) => (current === ids ? new Set() : current)), 4000);
  }

  async function loadMore() {
    const mine = generation.current;
    setState((s) => ({ ...s, more: true, error: null }));
    try {
      const data = await gql(LEDGER, { first: PAGE, after: cursor.endCursor, filter: apiFilter(filters) });
      if (mine !== generation.current) return;
      const known = new Set(rowsRef.current.map((r) => r.id));
      setRows([...rowsRef.current, ...data.creditTransactions.nodes.filter((r) => !known.has(r.id))]);
      setCursor(data.creditTransactions.pageInfo);
      pages.current += 1;
      setState({ loading: false, more: false, error: null });
    } catch (error) {
      setState({ loading: false, more: false, error });
    }
  }

  useEffect(() => {
    firstPage();
    return onResync(() => firstPage({ live: true }));
  }, [filters]);

  // Each balance event (a hold, a charge, a release, a top-up) wrote a ledger row: fetch the top.
  const seen = useRef(balanceVersion);
  useEffect(() => {
    if (seen.current !== balanceVersion) {
      seen.current = balanceVersion;
      firstPage({ live: true });
    }
  }, [balanceVersion]);

  const problem = filterProblem(form);
  const filtered = Object.values(filters).some(Boolean);

  function apply(event) {
    event.preventDefault();
    if (!problem) setFilters({ ...form, jobId: form.jobId.trim() });
  }

  function clear() {
    setForm(EMPTY_FILTERS);
    setFilters(EMPTY_FILTERS);
  }

  async function exportCsv() {
    setExporting({ busy: true });
    const params = new URLSearchParams();
    const f = apiFilter(filters);
    if (f.from) params.set("from", f.from);
    if (f.to) params.set("to", f.to);
    if (f.kinds) params.set("kinds", f.kinds.join(","));
    try {
      const response = await fetch(`${CSV_PATH}?${params}`, { headers: { Accept: "text/csv", ...authHeader() } });
      if (!response.ok) {
        let message = `The export failed (${response.status}).`;
        try {
          const body = await response.json();
          message = body.message || body.error?.message || body.detail || message;
        } catch {
          // not JSON: keep the status
        }
        if (response.status === 404) message = "This server has no ledger export yet. Update Creative Hub, or copy the rows from the table.";
        if (response.status === 403) message = `${message} The CSV export needs a key with the billing scope.`;
        throw new ApiError(message, { status: response.status });
      }
      const blob = await response.blob();
      const name = fileName(response.headers.get("Content-Disposition"));
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setExporting({ done: `Saved ${name}.` });
    } catch (error) {
      setExporting({
        error: error instanceof ApiError ? error : new ApiError("The service cannot be reached. Check your connection and try again."),
      });
    }
  }

  return html`<section class="card ledger" aria-labelledby="ledger-heading">
    <div class="section-head">
      <div>
        <h2 id="ledger-heading">Ledger</h2>
        <p class="hint">Every credit movement, newest first. New rows appear as jobs are held and charged.</p>
      </div>
      <div class="actions">
        <button type="button" onClick=${exportCsv} disabled=${exporting?.busy} data-testid="export-csv">
          <span aria-hidden="true">⤓ </span>${exporting?.busy ? "Preparing CSV…" : filters.kind || filters.from || filters.to ? "Export filtered CSV" : "Export CSV"}
        </button>
      </div>
    </div>
    ${filters.jobId && html`<p class="hint export-note">The CSV follows the kind and date filters; it lists every job's rows.</p>`}
    <p class="visually-hidden" role="status" aria-live="polite">${exporting?.done || ""}</p>
    <${ErrorNote} error=${exporting?.error} />
    <form class="filters" onSubmit=${apply} aria-label="Ledger filters">
      <${Field} id="ledger-kind" label="Kind">
        <select id="ledger-kind" value=${form.kind} onChange=${(e) => setForm({ ...form, kind: e.currentTarget.value })}>
          <option value="">All kinds</option>
          ${Object.entries(KIND_NAMES).map(([value, name]) => html`<option key=${value} value=${value}>${name}</option>`)}
        </select>
      <//>
      <${Field} id="ledger-from" label="From">
        <input id="ledger-from" type="date" value=${form.from} onInput=${(e) => setForm({ ...form, from: e.currentTarget.value })} />
      <//>
      <${Field} id="ledger-to" label="To">
        <input id="ledger-to" type="date" value=${form.to} onInput=${(e) => setForm({ ...form, to: e.currentTarget.value })} />
      <//>
      <${Field} id="ledger-job" label="Job id">
        <input id="ledger-job" type="search" placeholder="Paste a job id" autocomplete="off" spellcheck="false"
          value=${form.jobId} onInput=${(e) => setForm({ ...form, jobId: e.currentTarget.value })}
          aria-invalid=${problem && form.jobId ? "true" : null} />
      <//>
      <div class="filter-actions">
        <button type="submit" class="primary" disabled=${Boolean(problem)}>Apply</button>
        <button type="button" onClick=${clear} disabled=${!filtered && !Object.values(form).some(Boolean)}>Clear</button>
      </div>
    </form>
    ${problem && html`<p class="field-problem" role="alert">${problem}</p>`}
    <${ErrorNote} error=${state.error} />
    ${state.loading && !rows.length
      ? html`<p class="loading" role="status">Loading the ledger…</p>`
      : rows.length === 0
        ? html`<div class="empty"><h3>${filtered ? "No rows match these filters" : "No credit movements yet"}</h3>
            <p>${filtered ? "Widen the dates or clear the filters." : "Top-ups, holds and charges will be listed here."}</p></div>`
        : html`<div class="table-scroll">
        <table class="ledger-table" data-testid="ledger">
          <caption class="visually-hidden">Credit ledger, newest first${filtered ? " (filtered)" : ""}</caption>
          <thead><tr>
            <th scope="col">When</th>
            <th scope="col">Kind</th>
            <th scope="col" class="hide-narrow">Details</th>
            <th scope="col">Job</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col" class="num">Balance after</th>
            <th scope="col" class="num hide-narrow">Available after</th>
          </tr></thead>
          <tbody>
            ${rows.map((tx) => {
              const amount = ledgerAmount(tx);
              return html`<tr key=${tx.id} class=${fresh.has(tx.id) ? "fresh" : ""} data-kind=${tx.kind}>
                <td class="when"><time datetime=${tx.createdAt}>${dateTime(tx.createdAt)}</time></td>
                <td class="kind"><span class=${`badge kind-${tx.kind.toLowerCase()}`} title=${KIND_HELP[tx.kind]}>${KIND_NAMES[tx.kind] || tx.kind}</span></td>
                <td class="desc">${describe(tx)}</td>
                <td class="job">${tx.jobId ? html`<a href=${`#/jobs/${tx.jobId}`} class="mono" title=${tx.jobId}>${tx.jobId.slice(0, 8)}</a>` : "—"}</td>
                <td class=${`num amount amount-${amount.tone}`}>${amount.text}</td>
                <td class="num bal"><span class="narrow-only">Balance </span>${money(tx.balanceAfterCents)}</td>
                <td class="num avail hide-narrow">${money(tx.availableAfterCents)}</td>
              </tr>`;
            })}
          </tbody>
        </table>
      </div>
      <div class="ledger-foot">
        <span class="hint">${rows.length} ${rows.length === 1 ? "row" : "rows"} shown${cursor.hasNextPage ? " · more below" : " · that is all"}${filtered ? " for these filters" : ""}</span>
        ${cursor.hasNextPage && html`<button type="button" onClick=${loadMore} disabled=${state.more}>${state.more ? "Loading…" : "Load more"}</button>`}
      </div>`}
  </section>`;
}

/** The file name a Content-Disposition header names, else one of today's date. */
function fileName(disposition) {
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition || "");
  if (match) return decodeURIComponent(match[1]);
  return `creative-hub-ledger-${new Date().toISOString().slice(0, 10)}.csv`;
}

/** "Video · Runway Gen-4 · Maya Lopez" for a job's row; the ledger's own words otherwise. */
function describe(tx) {
  const job = tx.job;
  if (!job) return tx.description || "—";
  const who = job.submittedBy?.name || job.submittedBy?.email;
  return html`<span class="job-desc">${typeName(job.type)} · ${providerName(job.provider)}</span>${who ? html`<span class="hint"> · ${who}</span>` : null}`;
}
