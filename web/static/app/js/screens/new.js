// New generation (#/new, #/new/<kind>?input=<fileId>): a form per job type and per recipe, with
// the provider guide, placements, variants, seed, Drive inputs (picked or uploaded on the spot),
// voice and avatar pickers and a live estimate; submit → the Jobs panel, or what was made.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, gql, useSubscription } from "../api.js";
import { useApp } from "../context.js";
import { DriveInput, readFile } from "../drive/picker.js";
import { html } from "../html.js";
import { kindOf, KINDS, LOCALES, providerName } from "../new/catalog.js";
import { placementOf, providerFor, usePlacements } from "../new/placements.js";
import {
  asVariables, createCreatives, estimateRequest, generateMutation, initialState, INPUTS, MUTATIONS, newNonce, prefill, recipeInputs,
  withKeys,
} from "../new/build.js";
import {
  AvatarPicker, defaultProvider, EstimatePanel, PlacementPicker, ProviderGuide, refusalOf, useEstimate, useMyCaps,
  useProviders, useVideoRates, VariantsField, VoicePicker,
} from "../new/parts.js";
import { forPeople, stepName, typeWord } from "../new/words.js";
import { go, Notice, StatusBadge } from "../ui.js";

function Chooser() {
  const card = (k) => html`<li><a class="kind-card" href=${`#/new/${k.id}`}>
    <span class="kind-icon" aria-hidden="true">${k.icon}</span>
    <span class="kind-title">${k.title}</span>
    <span class="kind-blurb">${k.blurb}</span>
  </a></li>`;
  return html`<div class="new-chooser">
    <h1>New generation</h1>
    <p class="lead">What do you want to make? Every form shows the providers side by side and the cost before you submit.</p>
    <h2>One type</h2>
    <ul class="kind-grid" role="list">${KINDS.filter((k) => !k.recipe).map(card)}</ul>
    <h2>Recipes <small class="hint">several jobs, one request</small></h2>
    <ul class="kind-grid" role="list">${KINDS.filter((k) => k.recipe).map(card)}</ul>
  </div>`;
}

/** A labelled text control with its field error (data-field: where userErrors land). */
function TextField({ id, field = id, label, hint, error, value, onInput, multiline = false, max, optional = false, ...rest }) {
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ") || null;
  const common = { id, value, "aria-describedby": describedBy, "aria-invalid": error ? "true" : null, onInput: (e) => onInput(e.currentTarget.value), ...rest };
  return html`<div class=${`field${error ? " has-error" : ""}`} data-field=${field}>
    <label for=${id}>${label}${optional ? html` <span class="optional">(optional)</span>` : null}</label>
    ${multiline ? html`<textarea ...${common}></textarea>` : html`<input ...${common} />`}
    ${hint || max ? html`<small id=${`${id}-hint`} class="hint">${hint}${max ? html`<span class="count">${(value || "").length.toLocaleString()} / ${max.toLocaleString()}</span>` : null}</small>` : null}
    ${error ? html`<small class="field-error" id=${`${id}-error`}>${error}</small>` : null}
  </div>`;
}

function SelectField({ id, field = id, label, hint, error, value, onChange, options }) {
  return html`<div class=${`field${error ? " has-error" : ""}`} data-field=${field}>
    <label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(e) => onChange(e.currentTarget.value)} aria-describedby=${hint ? `${id}-hint` : null}>
      ${options.map(([v, text]) => html`<option value=${v}>${text}</option>`)}
    </select>
    ${hint ? html`<small id=${`${id}-hint`} class="hint">${hint}</small>` : null}
    ${error ? html`<small class="field-error">${error}</small>` : null}
  </div>`;
}

const STRIP = new Set(["input", "videoWithVoiceover", "imageWithLogo", "localizedAvatar"]);

/** A userError's field path → the form's data-field it belongs to (the longest that exists). */
function fieldKey(path, form) {
  const parts = (path || []).filter((p) => !STRIP.has(p));
  for (let n = parts.length; n > 0; n -= 1) {
    const key = parts.slice(0, n).join(".");
    if (form?.querySelector(`[data-field="${CSS.escape(key)}"]`)) return key;
  }
  const last = parts.filter((p) => !/^\d+$/.test(p)).pop();
  if (last && form?.querySelector(`[data-field="${CSS.escape(last)}"]`)) return last;
  return null;
}

function focusField(form, key) {
  const box = form?.querySelector(`[data-field="${CSS.escape(key)}"]`);
  const control = box?.querySelector("input[type=radio]:checked")
    || box?.querySelector("input:not([type=hidden]):not(:disabled), select, textarea, button") || box;
  control?.focus();
  box?.scrollIntoView({ block: "center" });
}

/** The words a field is labelled with (its label or legend, without "(optional)"). */
function fieldLabel(form, key) {
  const box = form?.querySelector(`[data-field="${CSS.escape(key)}"]`);
  const text = box?.querySelector("label, legend")?.textContent || "";
  return text.replace(/\(optional\)/, "").replace(/\s+/g, " ").trim() || null;
}

/** Why Generate is off, beside it (the button's description): the form's words and the ways out. */
function SubmitBlocked({ refusal, checking, form }) {
  if (!refusal) return null;
  const key = refusal.ways.length ? null : fieldKey(refusal.field, form);
  const named = key && fieldLabel(form, key);
  const ways = key ? [{ text: named ? `Change “${named}”` : "Go to the field", field: key }] : refusal.ways;
  const testid = { estimate: "estimate-error", cap: "estimate-cap", balance: "estimate-balance" }[refusal.source];
  return html`<div class=${`submit-blocked${checking ? " checking" : ""}`} id="submit-blocked" data-testid="submit-blocked">
    <p class="estimate-error" data-testid=${testid}>${refusal.message}</p>
    ${refusal.detail ? html`<p class="hint">${refusal.detail}</p>` : null}
    ${ways.length ? html`<ul class="ways" aria-label="Ways out">${ways.map((w) => html`<li>${w.href
      ? html`<a href=${w.href}>${w.text}</a>`
      : html`<button type="button" class="link" onClick=${() => focusField(form, w.field)}>${w.text}</button>`}</li>`)}</ul>` : null}
    ${checking ? html`<p class="hint" role="status">Checking your change…</p>` : null}
  </div>`;
}

/** One creative a recipe made: its jobs, live (creativeUpdated). */
function CreativeMade({ made }) {
  const [creative, setCreative] = useState(made.creative);
  useSubscription(
    `subscription Creative($id: ID!) { creativeUpdated(id: $id) { id status nodes { key job { id type provider status } } } }`,
    { id: made.creative.id },
    (data) => setCreative((c) => ({ ...c, ...data.creativeUpdated })),
    [made.creative.id],
  );
  const place = made.placement && placementOf(made.placement);
  return html`<div class="creative-made" data-testid="creative-made">
    ${place ? html`<h3>${place.name} <small class="hint">${place.aspectRatio}</small></h3>` : null}
    <p>${place ? "Ad" : "Creative"} accepted: its jobs start as their inputs are ready. <${StatusBadge} status=${creative.status} /></p>
    <table class="submitted-jobs"><thead><tr><th>Step</th><th>Type</th><th>Provider</th><th>Status</th></tr></thead><tbody>
      ${creative.nodes.map((n) => html`<tr><td><a href=${`#/jobs/${n.job.id}`}>${stepName(n.key)}</a></td><td>${typeWord(n.job.type)}</td><td>${providerName(n.job.provider)}</td><td><${StatusBadge} status=${n.job.status} /></td></tr>`)}
    </tbody></table>
  </div>`;
}

function Submitted({ result, onAgain }) {
  const warnings = result.warnings || [];
  const creatives = result.creatives || [];
  return html`<section class="card submitted" aria-labelledby="submitted-title" tabindex="-1" id="submitted">
    <h2 id="submitted-title">Submitted</h2>
    ${result.batchId ? html`<p>${result.jobs.length} job${result.jobs.length > 1 ? "s" : ""} accepted in one batch.</p>` : null}
    ${creatives.length > 1 ? html`<p>${creatives.length} ads accepted, one per placement.</p>` : null}
    ${warnings.map((w) => html`<${Notice} kind="warn"><strong>${w.title}:</strong> ${w.message}<//>`)}
    ${creatives.map((made) => html`<${CreativeMade} key=${made.creative.id} made=${made} />`)}
    <div class="actions">
      <a class="button primary" href=${result.batchId ? `#/jobs?batch=${result.batchId}` : "#/jobs"}>Open the Jobs panel</a>
      <button type="button" onClick=${onAgain}>Make another</button>
    </div>
  </section>`;
}

function ModelNotice({ info }) {
  if (!info || info.lifecycle === "ACTIVE") return null;
  const successor = info.successor ? providerName(info.successor) : info.successorModel;
  const day = new Date(info.shutdownDate).toLocaleDateString(undefined, { dateStyle: "medium" });
  return html`<${Notice} kind="warn">${info.lifecycle === "SHUT_DOWN"
    ? html`<strong>${providerName(info.provider)} was shut down on ${day}.</strong> ${successor ? `Jobs run on ${successor} instead.` : "Jobs are refused: pick another provider."}`
    : html`<strong>${providerName(info.provider)} shuts down on ${day}.</strong> ${successor ? `Its successor is ${successor}; switch before then.` : "Switch to another provider before then."}`}<//>`;
}

/** The text a form cannot go without, checked before sending: a blank one would otherwise come back
 *  as a GraphQL variable error ("Expected value of type … to include required field"). */
function blankText(kind, s) {
  const need = {
    image: [["prompt", ["prompt"], "Write a prompt: describe the image to make."]],
    video: [["prompt", ["prompt"], "Write a prompt: describe the video to make."]],
    avatar: [["script", ["script"], "Write the script: what the avatar says."]],
    tts: [["text", ["text"], "Write the text to read."]],
    "video-voiceover": [
      ["prompt", ["video", "prompt"], "Write the video's prompt: describe what it shows."],
      ["voText", ["voiceover", "text"], "Write the narration: the text the voice-over reads."],
    ],
    "image-logo": [["prompt", ["image", "prompt"], "Write a prompt: describe the image under the logo."]],
    "localized-avatar": [["script", ["script"], "Write the script: what the avatar says."]],
  }[kind] || [];
  return need.filter(([key]) => !String(s[key] || "").trim()).map(([, field, message]) => ({ field, message }));
}

function Form({ kind, query }) {
  const meta = kindOf(kind);
  const { balance } = useApp();
  const caps = useMyCaps(balance);
  const [s, setS] = useState(() => initialState(kind));
  const [errors, setErrors] = useState({ list: [], byKey: {}, title: null });
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const formRef = useRef(null);
  const summaryRef = useRef(null);
  const set = (key) => (value) => setS((prev) => ({ ...prev, [key]: value }));
  const type = meta.type;
  const providers = useProviders(type);
  const ttsProviders = useProviders(kind === "video-voiceover" ? "TTS" : null);
  const info = providers.list.find((p) => p.provider === s.provider);
  const ttsInfo = ttsProviders.list.find((p) => p.provider === s.ttsProvider);

  // Until the user picks a provider, the form uses the default, or — when the default cannot make
  // a placement ticked (Runway Gen-4 makes no square from text) — the provider generate* itself
  // would use, saying so beside the guide.
  const placementTable = usePlacements();
  const [switched, setSwitched] = useState(null);
  useEffect(() => {
    if (s.providerPicked || !providers.list.length) return;
    const fallback = defaultProvider(providers.list);
    const { provider, instead } = providerFor(providers.list, s.placements, fallback, { withImage: Boolean(s.startImage), video: type === "VIDEO" });
    setSwitched(instead ? { from: fallback, to: provider, placement: instead } : null);
    if (provider !== s.provider) set("provider")(provider);
  }, [providers.data, placementTable.list, s.placements.join(), Boolean(s.startImage), s.providerPicked, s.provider]);
  const pickProvider = (provider) => {
    setSwitched(null);
    setS((prev) => ({ ...prev, provider, providerPicked: true }));
  };
  useEffect(() => {
    if (kind === "video-voiceover" && !s.ttsProvider && ttsProviders.list.length) {
      set("ttsProvider")(defaultProvider(ttsProviders.list));
    }
  }, [ttsProviders.data]);
  useEffect(() => {
    const id = query.get("input");
    if (id) readFile(id).then((file) => file && setS((prev) => ({ ...prev, ...prefill(kind, file) })));
  }, []);

  const videoRates = useVideoRates(providers.list, Boolean(s.startImage), type === "VIDEO");
  const estimate = useEstimate(() => estimateRequest(kind, type, s, info, providerName), JSON.stringify([s, info?.provider]));
  // Impossible as set (the estimate's refusal, the credits, a spend cap): Generate is off, with why.
  // Only on an answer for the form as it stands: while an estimate is on its way, or when none came
  // (offline), the button stays on and the submission's answer decides.
  const refusal = refusalOf({ estimate, balance, caps, provider: s.provider, startImage: s.startImage, placements: s.placements, providers: providers.list });
  const blocked = Boolean(refusal) && !estimate.loading;
  const err = (key) => errors.byKey[key];
  const clearErrors = () => errors.list.length && setErrors({ list: [], byKey: {} });

  function showErrors(userErrors, title = "The request was not accepted") {
    const form = formRef.current;
    const list = userErrors.map((e) => ({ ...e, message: forPeople(e.message), key: fieldKey(e.field, form) }));
    const byKey = {};
    for (const e of list) if (e.key && !byKey[e.key]) byKey[e.key] = e.message;
    setErrors({ list, byKey, title });
    requestAnimationFrame(() => summaryRef.current?.focus());
  }

  // One idempotency nonce per attempt at a request: kept while the form asks the same (the same
  // inputs), so "submit again" after no answer or a fault sends the same keys and the API answers
  // what it already made (held once) instead of making it again; a changed form, or a submission
  // that was answered, starts a new one (the next one is a new request, made anew).
  const attempt = useRef(null); // { sent: JSON of the inputs, nonce }
  function nonceOf(inputs) {
    const sent = JSON.stringify(inputs);
    if (attempt.current?.sent !== sent) attempt.current = { sent, nonce: newNonce() };
    return attempt.current.nonce;
  }

  async function submit(event) {
    event.preventDefault();
    if (blocked) return showErrors([{ message: refusal.message, field: refusal.field }], "Not possible as set");
    setBusy(true);
    clearErrors();
    try {
      const blank = blankText(kind, s);
      if (blank.length) return showErrors(blank, "Something is missing");
      if (kind in INPUTS) {
        // one key for the request: the API answers the same batch to the same key and input
        const input = INPUTS[kind](s, info);
        const data = await gql(generateMutation(kind), { input: { ...input, idempotencyKey: nonceOf(input) } });
        const out = data[MUTATIONS[kind]];
        if (out.userErrors.length) return showErrors(out.userErrors);
        attempt.current = null;
        const warnings = [
          ...out.warnings.map((w) => ({ title: w.code === "MODEL_REPLACED" ? "Model replaced" : "Model shutting down", message: forPeople(w.message) })),
          ...out.placementWarnings.map((w) => ({ title: `${placementOf(w.placement)?.name || "Placement"}: ${w.requested} → ${w.chosen}`, message: forPeople(w.message) })),
        ];
        if (!warnings.length) return go(`/jobs?batch=${out.batch.id}`);
        setResult({ batchId: out.batch.id, jobs: out.jobs, warnings });
      } else {
        const asked = recipeInputs(kind, s);
        const items = withKeys(asked, nonceOf(asked));
        const data = await gql(createCreatives(items.length), asVariables(items));
        const answers = items.map((item, i) => ({ placement: item.placement, ...data[`c${i}`] }));
        const made = answers.filter((a) => !a.userErrors.length);
        const named = (a) => (items.length > 1 ? `${placementOf(a.placement)?.name || a.placement}: ` : "");
        const refused = answers.flatMap((a) => a.userErrors.map((e) => ({ ...e, message: named(a) + e.message })));
        if (!made.length) return showErrors(refused);
        attempt.current = null;
        setResult({
          creatives: made.map((a) => ({ placement: items.length > 1 ? a.placement : null, creative: a.creative })),
          warnings: refused.map((e) => ({ title: "Not made", message: forPeople(e.message) })),
        });
      }
      requestAnimationFrame(() => document.getElementById("submitted")?.focus());
    } catch (error) {
      // Resent unchanged, the same idempotency keys: what the service already made is answered, not
      // made again (and held once); only what it did not make is made.
      const safe = "Submit again without changing the form: anything already made is returned, not made or charged twice.";
      const several = !(kind in INPUTS) && recipeInputs(kind, s).length > 1;
      // No answer (offline, or the connection dropped): the request may or may not have arrived.
      if (error instanceof ApiError && !error.status && !error.code) {
        return showErrors([{ message: `No answer came from the service: the request may not have arrived, or it may have been made. Check your connection. ${safe}`, field: null }], "No answer");
      }
      // A fault (the API answered errors, no data): some of several ads may be made and held already.
      if (error instanceof ApiError && !error.code) {
        const made = several ? "Some of the ads may already have been made." : "It may have been made before the error.";
        return showErrors([{ message: `${error.message.replace(/\.?$/, ".")} ${made} ${safe}`, field: null }], "The request failed");
      }
      showErrors([{ message: error.message, field: error.path || null }]);
    } finally {
      setBusy(false);
    }
  }

  if (result) {
    return html`<${Header} meta=${meta} /><${Submitted} result=${result} onAgain=${() => { setResult(null); setS(initialState(kind)); }} />`;
  }

  const isVideo = type === "VIDEO";
  const perAd = Boolean(meta.recipe);
  const ratios = info?.aspectRatios || [];
  const durations = info?.durationsSeconds || [];
  const longer = isVideo && s.placements.length && s.durationSeconds && PlacementsLonger(s);

  return html`<${Header} meta=${meta} />
  <div class="new-layout">
    <form id="new-form" ref=${formRef} class="new-form" onSubmit=${submit} novalidate onInput=${clearErrors}>
      ${errors.list.length ? html`<div class="error-summary" role="alert" tabindex="-1" ref=${summaryRef} data-testid="error-summary">
        <h2>${errors.title}</h2>
        <ul>${errors.list.map((e) => html`<li>${e.key
          ? html`<a href="#" onClick=${(ev) => { ev.preventDefault(); focusField(formRef.current, e.key); }}>${e.message}</a>`
          : e.message}</li>`)}</ul>
      </div>` : null}

      ${kind === "image" || kind === "video" || kind === "image-logo" || kind === "video-voiceover" ? html`
        <section class="card"><h2>${kind === "video-voiceover" ? "The video" : "What to make"}</h2>
          <${TextField} id="prompt" field=${meta.recipe ? `${type.toLowerCase()}.prompt` : "prompt"} label="Prompt" multiline
            value=${s.prompt} onInput=${set("prompt")} error=${err(meta.recipe ? `${type.toLowerCase()}.prompt` : "prompt")} max=${info?.maxTextCharacters}
            hint="Describe the subject, setting, light and style. " required />
          ${kind === "image" ? html`<${DriveInput} id="reference" kind="IMAGE" value=${s.reference} onChange=${set("reference")}
              label="Reference image" error=${err("referenceFileIds")} hint=${info?.referenceImages ? "Guides composition and style." : `${providerName(s.provider)} takes no reference images.`} />` : null}
          ${isVideo ? html`<${DriveInput} id="startImage" kind="IMAGE" value=${s.startImage} onChange=${set("startImage")}
              label="Start image (image-to-video)" error=${err("imageFileId") || err("video.imageFileId")} hint="The video's first frame." />` : null}
          ${kind === "image-logo" ? html`<${DriveInput} id="logoFileId" kind="IMAGE" value=${s.logo} onChange=${set("logo")} optional=${false}
              label="Logo" error=${err("logoFileId")} hint="A PNG with transparency is best; placed at the bottom right." />` : null}
        </section>` : null}

      ${kind === "avatar" || kind === "localized-avatar" ? html`
        <section class="card"><h2>The script</h2>
          <${TextField} id="script" label="Script" multiline
            value=${s.script} onInput=${set("script")} error=${err("script")} max=${info?.maxTextCharacters}
            hint=${kind === "localized-avatar" ? "Read in every language that has no translation of its own (below). " : "What the avatar says. "} />
        </section>` : null}

      ${kind === "tts" ? html`
        <section class="card"><h2>The text</h2>
          <${TextField} id="text" label="Text to read" multiline value=${s.text} onInput=${set("text")} error=${err("text")}
            max=${info?.maxTextCharacters} hint="Charged per character. " />
        </section>` : null}

      ${kind === "composite" ? html`
        <section class="card"><h2>Layout</h2>
          <p class="hint">Your media from Drive, composed by ${providerName("CREATOMATE")}: the background fills the frame, the logo sits bottom right, the headline at the top.</p>
          <${DriveInput} id="background" kind=${null} value=${s.background} onChange=${set("background")} optional=${false}
            label="Background (an image or a video)" hint="A video background makes a video as long as it." error=${err("inputs") || err("source")} />
          <${DriveInput} id="logo" kind="IMAGE" value=${s.logo} onChange=${set("logo")} label="Logo" />
          <${DriveInput} id="audio" kind="AUDIO" value=${s.audio} onChange=${set("audio")} label="Audio (voice-over or music)" hint="With audio the result is a video as long as the audio." />
          <${TextField} id="headline" label="Headline" value=${s.headline} onInput=${set("headline")} optional error=${err("modifications")} />
          <${SelectField} id="aspectRatio" label="Format" value=${s.aspectRatio} onChange=${set("aspectRatio")}
            options=${[["1:1", "Square 1:1 (feed)"], ["4:5", "Portrait 4:5 (poster)"], ["9:16", "Vertical 9:16 (story, reels)"], ["16:9", "Wide 16:9 (in-stream)"]]} />
        </section>` : null}

      ${kind !== "composite" && kind !== "localized-avatar" ? html`<section class="card">
        <${ProviderGuide} id="provider" providers=${providers} value=${s.provider} onChange=${pickProvider} rates=${type === "VIDEO" ? videoRates : null}
          legend=${kind === "video-voiceover" ? "Video provider" : "Provider"} error=${err("provider") || err("video.provider") || err("image.provider")} />
        ${switched && html`<p class="notice provider-switched" role="status">${providerName(switched.from)} (the default) cannot make
          ${" "}${switched.placement.name} ${switched.placement.aspectRatio}${type === "VIDEO" && !s.startImage ? " from text" : ""}, so ${providerName(switched.to)} is used.
          ${" "}Pick another provider above if you prefer.</p>`}
        <${ModelNotice} info=${info} />
      </section>` : null}

      ${kind === "avatar" || kind === "localized-avatar" ? html`<section class="card">
        ${kind === "avatar" ? html`<div class="segmented" role="radiogroup" aria-label="Who speaks">
          <label><input type="radio" name="avatarSource" checked=${s.avatarSource === "library"} onChange=${() => set("avatarSource")("library")} /> An avatar of the library</label>
          <label><input type="radio" name="avatarSource" checked=${s.avatarSource === "portrait"} onChange=${() => set("avatarSource")("portrait")} /> A portrait from Drive</label>
        </div>` : null}
        ${kind === "avatar" && s.avatarSource === "portrait"
          ? html`<${DriveInput} id="portraitFileId" kind="IMAGE" value=${s.portrait} onChange=${set("portrait")} optional=${false}
              label="Portrait" error=${err("portraitFileId")} hint="A PNG or JPEG of one face, looking at the camera." />`
          : html`<${AvatarPicker} value=${s.avatar?.id} error=${err("avatarId")} onChange=${(a) => setS((p) => ({ ...p, avatar: a, voiceId: kind === "avatar" && a.defaultVoiceId ? a.defaultVoiceId : p.voiceId }))} />`}
      </section>` : null}

      ${kind === "avatar" ? html`<section class="card"><${VoicePicker} provider="HEYGEN" value=${s.voiceId} onChange=${set("voiceId")} error=${err("voiceId")} /></section>` : null}
      ${kind === "tts" && s.provider ? html`<section class="card"><${VoicePicker} provider=${s.provider} value=${s.voiceId} onChange=${set("voiceId")} error=${err("voiceId")} /></section>` : null}

      ${kind === "video-voiceover" ? html`<section class="card"><h2>The voice-over</h2>
        <${TextField} id="voText" field="voiceover.text" label="Narration" multiline value=${s.voText} onInput=${set("voText")}
          error=${err("voiceover.text")} max=${ttsInfo?.maxTextCharacters} hint="Trimmed to the video's length in the final clip. " />
        <${ProviderGuide} id="ttsProvider" providers=${ttsProviders} value=${s.ttsProvider} onChange=${(v) => setS((p) => ({ ...p, ttsProvider: v, voiceId: null }))} legend="Voice provider" error=${err("voiceover.provider")} />
        <${ModelNotice} info=${ttsInfo} />
        ${s.ttsProvider ? html`<${VoicePicker} id="voiceover.voiceId" provider=${s.ttsProvider} value=${s.voiceId} onChange=${set("voiceId")} error=${err("voiceover.voiceId")} />` : null}
      </section>` : null}

      ${kind === "localized-avatar" ? html`<section class="card"><fieldset class="locales" data-field="locales">
        <legend>Languages <small class="hint">one video each, with a native voice</small></legend>
        <div class="locale-grid">${LOCALES.map(([code, name]) => html`<label class="locale">
          <input type="checkbox" checked=${s.locales.includes(code)} onChange=${(e) => set("locales")(e.currentTarget.checked ? [...s.locales, code] : s.locales.filter((c) => c !== code))} />
          ${name} <small class="hint">${code}</small></label>`)}</div>
        ${err("locales") ? html`<small class="field-error">${err("locales")}</small>` : null}
      </fieldset>
      ${s.locales.length ? html`<details class="translations">
        <summary>Translations of the script <span class="optional">(optional, per language)</span></summary>
        ${s.locales.map((code, i) => html`<${TextField} id=${`script-${code}`} field=${`locales.${i}.script`} label=${LOCALES.find(([c]) => c === code)?.[1] || code}
          multiline value=${s.scripts[code] || ""} optional error=${err(`locales.${i}.script`)}
          onInput=${(text) => setS((p) => ({ ...p, scripts: { ...p.scripts, [code]: text } }))} />`)}
      </details>` : null}
      <div class="row">
        <${SelectField} id="voiceGender" label="Voices" value=${s.voiceGender} onChange=${set("voiceGender")} options=${[["", "Any gender"], ["female", "Female voices"], ["male", "Male voices"]]} />
        <${SelectField} id="aspectRatio" label="Aspect ratio" value=${s.aspectRatio} onChange=${set("aspectRatio")} options=${[["", "HeyGen's default"], ["16:9", "16:9"], ["9:16", "9:16"], ["1:1", "1:1"]]} />
      </div></section>` : null}

      ${kind !== "tts" && kind !== "composite" && kind !== "localized-avatar" ? html`<section class="card">
        <h2>Size and length</h2>
        <${PlacementPicker} value=${s.placements} onChange=${set("placements")} withDuration=${isVideo} perAd=${perAd}
          provider=${s.provider} withImage=${Boolean(s.startImage)} error=${err("placements") || err("placement") || err(`${type.toLowerCase()}.placement`)} />
        <div class="row">
          ${!s.placements.length && ratios.length ? html`<${SelectField} id="aspectRatio" label="Aspect ratio" value=${s.aspectRatio} onChange=${set("aspectRatio")}
            error=${err("aspectRatio")} options=${[["", `Default (${info?.defaultAspectRatio || "provider's"})`], ...ratios.map((r) => [r, r])]} />` : null}
          ${isVideo && durations.length ? html`<${SelectField} id="durationSeconds" field=${meta.recipe ? "video.durationSeconds" : "durationSeconds"} label="Duration"
            value=${s.durationSeconds} onChange=${set("durationSeconds")} error=${err("durationSeconds") || err("video.durationSeconds")}
            hint=${longer && !s.allowLonger ? "Longer than a placement's target: pick a shorter one, or allow it below." : s.placements.length ? "Default: each placement's target." : null}
            options=${[["", s.placements.length ? "Placement's target" : `Default (${info?.defaultDurationSeconds} s)`], ...durations.map((d) => [String(d), `${d} s`])]} />` : null}
        </div>
        ${longer ? html`<label class="check"><input type="checkbox" checked=${s.allowLonger} onChange=${(e) => set("allowLonger")(e.currentTarget.checked)} />
          Allow longer than the placement's target (you pay for seconds a short placement may never show)</label>` : null}
      </section>` : null}

      ${kind in INPUTS ? html`<section class="card"><h2>Takes</h2><div class="row">
        <${VariantsField} value=${s.variants} onChange=${set("variants")} error=${err("variants")} />
        ${info?.takesSeed ? html`<${TextField} id="seed" label="Seed" optional type="number" inputmode="numeric" value=${s.seed} onInput=${set("seed")}
          error=${err("seed")} hint="The same seed remakes a take; variants use seed, seed+1, …" />` : null}
        <${TextField} id="clientReference" label="Your reference" optional value=${s.clientReference} onInput=${set("clientReference")}
          error=${err("clientReference")} hint="e.g. a campaign code; the Jobs panel can filter by it." maxlength="255" />
      </div></section>` : null}
    </form>

    <aside class="new-aside" aria-label="Cost and submit">
      <${EstimatePanel} estimate=${estimate} balance=${balance} caps=${caps} refusal=${refusal} />
      <button type="submit" form="new-form" class="primary submit" disabled=${busy} data-testid="submit"
        aria-disabled=${blocked ? "true" : null} aria-describedby=${refusal ? "submit-blocked" : null}>
        ${busy ? "Submitting…" : meta.recipe ? "Create" : "Generate"}
      </button>
      <div class="submit-live" aria-live="polite"><${SubmitBlocked} refusal=${refusal} checking=${!blocked} form=${formRef.current} /></div>
      <p class="hint aside-note">${meta.recipe ? "All the recipe's jobs are held and started together." : "You go to the Jobs panel, where the results appear live."}</p>
    </aside>
  </div>`;
}

function PlacementsLonger(s) {
  const seconds = Number(s.durationSeconds);
  return s.placements.some((p) => seconds > (placementOf(p)?.targetDurationSeconds ?? Infinity));
}

function Header({ meta }) {
  return html`<nav class="crumbs" aria-label="Breadcrumb"><a href="#/new">New generation</a> <span aria-hidden="true">/</span> <span aria-current="page">${meta.title}</span></nav>
    <h1>${meta.title}</h1>
    <nav class="kind-tabs" aria-label="Kinds">${KINDS.map((k) => html`<a href=${`#/new/${k.id}`} aria-current=${k.id === meta.id ? "page" : null}>${k.title}</a>`)}</nav>`;
}

export default function NewScreen({ route }) {
  const kind = route.params[0];
  const known = useMemo(() => kind && kindOf(kind), [kind]);
  if (!kind) return html`<${Chooser} />`;
  if (!known) return html`<${Notice} kind="error">There is no “${kind}” form. <a href="#/new">Choose what to make</a>.<//>`;
  return html`<${Form} key=${kind} kind=${kind} query=${route.query} />`;
}
