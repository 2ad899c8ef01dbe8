// A job's page (#/jobs/<id>): live over jobUpdated (the current state first, then every change),
// with its output in the player that fits it, a composite's inputs beside it, its settings,
// timings, ledger rows, an error in plain words, and the actions.
import { useEffect, useState } from "preact/hooks";
import { gql, useQuery, useSubscription } from "../api.js";
import { useApp } from "../context.js";
import { html } from "../html.js";
import {
  CompositeInputs, JOB_FIELDS, JobActions, OutputPlayer, cancelOutcome, costOf, explainError, fileFacts, isOpen, jobTitle,
  providerName, statusLine, submitter, typeName, useCancelDialog, useCompositeInputs,
} from "../jobs/common.js";
import { usePlacements } from "../new/placements.js";
import { EmptyState, ErrorNote, Loading, ProgressBar, StatusBadge, bytes, dateTime, go, label, money, useNow } from "../ui.js";

const JOB = `query Job($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;
const LIVE = `subscription JobLive($id: ID!) { jobUpdated(id: $id) { ${JOB_FIELDS} } }`;
const LEDGER = `query JobLedger($jobId: ID!) {
  creditTransactions(first: 50, filter: { jobId: $jobId }) { nodes { id kind amountCents description createdAt availableAfterCents } } }`;
const BATCH = `query JobBatch($id: ID!) { batch(id: $id) { id variants placements counts { total completed } } }`;

// Each ledger row once, in words, with an amount that reads right: a hold sets credits aside
// ("held", no sign: nothing is spent yet), a charge spends them (−), a release gives the unused
// part back ("released"), a refund adds (+).
const KIND_WORDS = {
  HOLD: "Held while it runs", CAPTURE: "Charged", RELEASE: "Hold released", REFUND: "Refunded",
  TOP_UP: "Top-up", ADJUSTMENT: "Adjustment",
};
const AMOUNT = {
  HOLD: (m) => [`${m} held`, "amount-held"], CAPTURE: (m) => [`−${m}`, "amount-neg"],
  RELEASE: (m) => [`${m} released`, "amount-held"], REFUND: (m) => [`+${m}`, "amount-pos"],
  TOP_UP: (m) => [`+${m}`, "amount-pos"],
};
// The service's own descriptions that only repeat the row's kind (its words say it already).
const SAID_BY_KIND = new Set(["hold for job", "charge for completed job"]);

function ledgerAmount(t) {
  const m = money(Math.abs(t.amountCents));
  return (AMOUNT[t.kind] || ((x) => [t.amountCents < 0 ? `−${x}` : x, ""]))(m);
}

function ledgerNote(t) {
  const text = (t.description || "").trim();
  if (!text || SAID_BY_KIND.has(text.toLowerCase())) return null;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function duration(fromIso, toIso) {
  if (!fromIso || !toIso) return null;
  const seconds = Math.max(0, (new Date(toIso) - new Date(fromIso)) / 1000);
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds % 60)} s`;
}

function Facts({ rows }) {
  return html`<dl class="facts-list">${rows.filter(([, v]) => v != null && v !== "" && v !== false).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

const VOICES = `query JobVoices($provider: Provider!) { voices(provider: $provider) { id name } }`;
const NO_VOICES = `query NoVoices { __typename }`;

/** A voice id → its name in the provider's library (the one the form picks from), else the id. */
function useVoiceName(provider, id) {
  const { data } = useQuery(id ? VOICES : NO_VOICES, id ? { provider } : {}, [provider, id]);
  return id ? data?.voices?.find((v) => v.id === id)?.name || null : null;
}

/** What a job's text is: a TTS reads a text, an avatar a script; a composite's is its headline
 *  (the text element it renders) or else the title it was given ("Logo ad: …"). */
function textLabel(job) {
  if (job.type === "TTS") return "Text";
  if (job.type === "AVATAR") return "Script";
  if (job.type !== "COMPOSITE") return "Prompt";
  const elements = job.settings?.source?.elements || job.settings?.settings?.source?.elements || [];
  return elements.some((e) => e?.type === "text" && e.text === job.prompt) ? "Headline" : "Title";
}

function Settings({ job, batch }) {
  const s = job.settings || {};
  const own = s.settings || {};
  const usage = job.metadata?.usage || {};
  // A composite has no model to speak of (the renderer's endpoint, "renders", is not one). The
  // model that ran (the provider's report: Runway makes a text-only video on another model than
  // one from a start image) before the one the catalog names.
  const model = job.type === "COMPOSITE" ? null : own.model || usage.model || s.wire_model || job.metadata?.model;
  const voiceId = s.voice_id || (job.type === "TTS" || job.type === "AVATAR" ? usage.voice || usage.voice_id || null : null);
  const voiceName = useVoiceName(job.provider, voiceId);
  const placements = usePlacements();
  const placementName = job.placement && ((placements.list || []).find((p) => p.placement === job.placement)?.name || label(job.placement));
  const size = s.width && s.height ? `${s.width}×${s.height}` : null;
  const extra = Object.entries(own).filter(([k]) => !["seed", "model"].includes(k));
  return html`<section class="card" aria-labelledby="settings-h">
    <h2 id="settings-h">Settings</h2>
    <${Facts} rows=${[
      [textLabel(job), job.prompt],
      ["Type", typeName(job.type)],
      ["Provider", providerName(job.provider)],
      ["Model", model],
      ["Aspect ratio", s.aspect_ratio],
      ["Size", size],
      ["Duration", s.duration_seconds ? `${s.duration_seconds} s` : null],
      ["Seed", job.seed ?? own.seed ?? null],
      ["Placement", placementName],
      ["Variant", job.variant && (batch ? `${job.variant} of ${batch.variants}` : job.variant)],
      ["Batch", job.batchId && (job.variant || job.placement || (batch && batch.counts.total > 1)) && html`<a href=${`#/jobs?batch=${job.batchId}`}>All jobs of this batch${batch ? ` (${batch.counts.completed} of ${batch.counts.total} done)` : ""}</a>`],
      ["Voice", voiceId && (voiceName ? html`${voiceName} <small class="hint">${providerName(job.provider)} voice</small>` : voiceId)],
      ["Avatar", s.avatar_id],
      ["Template", s.template_id],
      ["Your reference", job.clientReference],
      ["Your metadata", job.clientMetadata && Object.keys(job.clientMetadata).length ? html`<pre class="json">${JSON.stringify(job.clientMetadata, null, 2)}</pre>` : null],
      ["Provider settings", extra.length ? html`<pre class="json">${JSON.stringify(Object.fromEntries(extra), null, 2)}</pre>` : null],
      ["Adjusted", (job.metadata?.adjustments || []).map((a) => a.message || `${a.requested} → ${a.chosen}`).join("; ")],
    ]} />
  </section>`;
}

function Timings({ job, viewer, now }) {
  const cost = costOf(job);
  return html`<section class="card" aria-labelledby="timings-h">
    <h2 id="timings-h">Timings and cost</h2>
    <${Facts} rows=${[
      ["Submitted by", submitter(job, viewer)],
      ["Created", dateTime(job.createdAt)],
      ["Started", job.startedAt ? dateTime(job.startedAt) : isOpen(job) ? "Not yet" : "Never"],
      [job.status === "COMPLETED" ? "Completed" : "Ended", job.completedAt && dateTime(job.completedAt)],
      ["Waited", duration(job.createdAt, job.startedAt)],
      ["Took", duration(job.startedAt, job.completedAt) || (isOpen(job) && job.startedAt ? duration(job.startedAt, new Date(now).toISOString()) + " so far" : null)],
      ["Expected", isOpen(job) ? statusLine(job, now) : null],
      ["Cost", `${cost.amount} ${cost.note}`],
      ["Estimate", money(job.estimatedCostCents)],
      ["Beyond the hold", job.overrunCents ? `${money(job.overrunCents)} (not charged)` : null],
    ]} />
  </section>`;
}

function Ledger({ job }) {
  // Read again whenever the job changes state: a hold, then a capture or a release.
  const { data, error, loading } = useQuery(LEDGER, { jobId: job.id }, [job.id, job.status]);
  const rows = data?.creditTransactions.nodes || [];
  return html`<section class="card" aria-labelledby="ledger-h">
    <h2 id="ledger-h">Credits</h2>
    <${ErrorNote} error=${error} />
    ${!data && loading ? html`<${Loading} what="Loading the ledger" />` : !rows.length
      ? html`<p class="hint">No credit movements for this job yet.</p>`
      : html`<table class="ledger">
        <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col" class="num">Amount</th></tr></thead>
        <tbody>${[...rows].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0)).map((t) => {
          const [amount, cls] = ledgerAmount(t);
          const note = ledgerNote(t);
          return html`<tr data-testid="ledger-row">
          <td>${dateTime(t.createdAt)}</td>
          <td>${KIND_WORDS[t.kind] || label(t.kind)}${note ? html`<br /><small class="hint">${note}</small>` : null}</td>
          <td class=${`num ${cls}`}>${amount}</td>
        </tr>`;
        })}</tbody></table>
        <p class="hint ledger-note">A hold sets credits aside while the job runs; the charge is what it cost, and any unused part of the hold is released.</p>`}
  </section>`;
}

function Outputs({ job }) {
  const inputs = useCompositeInputs(job);
  let body;
  if (job.outputs.length) {
    body = job.outputs.map((file) => html`<figure>
      <${OutputPlayer} file=${file} />
      <figcaption><span>${file.name}</span><span>${fileFacts(file)}</span><span>${bytes(file.sizeBytes)}</span>
        <a href=${file.url} download=${file.name}>Download</a></figcaption>
    </figure>`);
  } else if (isOpen(job)) {
    body = html`<div class="waiting-output" role="status"><div>
      <p><strong>${job.status === "PENDING" ? "Waiting to start" : "Generating"}</strong> — the result appears here by itself.</p>
      <${ProgressBar} value=${job.progress} label="Progress" /></div></div>`;
  } else {
    body = html`<div class="waiting-output"><p>${job.status === "COMPLETED" ? "The output is no longer in Drive." : "No output: the job did not complete."}</p></div>`;
  }
  return html`<section class="card" aria-labelledby="output-h">
    <h2 id="output-h">Output</h2>
    <div class=${`output-area${inputs.length ? " with-inputs" : ""}`}>
      <div class="output-area">${body}</div>
      <${CompositeInputs} inputs=${inputs} />
    </div>
  </section>`;
}

function ErrorCard({ job }) {
  const explained = explainError(job.errorMessage);
  if (!explained || job.status === "COMPLETED") return null;
  const canceled = job.status === "CANCELED";
  return html`<section class=${`card ${canceled ? "" : "error-card"}`} aria-labelledby="error-h" role=${canceled ? null : "alert"}>
    <h2 id="error-h">${canceled ? "Canceled" : "Why it failed"}</h2>
    <p><strong>${explained.title}</strong> ${explained.advice}</p>
    <p class="raw">The service said: “${explained.raw}”</p>
  </section>`;
}

export default function JobScreen({ route }) {
  const { viewer } = useApp();
  const id = route.params[0];
  const { data, error, loading } = useQuery(JOB, { id }, [id]);
  const [job, setJob] = useState(null);
  const [message, setMessage] = useState(null);
  const [actionError, setActionError] = useState(null);
  const now = useNow(1000);
  const [withCancel, cancelDialog] = useCancelDialog();

  useEffect(() => setJob(null), [id]);
  useEffect(() => {
    if (data?.job) setJob((current) => (current && current.version > data.job.version ? current : data.job));
  }, [data]);
  const liveError = useSubscription(LIVE, { id }, (d) => {
    setJob((current) => (current && current.id === d.jobUpdated.id && current.version > d.jobUpdated.version ? current : d.jobUpdated));
  }, [id]);
  const batchId = job?.batchId;
  const [batch, setBatch] = useState(null);
  useEffect(() => {
    if (!batchId) return setBatch(null);
    let current = true;
    gql(BATCH, { id: batchId }).then((d) => current && setBatch(d.batch), () => current && setBatch(null));
    return () => {
      current = false;
    };
  }, [batchId, job?.status]);

  if (!job) {
    if (error) return html`<${ErrorNote} error=${error} />`;
    if (!loading && data && !data.job) {
      return html`<${EmptyState} title="This job is not here">
        <p>It may belong to another team, or the link is mistyped.</p><a class="button" href="#/jobs">Back to the jobs</a><//>`;
    }
    return html`<${Loading} what="Loading the job" />`;
  }

  const done = (kind, next) => {
    setActionError(null);
    if (kind === "regenerated") {
      go(`/jobs/${next.id}`);
      return;
    }
    setJob((current) => (current.version > next.version ? current : next));
    setMessage(kind === "canceled" ? `Canceled: ${cancelOutcome(next)}.` : next.rating === "WINNER" ? "Marked as a winner." : "Winner mark cleared.");
  };

  return withCancel(html`<article class="job-screen" aria-labelledby="job-h">
    <p class="crumbs"><a href="#/jobs">← Jobs</a></p>
    <section class="card job-head-card">
      <div>
        <h1 id="job-h">${jobTitle(job)}</h1>
        <div class="facts">${typeName(job.type)} · ${providerName(job.provider)}${job.rating === "WINNER" ? html` · <span class="winner-mark">★ Winner</span>` : null}</div>
        <div class="job-status" aria-live="polite">
          <${StatusBadge} status=${job.status} />
          ${isOpen(job) && html`<${ProgressBar} value=${job.progress} label="Progress" />
            <span>${Math.round(job.progress * 100)} %</span>`}
          <span class="hint">${statusLine(job, now)}</span>
        </div>
      </div>
      <${JobActions} job=${job} onDone=${done} onError=${setActionError} />
    </section>
    <div class="live-msg" role="status" aria-live="polite">${message}</div>
    <${ErrorNote} error=${actionError} />
    ${liveError && html`<p class="notice notice-warn">Live updates stopped: ${liveError.message}</p>`}
    <${ErrorCard} job=${job} />
    <div class="job-layout">
      <div>
        <${Outputs} job=${job} />
        <${Settings} job=${job} batch=${batch} />
      </div>
      <div>
        <${Timings} job=${job} viewer=${viewer} now=${now} />
        <${Ledger} job=${job} />
      </div>
    </div>
    ${cancelDialog}
  </article>`);
}
