// What the Jobs panel and a job's page share: the job's fields, its cost and submitter in words,
// previews that fit the media, errors in plain sentences, and the actions (cancel, download,
// regenerate with the same settings, rate WINNER).
import { createContext } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, gql, payload } from "../api.js";
import { html } from "../html.js";
import { label, money, relative, showWhole } from "../ui.js";

export const OUTPUT_FIELDS = `id name kind contentType url thumbnailUrl width height durationSeconds sizeBytes`;
export const JOB_FIELDS = `id type status provider prompt settings metadata errorMessage userId version
  createdAt startedAt completedAt updatedAt batchId placement variant seed rating clientReference clientMetadata
  progress queuePosition expectedCompletionAt costCents estimatedCostCents overrunCents driveFolderId
  submittedBy { userId name email }
  outputs { ${OUTPUT_FIELDS} }`;

export const OPEN = new Set(["PENDING", "PROCESSING"]);
export const isOpen = (job) => OPEN.has(job.status);

export const JOB_TYPES = ["IMAGE", "VIDEO", "AVATAR", "TTS", "COMPOSITE"];
export const JOB_STATUSES = ["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELED"];
export const PROVIDERS = [
  "FLUX_2_PRO", "GPT_IMAGE_1_5", "GPT_IMAGE_2_6_SUNBURST", "GPT_IMAGE_2_6_FLARE", "SEEDREAM_4_5",
  "LUMA_RAY3", "RUNWAY_GEN4", "KLING_2_6", "KLING_3_0", "VEO_3_1", "HEYGEN", "ELEVENLABS", "OPENAI_TTS", "CREATOMATE",
];
const PROVIDER_NAMES = {
  FLUX_2_PRO: "FLUX.2 pro", GPT_IMAGE_1_5: "GPT Image 1.5", GPT_IMAGE_2_6_SUNBURST: "GPT Image 2.6 Sunburst",
  GPT_IMAGE_2_6_FLARE: "GPT Image 2.6 Flare", SEEDREAM_4_5: "Seedream 4.5", LUMA_RAY3: "Luma Ray3",
  RUNWAY_GEN4: "Runway Gen-4", KLING_2_6: "Kling 2.6", KLING_3_0: "Kling 3.0", VEO_3_1: "Veo 3.1",
  HEYGEN: "HeyGen", ELEVENLABS: "ElevenLabs", OPENAI_TTS: "OpenAI TTS", CREATOMATE: "Creatomate",
};
const TYPE_NAMES = { IMAGE: "Image", VIDEO: "Video", AVATAR: "Avatar video", TTS: "Voice-over", COMPOSITE: "Composite" };

// (Keys in either case: the API's usage rows name them in lower case, "tts".)
export const providerName = (p) => PROVIDER_NAMES[String(p).toUpperCase()] || label(String(p).toUpperCase());
export const typeName = (t) => TYPE_NAMES[String(t).toUpperCase()] || label(String(t).toUpperCase());

/** A job's title: its prompt or script, else what it is. */
export function jobTitle(job) {
  const text = (job.prompt || "").trim();
  if (text) return text;
  if (job.type === "COMPOSITE") return job.settings?.template_id ? `Template ${job.settings.template_id}` : "Composite render";
  return `${typeName(job.type)} job`;
}

/** The title cut to `n` characters at a word, with "…" when it was cut. */
export function shortTitle(job, n) {
  const title = jobTitle(job);
  if (title.length <= n) return title;
  const cut = title.slice(0, n);
  return `${cut.slice(0, cut.lastIndexOf(" ") > n / 2 ? cut.lastIndexOf(" ") : n).trimEnd()}…`;
}

/** Who submitted it: "You" for the viewer's own jobs, else the member's name (or their id). */
export function submitter(job, viewer) {
  if (viewer && job.userId === viewer.userId) return "You";
  const who = job.submittedBy;
  if (who) return who.name || who.email || who.userId;
  return `Member ${String(job.userId).slice(0, 8)}`;
}

/** What the job costs, in words: charged, held while open, or nothing. */
export function costOf(job) {
  if (isOpen(job)) return { amount: money(job.estimatedCostCents), note: "held" };
  if (job.status === "COMPLETED") return { amount: money(job.costCents), note: "charged" };
  if (job.costCents > 0) return { amount: money(job.costCents), note: "charged" };
  return { amount: money(0), note: "not charged" };
}

/** The live status line: queue position, expected completion, or when it ended. */
export function statusLine(job, now) {
  if (job.status === "PENDING" && job.queuePosition != null) {
    return job.queuePosition === 1 ? "Next in line at the provider" : `Number ${job.queuePosition} in line at the provider`;
  }
  if (isOpen(job)) {
    if (!job.expectedCompletionAt) return job.status === "PENDING" ? "Waiting to start" : "Working";
    const when = new Date(job.expectedCompletionAt).getTime();
    return when <= now + 2000 ? "Finishing…" : `Ready ${relative(job.expectedCompletionAt, now)}`;
  }
  if (job.completedAt) return `${label(job.status)} ${relative(job.completedAt, now)}`;
  return "";
}

// ---- errors in words a person understands ---------------------------------------------------
const ERRORS = [
  [/content moderation|blocked|sensitive/i, "The provider's safety filter refused this prompt.",
    "Reword the prompt (avoid names of real people, brands and anything graphic), then regenerate."],
  [/canceled by request before/i, "This job was canceled before the provider started it.", "Nothing was charged. Regenerate it if you still need it."],
  [/canceled by request after/i, "This job was canceled after the provider had started it.",
    "The provider bills the work it started, so the estimate was charged."],
  [/did not finish in time/i, "The provider took too long and the job was stopped.", "Nothing was charged. Try again, or pick a faster provider."],
  [/kept failing/i, "The provider was failing repeatedly while this job ran.", "Nothing was charged. Try again in a few minutes, or pick another provider."],
  [/refused the request as invalid/i, "The provider did not accept these settings.", "Nothing was charged. Check the settings (size, duration, inputs) and regenerate."],
  [/operator must fix|not configured|credentials/i, "This provider is not set up correctly on our side.", "Nothing was charged. Ask your administrator, or pick another provider."],
  [/lost the task/i, "The provider lost track of this job.", "Nothing was charged. Regenerate it."],
  [/output could not be copied/i, "The result could not be saved to Drive.", "Nothing was charged. Regenerate it."],
  [/its input .* (failed|canceled|ended)/i, "An input this job depended on did not complete, so it never ran.", "Nothing was charged. Fix the input job, then regenerate."],
  [/could not complete/i, "The provider could not make this one.", "Nothing was charged. Regenerate it, or change the prompt or provider."],
];

/** { title, advice, raw } for a failed or canceled job's errorMessage. */
export function explainError(message) {
  if (!message) return null;
  for (const [pattern, title, advice] of ERRORS) if (pattern.test(message)) return { title, advice, raw: message };
  return { title: "The job did not complete.", advice: "Regenerate it; if it fails again, contact support with the job id.", raw: message };
}

// ---- actions ---------------------------------------------------------------------------------
const CANCEL = `mutation Cancel($id: ID!) { cancelJob(id: $id) { job { ${JOB_FIELDS} } userErrors { code message field } } }`;
const RATE = `mutation Rate($id: ID!, $rating: JobRating) { rateJob(id: $id, rating: $rating) { job { ${JOB_FIELDS} } userErrors { code message field } } }`;

export async function cancelJob(job) {
  return payload((await gql(CANCEL, { id: job.id })).cancelJob).job;
}

export async function rateWinner(job, winner) {
  return payload((await gql(RATE, { id: job.id, rating: winner ? "WINNER" : null })).rateJob).job;
}

const compact = (object) => Object.fromEntries(Object.entries(object).filter(([, v]) => v != null && v !== ""));

/** The generate* mutation and input that make this job again with the same settings. A seed the
 * service picked by itself (metadata.seed_auto) is left out, so a new take gets a new seed; a
 * seed the submitter chose is kept. */
export function regenerateRequest(job) {
  const stored = job.settings || {};
  const own = { ...(stored.settings || {}) };
  if (job.metadata?.seed_auto) delete own.seed;
  const common = compact({
    provider: job.provider,
    driveFolderId: job.driveFolderId,
    settings: Object.keys(own).length ? own : null,
    clientReference: job.clientReference,
    clientMetadata: job.clientMetadata,
  });
  const ratio = stored.aspect_ratio;
  switch (job.type) {
    case "IMAGE":
      return ["generateImage", "GenerateImageInput", compact({ ...common, prompt: job.prompt, aspectRatio: ratio,
        placement: job.placement, referenceFileIds: stored.reference_file_ids })];
    case "VIDEO":
      return ["generateVideo", "GenerateVideoInput", compact({ ...common, prompt: job.prompt, aspectRatio: ratio,
        placement: job.placement, durationSeconds: stored.duration_seconds, imageFileId: stored.image_file_id,
        allowLongerThanPlacement: job.placement ? true : null })];
    case "AVATAR":
      return ["generateAvatar", "GenerateAvatarInput", compact({ ...common, script: job.prompt, aspectRatio: ratio,
        placement: job.placement, avatarId: stored.avatar_id, voiceId: stored.voice_id, portraitFileId: stored.portrait_file_id })];
    case "TTS":
      return ["generateTts", "GenerateTtsInput", compact({ ...common, text: job.prompt, voiceId: stored.voice_id })];
    case "COMPOSITE":
      return ["generateComposite", "GenerateCompositeInput", compact({ ...common, prompt: job.prompt,
        templateId: stored.template_id, source: stored.source, modifications: stored.modifications,
        inputs: (stored.inputs || []).map((i) => ({ name: i.name, fileId: i.file_id })) })];
    default:
      throw new ApiError(`A ${job.type} job cannot be made again from here.`);
  }
}

/** Submit the same request again; resolves to the new job. */
export async function regenerate(job) {
  const [field, type, input] = regenerateRequest(job);
  const query = `mutation Regenerate($input: ${type}!) { ${field}(input: $input) { job { ${JOB_FIELDS} } userErrors { code message field } } }`;
  return payload((await gql(query, { input }))[field]).job;
}

/** An action button's state: busy while it runs, its error kept for the caller to show. */
export function useAction(onError) {
  const [busy, setBusy] = useState(null);
  const run = async (name, fn) => {
    setBusy(name);
    try {
      return await fn();
    } catch (error) {
      onError(error);
      return null;
    } finally {
      setBusy(null);
    }
  };
  return [busy, run];
}

/** The most canceling may cost now: nothing while the job waits for its provider (PENDING). Once
 * PROCESSING it may have reached the provider — the API charges only once a run has claimed the
 * submission or the provider gave a task id, which the job does not show — and then cancelJob
 * charges the job's estimate (its hold: the API's cancelAfterSubmitCents). So "up to", not "will". */
export function cancelCostCents(job) {
  return job.status === "PROCESSING" ? job.estimatedCostCents || 0 : 0;
}

/** What a cancel came to, from the canceled job: "$3.20 charged" or "nothing charged". */
export function cancelOutcome(job) {
  return job.costCents > 0 ? `${money(job.costCents)} charged` : "nothing charged";
}

// The screen's one cancel dialog (useCancelDialog), reached by each JobActions through this context:
// not inside a row, so it stays open when its row scrolls out of the windowed list or the job
// re-renders, and focus goes back to the job's Cancel button (or a sensible place) when it closes.
const CancelAsk = createContext(null);

/** The Jobs panel's and a job page's cancel dialog: [Provider-wrapping function, the dialog]. A
 * screen renders `wrap(children)` and the dialog once, at its own level. */
export function useCancelDialog() {
  const [asking, setAsking] = useState(null); // { job, confirm }
  const ask = useCallback((job, confirm) => setAsking({ job, confirm }), []);
  const wrap = (children) => html`<${CancelAsk.Provider} value=${ask}>${children}<//>`;
  return [wrap, html`<${CancelConfirm} asking=${asking} onClosed=${() => setAsking(null)} />`];
}

/** Where focus goes when the dialog closes: the job's Cancel button if it is still there and
 * usable, else its row's title (the job canceled, the button gone), else the screen's main. */
function focusBack(jobId) {
  const id = CSS.escape(jobId);
  const target = document.querySelector(`button[data-cancel-job="${id}"]:not(:disabled)`)
    || document.querySelector(`[data-job-id="${id}"] a.job-title`) || document.getElementById("main");
  target?.focus({ preventScroll: true });
}

/** Asks before a cancel that costs money: what it will charge, "Keep it running" focused (Escape). */
function CancelConfirm({ asking, onClosed }) {
  const ref = useRef(null);
  const keep = useRef(null);
  const confirmed = useRef(false);
  const job = asking?.job;
  useEffect(() => {
    const dialog = ref.current;
    if (job && dialog && !dialog.open) {
      confirmed.current = false;
      dialog.showModal();
      keep.current?.focus();
    }
    if (!job && dialog?.open) dialog.close();
  }, [asking]);
  const closed = () => {
    const { job: was, confirm } = asking || {};
    onClosed();
    if (confirmed.current && confirm) confirm();
    if (was) requestAnimationFrame(() => focusBack(was.id));
  };
  const cost = job ? money(cancelCostCents(job)) : "";
  return html`<dialog ref=${ref} class="confirm-dialog" aria-labelledby="cancel-confirm-h" aria-describedby="cancel-confirm-d"
      onClose=${closed} data-testid="cancel-dialog">
    ${job && html`<h2 id="cancel-confirm-h">Cancel this job?</h2>
    <p id="cancel-confirm-d">“${shortTitle(job, 90)}” is processing. If it has reached the provider, which bills the
      work it started, canceling charges up to ${cost}; if not yet, nothing. Letting it finish costs no more and
      gives you the result.</p>
    <div class="confirm-actions">
      <button type="button" ref=${keep} onClick=${() => ref.current.close()}>Keep it running</button>
      <button type="button" class="danger" onClick=${() => { confirmed.current = true; ref.current.close(); }}>Cancel anyway — up to ${cost} may be charged</button>
    </div>`}
  </dialog>`;
}

/** Cancel / Download / Regenerate / Winner for one job. onDone(kind, job) after each success. A
 * cancel that costs money asks first (the screen's CancelConfirm, useCancelDialog); a free one is
 * one click. */
export function JobActions({ job, onDone, onError, compact: small = false }) {
  const [busy, run] = useAction(onError);
  const ask = useContext(CancelAsk);
  const output = job.outputs?.[0];
  const name = jobTitle(job).slice(0, 40);
  const winner = job.rating === "WINNER";
  const doCancel = () => run("cancel", async () => onDone("canceled", await cancelJob(job)));
  const costly = cancelCostCents(job) > 0;
  return html`<div class=${`job-actions${small ? " small" : ""}`}>
    ${isOpen(job) && html`<button type="button" class="danger" disabled=${busy} data-cancel-job=${job.id}
      aria-label=${`Cancel job ${name}`} aria-haspopup=${costly ? "dialog" : null}
      title=${costly ? `Cancel: up to ${money(cancelCostCents(job))} may be charged if the provider already has it` : "Cancel: free before the provider starts it"}
      onClick=${() => (costly && ask ? ask(job, doCancel) : doCancel())}>
      ${busy === "cancel" ? "Canceling…" : "Cancel"}</button>`}
    ${output && html`<a class="button" href=${output.url} download=${output.name}
      aria-label=${`Download ${output.name}`}>Download</a>`}
    ${!isOpen(job) && html`<button type="button" disabled=${busy} aria-label=${`Regenerate ${name} with the same settings`}
      title="Make it again with the same settings"
      onClick=${() => run("regenerate", async () => onDone("regenerated", await regenerate(job)))}>
      ${busy === "regenerate" ? "Submitting…" : "Regenerate"}</button>`}
    ${job.status === "COMPLETED" && html`<button type="button" class=${`winner${winner ? " on" : ""}`}
      aria-pressed=${winner ? "true" : "false"} disabled=${busy} aria-label=${`Winner: ${name}`}
      title=${winner ? "Marked as a winner; click to clear" : "Mark as a winner"}
      onClick=${() => run("rate", async () => onDone("rated", await rateWinner(job, !winner)))}>
      <span aria-hidden="true">${winner ? "★" : "☆"}</span> Winner</button>`}
  </div>`;
}

// ---- previews ----------------------------------------------------------------------------------
const ICONS = { AUDIO: "♪", VIDEO: "▶", IMAGE: "▣" };
const TYPE_ICONS = { IMAGE: "▣", VIDEO: "▶", AVATAR: "☺", TTS: "♪", COMPOSITE: "◫" };

/** The small square in a row: a thumbnail (a video's poster frame with a play mark), an audio mark,
 * or a placeholder while the job runs. */
export function Thumb({ job, onOpen }) {
  const output = job.outputs?.[0];
  const kind = output?.kind;
  const inner = output?.thumbnailUrl
    ? html`<img src=${output.thumbnailUrl} alt="" loading="lazy" decoding="async" width="64" height="64" />`
    : html`<span class="thumb-icon" aria-hidden="true">${kind ? ICONS[kind] : TYPE_ICONS[job.type] || "•"}</span>`;
  if (!output) return html`<span class=${`thumb-box type-${job.type.toLowerCase()}`}>${inner}</span>`;
  return html`<button type="button" class=${`thumb-box type-${job.type.toLowerCase()}`} onClick=${onOpen}
    aria-label=${`Preview ${output.name}`}>${inner}${kind === "VIDEO" && html`<span class="play" aria-hidden="true">▶</span>`}</button>`;
}

/** The full player that fits the media: an image, a video that plays and seeks, an audio player. */
export function OutputPlayer({ file, autoFocus = false }) {
  if (file.kind === "IMAGE") {
    return html`<a href=${file.url} target="_blank" rel="noopener" class="player-link">
      <img class="media preview-image" src=${file.url} alt=${file.name} width=${file.width} height=${file.height} /></a>`;
  }
  if (file.kind === "VIDEO") {
    return html`<video class="media preview-video" controls playsinline preload="metadata" poster=${file.thumbnailUrl}
      src=${file.url} width=${file.width} height=${file.height} aria-label=${`Video ${file.name}`} autofocus=${autoFocus}></video>`;
  }
  return html`<div class="audio-player">
    <span class="audio-mark" aria-hidden="true">♪</span>
    <audio class="preview-audio" controls preload="metadata" src=${file.url} aria-label=${`Audio ${file.name}`}></audio>
  </div>`;
}

export function fileFacts(file) {
  const parts = [];
  if (file.width && file.height) parts.push(`${file.width}×${file.height}`);
  if (file.durationSeconds) parts.push(`${file.durationSeconds.toFixed(1)} s`);
  return parts.join(" · ");
}

const INPUT_FILES = (ids) => `query Inputs { ${ids.map((id, i) => `f${i}: driveFile(id: ${JSON.stringify(id)}) { ${OUTPUT_FIELDS} }`).join(" ")} }`;

/** A composite's input files (settings.inputs), looked up in Drive. */
export function useCompositeInputs(job) {
  const inputs = job?.type === "COMPOSITE" ? job.settings?.inputs || [] : [];
  const key = inputs.map((i) => i.file_id).join(",");
  const [files, setFiles] = useState([]);
  useEffect(() => {
    if (!inputs.length) return setFiles([]);
    let current = true;
    gql(INPUT_FILES(inputs.map((i) => i.file_id))).then(
      (data) => current && setFiles(inputs.map((input, i) => ({ name: input.name, file: data[`f${i}`] }))),
      () => current && setFiles(inputs.map((input) => ({ name: input.name, file: null }))),
    );
    return () => {
      current = false;
    };
  }, [key]);
  return files;
}

/** A composite's element names (settings.inputs[].name) as people say them. */
const ELEMENT_NAMES = { video: "Video", voiceover: "Voice-over", audio: "Audio", background: "Background", logo: "Logo", image: "Image", music: "Music" };
export const elementName = (name) => ELEMENT_NAMES[String(name).toLowerCase()] || label(name);

/** An input's small picture: its thumbnail, the image itself, a video's first frame, or its kind's mark. */
function InputThumb({ file }) {
  if (file?.thumbnailUrl || file?.kind === "IMAGE") {
    return html`<img class=${showWhole(file) ? "whole" : null} src=${file.thumbnailUrl || file.url} alt="" width="56" height="56" />`;
  }
  if (file?.kind === "VIDEO") {
    // No thumbnail stored: the video's own first frame (only its metadata and first frame are fetched).
    return html`<video class="input-frame" src=${`${file.url}#t=0.1`} preload="metadata" muted playsinline width="56" height="56"
      aria-hidden="true" tabindex="-1"></video>`;
  }
  return html`<span class="thumb-icon small" aria-hidden="true">${file ? ICONS[file.kind] : "?"}</span>`;
}

/** A composite's inputs, small, each with the element it fills. */
export function CompositeInputs({ inputs }) {
  if (!inputs.length) return null;
  return html`<div class="composite-inputs">
    <h3>Inputs</h3>
    <ul>
      ${inputs.map(({ name, file }) => html`<li>
        <${InputThumb} file=${file} />
        <span class="input-text"><strong>${elementName(name)}</strong><br /><small>${file ? file.name : "no longer in Drive"}</small></span>
        ${file?.kind === "AUDIO" && html`<audio controls preload="metadata" src=${file.url} aria-label=${`Audio input: ${elementName(name)}`}></audio>`}
      </li>`)}
    </ul>
  </div>`;
}
