// The Jobs panel: the team's jobs, newest first, live over jobsUpdated (no polling; after every
// reconnection every page loaded so far is read again, and the events are merged by id). Filters live
// in the URL (#/jobs?status=COMPLETED&mine=1). The list is windowed: only the rows in view (plus an
// overscan) are in the DOM, and the next page (`after`) is read as the user scrolls near the end,
// so a list of 1,000 jobs stays smooth.
import { Component } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { gql, onResync, useConnectionState, useQuery, useSubscription } from "../api.js";
import { useApp } from "../context.js";
import { html } from "../html.js";
import { onSignOut } from "../session.js";
import {
  CompositeInputs, JOB_FIELDS, JOB_STATUSES, JOB_TYPES, JobActions, OutputPlayer, PROVIDERS, Thumb, costOf,
  cancelOutcome, fileFacts, isOpen, jobTitle, providerName, statusLine, submitter, typeName, useCancelDialog,
  useCompositeInputs,
} from "../jobs/common.js";
import { placementOf, usePlacements } from "../new/placements.js";
import { EmptyState, ErrorNote, Field, ProgressBar, StatusBadge, dateTime, go, label, relative, useNow } from "../ui.js";

const PAGE = 50;
const OVERSCAN = 8;
const CHUNK = 4; // the window's edges move by this many rows at a time
const LOAD_AHEAD = 20; // rows before the end of what is loaded at which the next page is read
// The benchmark's baseline (bench/web_jobs_list.py) sets this to render every row, unwindowed.
const RENDER_ALL = Boolean(globalThis.CH_JOBS_RENDER_ALL);

const JOBS = `query Jobs($first: Int!, $after: String, $filter: JobFilter) {
  jobs(first: $first, after: $after, filter: $filter) { nodes { ${JOB_FIELDS} } pageInfo { hasNextPage endCursor } } }`;
const UPDATES = `subscription JobsLive($filter: JobFilter) { jobsUpdated(filter: $filter) { ${JOB_FIELDS} } }`;

// ---- filters <-> URL <-> JobFilter -------------------------------------------------------------
const FILTER_KEYS = ["type", "status", "provider", "batch", "rating", "mine"];

function filtersOf(query) {
  const f = {};
  for (const key of FILTER_KEYS) {
    const value = query.get(key);
    if (value) f[key] = value;
  }
  return f;
}

function jobFilter(f) {
  const filter = {};
  if (f.type) filter.type = f.type;
  if (f.status) filter.status = f.status;
  if (f.provider) filter.provider = f.provider;
  if (f.batch) filter.batchId = f.batch;
  if (f.rating) filter.rating = f.rating;
  if (f.mine) filter.mine = true;
  return Object.keys(filter).length ? filter : null;
}

/** The subscription's filter: status and rating change as a job moves, so they are checked here
 * (a job leaving the filter's status leaves the list) instead of by the server. */
function liveFilter(filter) {
  if (!filter) return null;
  const { status, rating, ...rest } = filter;
  return Object.keys(rest).length ? rest : null;
}

function matches(job, f, viewer) {
  return (!f.type || job.type === f.type) && (!f.status || job.status === f.status)
    && (!f.provider || job.provider === f.provider) && (!f.batch || job.batchId === f.batch)
    && (!f.rating || job.rating === f.rating) && (!f.mine || job.userId === viewer?.userId);
}

function setFilters(next) {
  const query = new URLSearchParams();
  for (const key of FILTER_KEYS) if (next[key]) query.set(key, next[key]);
  const search = query.toString();
  go(`/jobs${search ? `?${search}` : ""}`);
}

const newestFirst = (a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0);

/** Merge jobs into the list by id: a newer version replaces the row in place, a new job goes where
 * its createdAt puts it (the top, for a job just submitted); those failing `keep` leave. */
function mergeJobs(list, incoming, keep) {
  let next = list;
  for (const job of incoming) {
    const at = next.findIndex((j) => j.id === job.id);
    if (at >= 0) {
      if (next[at].version > job.version) continue;
      next = next === list ? [...list] : next;
      if (keep(job)) next[at] = job;
      else next.splice(at, 1);
    } else if (keep(job)) {
      next = next === list ? [...list] : next;
      let i = 0;
      while (i < next.length && newestFirst(next[i], job) <= 0) i += 1;
      next.splice(i, 0, job);
    }
  }
  return next;
}

// ---- the list's data ---------------------------------------------------------------------------
const RESYNC_PAGE = 100; // the API's largest page: a resync of 1,000 loaded jobs is 10 reads

/** The first `count` jobs of the filter, read again from the top in pages of RESYNC_PAGE (at least
 * one page): what the list holds after a reconnection, every loaded row as the server has it now. */
async function readFirst(count, filter) {
  const jobs = [];
  let after = null;
  let hasNext = true;
  while (hasNext && (jobs.length < count || !jobs.length)) {
    const page = (await gql(JOBS, { first: RESYNC_PAGE, after, filter })).jobs;
    jobs.push(...page.nodes);
    after = page.pageInfo.endCursor;
    hasNext = page.pageInfo.hasNextPage;
  }
  return { jobs, endCursor: after, hasNext };
}

// The last list loaded for each viewer (team and user) and filter, kept across screen changes: back
// on Jobs (offline, or before the first page arrives again) the panel shows it at once, marked as
// possibly out of date, instead of an error over an empty table. Replaced by what the server says as
// soon as it answers. Keyed by who read it and forgotten at sign-out: another team signing in on
// this tab never sees the previous team's jobs, even when its own first read fails.
const loadedLists = new Map(); // viewer + filter key -> { key, jobs, endCursor, hasNext, at }
onSignOut(() => loadedLists.clear());

function useJobList(filters, viewer) {
  const key = JSON.stringify([viewer?.teamId ?? null, viewer?.userId ?? null, filters]);
  const filter = useMemo(() => jobFilter(filters), [key]);
  const keep = useCallback((job) => matches(job, filters, viewer), [key, viewer]);
  // list.key: the viewer and filter its jobs were read for (null until the first page arrives);
  // list.stale: the list is the one kept from an earlier visit (loadedLists), not yet read again.
  const [list, setList] = useState(() => (loadedLists.has(key) ? { ...loadedLists.get(key), stale: true }
    : { key: null, jobs: [], endCursor: null, hasNext: false }));
  useEffect(() => {
    if (list.key) loadedLists.set(list.key, { key: list.key, jobs: list.jobs, endCursor: list.endCursor, hasNext: list.hasNext, at: list.stale ? list.at : Date.now() });
  }, [list]);
  const [more, setMore] = useState({ loading: false, error: null });
  const [failure, setFailure] = useState({ key: null, error: null }); // the last read of the list failed
  const current = useRef(list);
  current.current = list;
  const loading = useRef(false); // a page (or a resync) is being read: one at a time
  const resyncing = useRef(null); // events received while a resync reads: merged over its result

  // The first page on a new filter; after every reconnection, every page loaded so far is read
  // again (a row far down that changed while the socket was down is right too), and the events
  // that arrived meanwhile are merged over it by version.
  useEffect(() => {
    let live = true;
    if (loadedLists.has(key)) setList((now) => (now.key === key ? now : { ...loadedLists.get(key), stale: true }));
    gql(JOBS, { first: PAGE, filter }).then(
      (data) => {
        if (!live) return;
        const page = data.jobs;
        setList({ key, jobs: page.nodes, endCursor: page.pageInfo.endCursor, hasNext: page.pageInfo.hasNextPage });
        setFailure({ key: null, error: null });
      },
      (error) => live && setFailure({ key, error }),
    );
    let again = false; // a reconnection while a resync reads: read once more after it
    const resync = async () => {
      if (resyncing.current) {
        again = true;
        return;
      }
      const held = current.current;
      const count = held.key === key ? held.jobs.length : 0;
      resyncing.current = [];
      loading.current = true;
      try {
        const fresh = await readFirst(Math.max(count, PAGE), filter);
        if (!live) return;
        const missed = resyncing.current;
        setList({ key, jobs: mergeJobs(fresh.jobs, missed, keep), endCursor: fresh.endCursor, hasNext: fresh.hasNext });
        setFailure({ key: null, error: null });
      } catch (error) {
        if (live) setFailure({ key, error });
      } finally {
        resyncing.current = null;
        loading.current = false;
      }
      if (again && live) {
        again = false;
        resync();
      }
    };
    const off = onResync(resync);
    return () => {
      live = false;
      off();
    };
  }, [key]);

  const liveError = useSubscription(UPDATES, { filter: liveFilter(filter) }, (data) => {
    const job = data.jobsUpdated;
    if (resyncing.current) resyncing.current.push(job);
    setList((now) => (now.key === key ? { ...now, jobs: mergeJobs(now.jobs, [job], keep) } : now));
  }, [key]);

  const loadMore = useCallback(() => {
    if (loading.current || list.key !== key || !list.hasNext) return;
    loading.current = true;
    setMore({ loading: true, error: null });
    gql(JOBS, { first: PAGE, after: list.endCursor, filter }).then(
      (data) => {
        const page = data.jobs;
        setList((now) => now.key !== key ? now : {
          key,
          jobs: mergeJobs(now.jobs, page.nodes, keep),
          endCursor: page.pageInfo.endCursor,
          hasNext: page.pageInfo.hasNextPage,
        });
        setMore({ loading: false, error: null });
      },
      (error) => setMore({ loading: false, error }),
    ).finally(() => {
      loading.current = false;
    });
  }, [list, key]);

  const error = failure.key === key ? failure.error : null;
  return {
    jobs: list.key === key ? list.jobs : [],
    hasNext: list.key === key && list.hasNext,
    initialLoading: list.key !== key && !error,
    // kept from an earlier visit and not read again yet: { at } (when it was loaded), else null
    stale: list.key === key && list.stale ? { at: list.at } : null,
    error,
    liveError,
    more,
    loadMore,
    replace: (job) => setList((now) => ({ ...now, jobs: mergeJobs(now.jobs, [job], keep) })),
  };
}

// ---- the window --------------------------------------------------------------------------------
const NARROW = "(max-width: 700px)";

function useRowHeight() {
  const query = useMemo(() => matchMedia(NARROW), []);
  const [narrow, setNarrow] = useState(query.matches);
  useEffect(() => {
    const change = () => setNarrow(query.matches);
    query.addEventListener("change", change);
    return () => query.removeEventListener("change", change);
  }, []);
  return narrow ? 188 : 80; // css/jobs.css: .job-row height (phone: room for a running job's progress and Cancel)
}

// Faster than this (px per ms; 40 px a frame: a fling, a dragged scrollbar, End) nobody reads the
// rows going by: rows mounted then are drawn light (no actions, no image) until the scroll slows
// down or stops for SETTLE_MS, then completed in place.
const FAST_PX_PER_MS = 2.4;
const SETTLE_MS = 150;
// A scroll after a pause is timed over at most this long, not over the pause: a reader who looked
// at the top for a minute and then pressed End jumped in one frame, as fast as one who did at once.
const PAUSE_MS = 100;

/** The rows in view of the page's scroll, plus OVERSCAN above and below: [start, end), and whether
 * the page is scrolling fast. Read once per frame (the scroll handler only asks for a frame). */
function useVisibleRange(listRef, count, rowHeight) {
  const [range, setRange] = useState([0, Math.min(count, 30)]);
  const [fast, setFast] = useState(false);
  // Where the page was when last measured. It outlives the effect below, which runs again when a
  // page of jobs arrives (or, on the first load, only after the browser has painted): a scroll
  // made meanwhile is measured from there, not taken as where the page always was.
  const last = useRef(null);
  if (!last.current) last.current = { y: window.scrollY, t: performance.now() };
  useEffect(() => {
    if (RENDER_ALL) {
      setRange([0, count]);
      return undefined;
    }
    let frame = 0;
    let settle = 0;
    const measure = () => {
      frame = 0;
      const el = listRef.current;
      if (!el) return;
      const y = window.scrollY;
      const t = performance.now();
      const was = last.current;
      const moving = Math.abs(y - was.y) / Math.min(PAUSE_MS, Math.max(1, t - was.t)) > FAST_PX_PER_MS;
      last.current = { y, t };
      clearTimeout(settle);
      if (moving) settle = setTimeout(() => setFast(false), SETTLE_MS);
      setFast(moving);
      const top = el.getBoundingClientRect().top; // the list's top relative to the viewport
      // snapped to CHUNK rows: the window moves (and the list renders) every few frames, not each one
      const first = Math.max(0, Math.floor((Math.floor(-top / rowHeight) - OVERSCAN) / CHUNK) * CHUNK);
      const end = Math.min(count, Math.ceil((Math.ceil((window.innerHeight - top) / rowHeight) + OVERSCAN) / CHUNK) * CHUNK);
      setRange((r) => (r[0] === first && r[1] === Math.max(first, end) ? r : [first, Math.max(first, end)]));
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(measure);
    };
    measure();
    window.addEventListener("scroll", schedule, { passive: true });
    window.addEventListener("resize", schedule);
    return () => {
      cancelAnimationFrame(frame);
      clearTimeout(settle);
      window.removeEventListener("scroll", schedule);
      window.removeEventListener("resize", schedule);
    };
  }, [count, rowHeight]);
  return [range[0], range[1], fast];
}

// ---- rows --------------------------------------------------------------------------------------
// "Video · Kling 2.6 · In-stream": the placement named as in the form; its ratio only when the
// provider rendered another one ("Feed 16:9"). The variant (what tells takes apart) is its own
// mark after it, never cut off.
function placed(job) {
  const ratio = job.settings?.aspect_ratio;
  const placement = job.placement && placementOf(job.placement);
  if (!job.placement) return ratio;
  const name = placement?.name || label(job.placement);
  return ratio && ratio !== placement?.aspectRatio ? `${name} ${ratio}` : name;
}
// Each fact whole on its line: the facts wrap between them onto a second line, never inside a name.
const factsOf = (job) => [typeName(job.type), providerName(job.provider), placed(job)].filter(Boolean)
  .map((fact, i) => html`${i > 0 ? " · " : ""}<span class="fact">${fact}</span>`);
const variantMark = (job) => job.variant && html` <span class="variant-mark">· variant ${job.variant}</span>`;

/** A row mounted while the page scrolls fast (see FAST_PX_PER_MS): its title, facts, status and
 * cost as text in the same cells; no component, image or control (a third of a full row's nodes). */
function lightRow({ job, index, total, top }) {
  const status = job.status.toLowerCase();
  return html`<div class=${`job-row light status-row-${status}`} role="listitem"
      aria-posinset=${index + 1} aria-setsize=${total} style=${`transform: translateY(${top}px)`} data-job-id=${job.id}>
    <div class="c-thumb"><span class=${`thumb-box type-${job.type.toLowerCase()}`}></span></div>
    <div class="c-main"><span class="job-title">${jobTitle(job)}</span><div class="job-facts"><span class="facts-text">${factsOf(job)}</span>${variantMark(job)}</div></div>
    <div class="c-status"><span class=${`badge status-${status}`}>${label(job.status)}</span></div>
    <div class="c-cost"><span class="amount">${costOf(job).amount}</span></div>
  </div>`;
}

function jobRow({ job, viewer, index, total, top, actions, now }) {
  const cost = costOf(job);
  const title = jobTitle(job);
  return html`<div class=${`job-row status-row-${job.status.toLowerCase()}`} role="listitem"
      aria-posinset=${index + 1} aria-setsize=${total} style=${`transform: translateY(${top}px)`} data-job-id=${job.id}>
    <div class="c-thumb"><${Thumb} job=${job} onOpen=${() => actions.preview(job)} /></div>
    <div class="c-main">
      <a class="job-title" href=${`#/jobs/${job.id}`} title=${title}>${title}</a>
      <div class="job-facts"><span class="facts-text">${factsOf(job)}</span>${variantMark(job)}
        ${job.rating === "WINNER" && html` <span class="winner-mark">★ Winner</span>`}
        ${job.batchId && (job.variant || job.placement) && html` <a href=${`#/jobs?batch=${job.batchId}`} class="batch-link"
          title="Show every job of this batch" aria-label=${`Its batch: show every job of the batch of ${title.slice(0, 40)}`}>Batch</a>`}</div>
    </div>
    <div class="c-status">
      <${StatusBadge} status=${job.status} />
      ${isOpen(job) && html`<${ProgressBar} value=${job.progress} label=${`Progress of ${title.slice(0, 40)}`} />`}
      <span class="status-line">${statusLine(job, now)}</span>
    </div>
    <div class="c-cost"><span class="amount">${cost.amount}</span> <span class="note">${cost.note}</span></div>
    <div class="c-by"><span class="sr-only by-label">By </span>${submitter(job, viewer)}</div>
    <div class="c-created"><time datetime=${job.createdAt} title=${dateTime(job.createdAt)}>${relative(job.createdAt, now)}</time></div>
    <div class="c-actions"><${JobActions} job=${job} compact onDone=${actions.done} onError=${actions.error} /></div>
  </div>`;
}

const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const clock = (ms) => CLOCK.format(new Date(ms));

const SLOW_TICK_MS = 30_000; // a closed job's times ("5 min ago") move this often

/** Re-renders a row only when its job, position or viewer changed (a scroll moves the window, not
 * the rows), and on the list's clock: every second for an open job (its status line counts down),
 * every SLOW_TICK_MS for the others. A row holds no hook, timer or subscription of its own: one
 * clock for the list, so mounting a row while scrolling is only its DOM. Mounted during a fast
 * scroll it is drawn light, and completed in place (the same root element) once the scroll slows. */
class Row extends Component {
  shouldComponentUpdate(next) {
    const p = this.props;
    if (next.job !== p.job || next.top !== p.top || next.viewer !== p.viewer || next.total !== p.total
      || next.index !== p.index || next.placements !== p.placements) return true;
    if (this.light && !next.fast) return true;
    if (next.now === p.now) return false;
    return isOpen(next.job) || Math.floor(next.now / SLOW_TICK_MS) !== Math.floor(p.now / SLOW_TICK_MS);
  }

  render(props) {
    this.light = props.fast && !this.full;
    if (this.light) return lightRow(props);
    this.full = true;
    return jobRow(props);
  }
}

// ---- the preview dialog ------------------------------------------------------------------------
function Preview({ job, onClose }) {
  const ref = useRef(null);
  const inputs = useCompositeInputs(job);
  useEffect(() => {
    const dialog = ref.current;
    if (job && dialog && !dialog.open) dialog.showModal();
    if (!job && dialog?.open) dialog.close();
  }, [job]);
  return html`<dialog ref=${ref} class="preview-dialog" aria-labelledby="preview-title" onClose=${onClose}>
    ${job && html`<div class="preview-head">
        <h2 id="preview-title">${jobTitle(job)}</h2>
        <button type="button" class="close" aria-label="Close the preview" onClick=${() => ref.current.close()}>✕</button>
      </div>
      <div class=${`preview-body${inputs.length ? " with-inputs" : ""}`}>
        <div class="preview-outputs">
          ${job.outputs.map((file) => html`<figure>
            <${OutputPlayer} file=${file} />
            <figcaption>${file.name}${fileFacts(file) && ` · ${fileFacts(file)}`}</figcaption>
          </figure>`)}
        </div>
        <${CompositeInputs} inputs=${inputs} />
      </div>
      <p><a href=${`#/jobs/${job.id}`} onClick=${() => ref.current.close()}>Open the job's page</a></p>`}
  </dialog>`;
}

/** The windowed rows: a component of its own, so a scroll re-renders the list and nothing else. */
function JobList({ data, viewer, actions, placements }) {
  const rowHeight = useRowHeight();
  const listRef = useRef(null);
  const { jobs, hasNext, more, loadMore } = data;
  const [start, end, fast] = useVisibleRange(listRef, jobs.length, rowHeight);
  const now = useNow(1000); // the rows' one clock (see Row)

  // Scrolled near the end of what is loaded: read the next page.
  useEffect(() => {
    if (hasNext && !more.loading && !more.error && end >= jobs.length - LOAD_AHEAD) loadMore();
  }, [end, jobs.length, hasNext, more.loading]);

  const total = hasNext ? -1 : jobs.length;
  const rows = [];
  for (let i = start; i < Math.min(end, jobs.length); i += 1) {
    const job = jobs[i];
    rows.push(html`<${Row} key=${job.id} job=${job} viewer=${viewer} index=${i} total=${total} top=${i * rowHeight} actions=${actions} now=${now} fast=${fast} placements=${placements} />`);
  }
  return html`<div class="job-table">
    <div class="job-head" aria-hidden="true">
      <span></span><span>Job</span><span>Status</span><span>Cost</span><span>Submitted by</span><span>Created</span><span>Actions</span>
    </div>
    <div class="job-list" role="list" aria-label="Jobs, newest first" ref=${listRef}
      style=${`height: ${jobs.length * rowHeight}px`}>${rows}</div>
  </div>`;
}

// ---- the screen --------------------------------------------------------------------------------
// The batch filter's choices: the team's recent requests of several jobs (variants × placements),
// from its latest 100 jobs and the jobs on screen (a batch submitted since appears at once), and
// the batch the URL names (read on its own when it is older).
const RECENT_JOBS = `query RecentBatches { jobs(first: 100) { nodes { id batchId prompt type createdAt variant placement } } }`;
const ONE_BATCH = `query OneBatch($id: ID!) { batch(id: $id) { id createdAt counts { total } jobs { id prompt type } } }`;
const NO_BATCH = `query NoBatch { __typename }`;
const MOST_BATCHES = 20;

function useBatches(loaded, current) {
  const recent = useQuery(RECENT_JOBS, {}, []);
  const named = useQuery(current ? ONE_BATCH : NO_BATCH, current ? { id: current } : {}, [current]);
  const nodes = recent.data?.jobs.nodes || [];
  return useMemo(() => {
    const byId = new Map();
    // A full page's oldest batch may have jobs beyond it: left out rather than miscounted.
    const cut = nodes.length === 100 ? nodes[nodes.length - 1].batchId : null;
    for (const job of [...loaded, ...nodes]) {
      if (!job.batchId || !(job.variant || job.placement) || job.batchId === cut) continue;
      const batch = byId.get(job.batchId) || { id: job.batchId, jobs: new Set(), createdAt: job.createdAt, prompt: job.prompt, type: job.type };
      batch.jobs.add(job.id);
      if (job.createdAt < batch.createdAt) batch.createdAt = job.createdAt;
      byId.set(job.batchId, batch);
    }
    const list = [...byId.values()].map((b) => ({ id: b.id, createdAt: b.createdAt, prompt: b.prompt, type: b.type, count: b.jobs.size }))
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)).slice(0, MOST_BATCHES);
    const one = named.data?.batch;
    if (current && !list.some((b) => b.id === current)) {
      list.unshift(one
        ? { id: one.id, createdAt: one.createdAt, prompt: one.jobs[0]?.prompt, type: one.jobs[0]?.type, count: one.counts.total }
        : { id: current, createdAt: null, prompt: null, type: null, count: null });
    }
    return list;
  }, [loaded, nodes, named.data, current]);
}

function batchName(b) {
  if (!b.createdAt) return `Batch ${b.id.slice(0, 8)}`;
  const what = b.prompt ? `“${b.prompt.length > 36 ? `${b.prompt.slice(0, 35)}…` : b.prompt}”` : typeName(b.type);
  return `${what}${b.count ? ` · ${b.count} job${b.count === 1 ? "" : "s"}` : ""} · ${dateTime(b.createdAt)}`;
}

function Filters({ filters, loaded }) {
  const set = (key) => (e) => setFilters({ ...filters, [key]: e.currentTarget.type === "checkbox" ? (e.currentTarget.checked ? "1" : "") : e.currentTarget.value });
  const select = (key, text, values, name = label) => html`<${Field} id=${`filter-${key}`} label=${text}>
    <select id=${`filter-${key}`} value=${filters[key] || ""} onChange=${set(key)}>
      <option value="">All</option>
      ${values.map((v) => html`<option value=${v}>${name(v)}</option>`)}
    </select><//>`;
  const batches = useBatches(loaded, filters.batch || null);
  const any = Object.keys(filters).length > 0;
  return html`<form class="filters" aria-label="Filter jobs" onSubmit=${(e) => e.preventDefault()}>
    ${select("type", "Type", JOB_TYPES, typeName)}
    ${select("status", "Status", JOB_STATUSES)}
    ${select("provider", "Provider", PROVIDERS, providerName)}
    <div class="field batch-field">
      <label for="filter-batch">Batch</label>
      <select id="filter-batch" value=${filters.batch || ""} onChange=${set("batch")} aria-describedby="filter-batch-hint">
        <option value="">All</option>
        ${batches.map((b) => html`<option value=${b.id}>${batchName(b)}</option>`)}
      </select>
      <small id="filter-batch-hint" class="sr-only">The requests of several variants or placements, newest first</small>
    </div>
    ${select("rating", "Rating", ["WINNER", "LIKED", "REJECTED"])}
    <div class="field check">
      <input id="filter-mine" type="checkbox" checked=${Boolean(filters.mine)} onChange=${set("mine")} />
      <label for="filter-mine">Only mine</label>
    </div>
    ${any && html`<button type="button" class="link clear" onClick=${() => setFilters({})}>Clear filters</button>`}
  </form>`;
}

export default function Jobs({ route }) {
  const { viewer } = useApp();
  const filters = filtersOf(route.query);
  const data = useJobList(filters, viewer);
  const placements = usePlacements().list; // names the rows' placements ("In-stream")
  const [previewing, setPreviewing] = useState(null);
  const [message, setMessage] = useState(null);
  const [actionError, setActionError] = useState(null);

  const handlers = useRef({});
  handlers.current.replace = data.replace;
  const actions = useMemo(() => ({
    preview: (job) => setPreviewing(job),
    error: (error) => {
      setMessage(null);
      setActionError(error);
    },
    done: (kind, job) => {
      setActionError(null);
      if (!job) return;
      if (kind === "regenerated") {
        setMessage(html`Submitted again as a new job: <a href=${`#/jobs/${job.id}`}>${jobTitle(job).slice(0, 60)}</a>.`);
      } else {
        setMessage(kind === "canceled" ? `Canceled “${jobTitle(job).slice(0, 60)}”: ${cancelOutcome(job)}.` : job.rating === "WINNER"
          ? `Marked “${jobTitle(job).slice(0, 60)}” as a winner.` : `Cleared the winner mark of “${jobTitle(job).slice(0, 60)}”.`);
      }
      handlers.current.replace(job);
    },
  }), []);

  const filtered = Object.keys(filters).length > 0;
  const connection = useConnectionState();
  const [withCancel, cancelDialog] = useCancelDialog();

  return withCancel(html`<section class="jobs-screen" aria-labelledby="jobs-heading">
    <div class="screen-head">
      <h1 id="jobs-heading">Jobs</h1>
      <a class="button primary" href="#/new">New generation</a>
    </div>
    <${Filters} filters=${filters} loaded=${data.jobs} />
    <div class="live-msg" role="status" aria-live="polite">${message}</div>
    <${ErrorNote} error=${actionError} />
    ${data.jobs.length > 0 && (data.error || (data.stale && connection === "down"))
      ? html`<p class="notice notice-warn" role="status" data-testid="jobs-stale">
          Showing the jobs as loaded${data.stale ? ` at ${clock(data.stale.at)}` : ""}; they may be out of date.
          The list updates by itself when the connection is back.</p>`
      : html`<${ErrorNote} error=${data.error} />`}
    ${data.liveError && html`<p class="notice notice-warn">Live updates stopped: ${data.liveError.message} Reload the page to resume them.</p>`}
    ${data.initialLoading && html`<div class="job-list-skeleton" role="status" aria-live="polite">
      <span class="sr-only">Loading jobs…</span>${[0, 1, 2, 3, 4].map(() => html`<div class="skeleton-row"></div>`)}</div>`}
    ${!data.initialLoading && !data.jobs.length && !data.error && (filtered
      ? html`<${EmptyState} title="No jobs match these filters">
          <p>Jobs that match appear here as soon as they are submitted.</p>
          <button type="button" onClick=${() => setFilters({})}>Clear filters</button><//>`
      : html`<${EmptyState} title="No jobs yet">
          <p>Images, videos, avatars and voice-overs your team generates appear here, live.</p>
          <a class="button primary" href="#/new">Start a new generation</a><//>`)}
    ${data.jobs.length > 0 && html`<${JobList} data=${data} viewer=${viewer} actions=${actions} placements=${placements} />`}
    <p class="list-foot" aria-live="polite">
      ${data.jobs.length > 0 && `${data.jobs.length} job${data.jobs.length === 1 ? "" : "s"}${data.hasNext ? " loaded; more load as you scroll" : ""}.`}
      ${data.more.loading && " Loading more…"}
      ${data.more.error && html` <span class="error-inline">Could not load more: ${data.more.error.message}</span>
        <button type="button" onClick=${data.loadMore}>Try again</button>`}
    </p>
    <${Preview} job=${previewing} onClose=${() => setPreviewing(null)} />
    ${cancelDialog}
  </section>`);
}
