// The New generation form's parts: the provider guide, the placement picker, variants, the voice
// and avatar pickers, and the live estimate (debounced; its error in words when the input is refused).
import { useEffect, useRef, useState } from "preact/hooks";
import { gql, useQuery } from "../api.js";
import { useApp } from "../context.js";
import { html } from "../html.js";
import { dateTime, ErrorNote, label, Loading, money } from "../ui.js";
import { LANGUAGES, providerName } from "./catalog.js";
import { placementOf, servedBy, usePlacements } from "./placements.js";
import { forPeople } from "./words.js";

const PROVIDERS = `query Providers($type: JobType) { providers(type: $type) {
  provider type isDefault strengths available aspectRatios defaultAspectRatio durationsSeconds defaultDurationSeconds
  maxTextCharacters takesSeed typicalSeconds priceUnit priceCentsPerUnit priceFirstUnitCents lifecycle shutdownDate
  successor successorModel startImage { maxCount } referenceImages { maxCount } portraitImage { maxCount }
} }`;

/** The providers of a job type (the provider guide's data). */
export function useProviders(type) {
  const result = useQuery(PROVIDERS, { type }, [type]);
  return { ...result, list: result.data?.providers || [] };
}

export function defaultProvider(list) {
  return (list.find((p) => p.isDefault && p.lifecycle !== "SHUT_DOWN") || list.find((p) => p.lifecycle !== "SHUT_DOWN") || list[0])?.provider;
}

function cents(value) {
  if (value == null) return "";
  return value >= 100 ? money(Math.round(value)) : `${Number(value < 1 ? value.toPrecision(2) : value.toFixed(2))}¢`;
}

function priceText(p) {
  const unit = String(p.priceUnit).replaceAll("_", " ");
  const first = p.priceFirstUnitCents != null ? ` (first ${unit} ${cents(p.priceFirstUnitCents)})` : "";
  return `${cents(p.priceCentsPerUnit)} / ${unit}${first}`;
}

function timeText(seconds) {
  return seconds < 90 ? `about ${seconds} s` : `about ${Math.round(seconds / 60)} min`;
}

function Lifecycle({ p }) {
  if (p.lifecycle === "ACTIVE") return null;
  const successor = p.successor ? providerName(p.successor) : p.successorModel;
  if (p.lifecycle === "SHUT_DOWN") {
    return html`<span class="lifecycle shut">Shut down ${dateTime(p.shutdownDate).split(",")[0]}${successor ? html`: runs on <strong>${successor}</strong>` : ": refused"}</span>`;
  }
  return html`<span class="lifecycle deprecated">Shuts down ${new Date(p.shutdownDate).toLocaleDateString(undefined, { dateStyle: "medium" })}${successor ? html` — move to <strong>${successor}</strong>` : null}</span>`;
}

const VIDEO_RATE = `query VideoRate($cost: EstimateCostInput!) { estimateCost(input: $cost) { cents } }`;

/** What a second of video costs on each provider for this request — a text-only video, or one
 *  from a start image: the tiers differ (Runway makes a text-only video on another model, at
 *  another rate). Asked of estimateCost, the price the job is held at, at each provider's default
 *  duration: provider → { perSecond, seconds, cents }. Re-asked when a start image comes or goes. */
export function useVideoRates(list, withImage, on = true) {
  const [rates, setRates] = useState({});
  const names = list.filter((p) => p.available && p.lifecycle !== "SHUT_DOWN" && p.defaultDurationSeconds).map((p) => p.provider).join(",");
  useEffect(() => {
    if (!on || !names) return undefined;
    let current = true;
    const wanted = list.filter((p) => names.split(",").includes(p.provider));
    Promise.allSettled(wanted.map((p) => gql(VIDEO_RATE, { cost: {
      type: "VIDEO", provider: p.provider, durationSeconds: p.defaultDurationSeconds, withInputImage: withImage,
    } }))).then((answers) => {
      if (!current) return;
      const next = {};
      answers.forEach((a, i) => {
        if (a.status !== "fulfilled") return;
        const p = wanted[i];
        const c = a.value.estimateCost.cents;
        next[p.provider] = { perSecond: c / p.defaultDurationSeconds, seconds: p.defaultDurationSeconds, cents: c, withImage };
      });
      setRates(next);
    });
    return () => {
      current = false;
    };
  }, [names, withImage, on]);
  return rates;
}

/** A provider's blurb without what the card already says (its own name, "default"). */
function blurb(p) {
  const name = providerName(p.provider).toLowerCase();
  return p.strengths.replace(/\s*\(([^)]*)\)\s*$/, (all, inner) => (inner.toLowerCase() === "default" || inner.toLowerCase() === name ? "" : all));
}

/** The price a card shows: for this request where it is known (rate), else the base rate. */
function PriceFact({ p, rate }) {
  if (!rate) return html`<span title="Price">${priceText(p)}</span>`;
  const per = `${cents(Math.round(rate.perSecond * 10) / 10)} / second`;
  return html`<span title="Price for this request" data-testid="provider-price">${per}${" "}<small class="price-tier">${rate.withImage ? "from a start image" : "text-to-video"}</small></span>`;
}

/** The provider guide: one radio card per provider (strengths, price, typical time, lifecycle). */
export function ProviderGuide({ id = "provider", providers, value, onChange, legend = "Provider", error, rates = null }) {
  if (providers.loading && !providers.data) return html`<${Loading} what="Reading the providers" />`;
  if (providers.error) return html`<${ErrorNote} error=${providers.error} />`;
  return html`<fieldset class=${`provider-guide${error ? " has-error" : ""}`} data-field=${id}>
    <legend>${legend}</legend>
    <div class="provider-cards">
      ${providers.list.map((p) => html`<label class=${`provider-card${value === p.provider ? " selected" : ""}${p.lifecycle !== "ACTIVE" ? " aging" : ""}`}>
        <input type="radio" name=${id} value=${p.provider} checked=${value === p.provider}
          onChange=${() => onChange(p.provider)} disabled=${!p.available} />
        <span class="provider-head">
          <strong>${providerName(p.provider)}</strong>
          ${p.isDefault ? html`<span class="badge">Default</span>` : null}
        </span>
        <span class="provider-strengths">${blurb(p)}</span>
        <span class="provider-facts">
          <${PriceFact} p=${p} rate=${rates?.[p.provider]} />
          <span title="Typical time">${timeText(p.typicalSeconds)}</span>
          ${p.takesSeed ? html`<span>takes a seed</span>` : null}
        </span>
        <${Lifecycle} p=${p} />
      </label>`)}
    </div>
    ${error ? html`<small class="field-error">${error}</small>` : null}
  </fieldset>`;
}

/** What `provider` makes of a placement, when it is not simply the placement's own: refused,
 *  only from a start image, or at the nearest ratio. */
function servedNote(p, provider, withImage) {
  if (!provider) return null;
  const served = servedBy(p, provider);
  if (!served) return { bad: true, text: `Not on ${providerName(provider)}` };
  if (served.needsInputImage && !withImage) return { bad: true, text: `${providerName(provider)}: with a start image` };
  if (served.aspectRatio !== p.aspectRatio) return { bad: false, text: `${providerName(provider)} makes ${served.aspectRatio}` };
  return null;
}

/** The placements (the API's placements query) as checkboxes, each with the ratio and (video)
 *  target duration it implies, and what the chosen provider makes of it. */
export function PlacementPicker({ value, onChange, withDuration, perAd = false, error, provider, withImage = false }) {
  const placements = usePlacements();
  const all = placements.list || [];
  const order = (id) => all.findIndex((p) => p.placement === id);
  const toggle = (id, on) => {
    onChange(on ? [...value, id].sort((a, b) => order(a) - order(b)) : value.filter((v) => v !== id));
  };
  const chosen = all.filter((p) => value.includes(p.placement));
  const seconds = (p) => (withDuration ? ` · ${p.targetDurationSeconds} s` : "");
  return html`<fieldset class=${`placements${error ? " has-error" : ""}`} data-field="placements">
    <legend>Placements <span class="optional">(optional)</span></legend>
    ${perAd ? html`<p class="hint" id="placements-per-ad">Each placement is an ad of its own: its own jobs, made at its size.</p>` : null}
    ${placements.error ? html`<${ErrorNote} error=${placements.error} /><button type="button" onClick=${placements.retry}>Read the placements again</button>` : null}
    ${!placements.list && !placements.error ? html`<${Loading} what="Reading the placements" />` : null}
    <div class="placement-options">
      ${all.map((p) => {
        const note = servedNote(p, provider, withImage);
        return html`<label class=${`placement${value.includes(p.placement) ? " selected" : ""}`}>
        <input type="checkbox" name="placements" value=${p.placement} checked=${value.includes(p.placement)}
          aria-describedby=${note ? `placement-${p.placement}-note` : null} onChange=${(e) => toggle(p.placement, e.currentTarget.checked)} />
        <span class="ratio-box" style=${ratioStyle(p.aspectRatio)} aria-hidden="true"></span>
        <span class="placement-text"><strong>${p.name}</strong>
          <small>${p.aspectRatio}${seconds(p)}</small>
          ${note ? html`<small class=${`placement-note${note.bad ? " bad" : ""}`} id=${`placement-${p.placement}-note`} aria-hidden="true">${note.text}</small>` : null}</span>
      </label>`;
      })}
    </div>
    <p class="hint placement-summary" aria-live="polite">${chosen.length
      ? perAd
        ? chosen.length === 1
          ? `One ad, made at ${chosen[0].aspectRatio}${withDuration ? `, ${chosen[0].targetDurationSeconds} s` : ""} (or the nearest ${provider ? providerName(provider) : "the provider"} renders).`
          : `${chosen.length} ads, one per placement: ${chosen.map((p) => `${p.name} ${p.aspectRatio}${withDuration ? ` ${p.targetDurationSeconds} s` : ""}`).join(", ")}.`
        : `${chosen.length} job${chosen.length > 1 ? "s" : ""} per variant: ${chosen.map((p) => `${p.name} ${p.aspectRatio}${withDuration ? ` ${p.targetDurationSeconds} s` : ""}`).join(", ")} — the nearest ratio${withDuration ? " and duration" : ""} the provider renders.`
      : "None: one job at the aspect ratio you choose below."}</p>
    ${error ? html`<small class="field-error">${error}</small>` : null}
  </fieldset>`;
}

function ratioStyle(ratio) {
  const [w, h] = ratio.split(":").map(Number);
  const scale = 22 / Math.max(w, h);
  return `width:${Math.round(w * scale)}px;height:${Math.round(h * scale)}px`;
}

/** Variants 1–5: a number field (each variant is its own job, held and charged on its own). */
export function VariantsField({ value, onChange, error }) {
  return html`<div class=${`field variants${error ? " has-error" : ""}`} data-field="variants">
    <label for="variants">Variants</label>
    <input id="variants" type="number" min="1" max="5" step="1" inputmode="numeric" value=${value}
      aria-describedby="variants-hint" onInput=${(e) => onChange(e.currentTarget.value)} />
    <small id="variants-hint" class="hint">1 to 5 takes of the same request, each charged on its own.</small>
    ${error ? html`<small class="field-error">${error}</small>` : null}
  </div>`;
}

const VOICES = `query Voices($provider: Provider!, $language: String, $gender: String, $search: String) {
  voices(provider: $provider, language: $language, gender: $gender, search: $search) {
    id name language languages locales multilingual gender accent age description previewUrl
  }
}`;

/** Pick a voice of the provider's library: filter by language and gender, hear its sample. */
export function VoicePicker({ id = "voiceId", provider, value, onChange, error, language: initialLanguage = "" }) {
  const [language, setLanguage] = useState(initialLanguage);
  const [gender, setGender] = useState("");
  const voices = useQuery(VOICES, { provider, language: language || null, gender: gender || null }, [provider, language, gender]);
  const list = voices.data?.voices || [];
  useEffect(() => {
    if (list.length && !list.some((v) => v.id === value)) onChange(list[0].id);
  }, [voices.data]);
  return html`<fieldset class=${`voice-picker${error ? " has-error" : ""}`} data-field=${id}>
    <legend>Voice</legend>
    <div class="row">
      <div class="field"><label for=${`${id}-language`}>Language</label>
        <select id=${`${id}-language`} value=${language} onChange=${(e) => setLanguage(e.currentTarget.value)}>
          ${LANGUAGES.map(([code, name]) => html`<option value=${code}>${name}</option>`)}
        </select></div>
      <div class="field"><label for=${`${id}-gender`}>Gender</label>
        <select id=${`${id}-gender`} value=${gender} onChange=${(e) => setGender(e.currentTarget.value)}>
          <option value="">Any</option><option value="female">Female</option><option value="male">Male</option>
        </select></div>
    </div>
    <${ErrorNote} error=${voices.error} />
    ${voices.loading && !voices.data ? html`<${Loading} what="Reading voices" />` : null}
    ${voices.data && !list.length ? html`<p class="hint">No voice matches; try “Any language”.</p>` : null}
    <ul class="voice-list" role="list">
      ${list.slice(0, 40).map((v) => html`<li class=${value === v.id ? "selected" : ""}>
        <label class="voice">
          <input type="radio" name=${id} value=${v.id} checked=${value === v.id} onChange=${() => onChange(v.id)} />
          <span class="voice-text"><strong>${v.name}</strong>
            <small>${[v.gender && label(v.gender), v.accent && label(v.accent), v.age && label(v.age), v.language?.toUpperCase(), v.multilingual ? "multilingual" : null].filter(Boolean).join(" · ")}</small></span>
        </label>
        ${v.previewUrl ? html`<audio class="voice-preview" controls preload="none" src=${v.previewUrl} aria-label=${`Sample of ${v.name}`}></audio>` : html`<small class="hint">No sample</small>`}
      </li>`)}
    </ul>
    ${error ? html`<small class="field-error">${error}</small>` : null}
  </fieldset>`;
}

const AVATARS = `query Avatars($gender: String, $search: String) {
  avatars(gender: $gender, search: $search) { id name gender previewImageUrl previewVideoUrl avatarType defaultVoiceId }
}`;

function AvatarImage({ avatar }) {
  const [failed, setFailed] = useState(false);
  if (!avatar.previewImageUrl || failed) return html`<span class="avatar-img avatar-initials" aria-hidden="true">${avatar.name.slice(0, 1)}</span>`;
  return html`<img class="avatar-img" src=${avatar.previewImageUrl} alt="" loading="lazy" onError=${() => setFailed(true)} />`;
}

/** Pick an avatar of the library: search, gender filter, preview images. onChange(avatar). */
export function AvatarPicker({ value, onChange, error }) {
  const [gender, setGender] = useState("");
  const [search, setSearch] = useState("");
  const [typed, setTyped] = useState("");
  const timer = useRef(null);
  const avatars = useQuery(AVATARS, { gender: gender || null, search: search || null }, [gender, search]);
  const list = avatars.data?.avatars || [];
  return html`<fieldset class=${`avatar-picker${error ? " has-error" : ""}`} data-field="avatarId">
    <legend>Avatar</legend>
    <div class="row">
      <div class="field"><label for="avatar-search">Search</label>
        <input id="avatar-search" type="search" value=${typed} onInput=${(e) => {
          const text = e.currentTarget.value;
          setTyped(text);
          clearTimeout(timer.current);
          timer.current = setTimeout(() => setSearch(text.trim()), 300);
        }} /></div>
      <div class="field"><label for="avatar-gender">Gender</label>
        <select id="avatar-gender" value=${gender} onChange=${(e) => setGender(e.currentTarget.value)}>
          <option value="">Any</option><option value="female">Female</option><option value="male">Male</option>
        </select></div>
    </div>
    <${ErrorNote} error=${avatars.error} />
    ${avatars.loading && !avatars.data ? html`<${Loading} what="Reading avatars" />` : null}
    ${avatars.data && !list.length ? html`<p class="hint">No avatar matches.</p>` : null}
    <div class="avatar-grid">
      ${list.slice(0, 24).map((a) => html`<label class=${`avatar${value === a.id ? " selected" : ""}`}>
        <input type="radio" name="avatarId" class="visually-hidden" value=${a.id} checked=${value === a.id} onChange=${() => onChange(a)} />
        <${AvatarImage} avatar=${a} />
        <span class="avatar-name">${a.name}</span>
        <small class="hint">${[a.gender && label(a.gender), a.avatarType && label(a.avatarType)].filter(Boolean).join(" · ")}</small>
      </label>`)}
    </div>
    ${list.length > 24 ? html`<p class="hint">${list.length - 24} more: narrow the search.</p>` : null}
    ${error ? html`<small class="field-error">${error}</small>` : null}
  </fieldset>`;
}

/** Ask for `request()` (a { query, variables, read(data) → {cents, lines} } or null) ~350 ms after
 *  the last change of `key`; the latest answer wins. */
export function useEstimate(request, key) {
  const [state, setState] = useState({ loading: false, value: null, error: null, note: null });
  const generation = useRef(0);
  useEffect(() => {
    const mine = ++generation.current;
    const asked = request();
    if (!asked) {
      setState({ loading: false, value: null, error: null, note: null });
      return undefined;
    }
    if (asked.note) {
      setState({ loading: false, value: null, error: null, note: asked.note });
      return undefined;
    }
    setState((s) => ({ ...s, loading: true }));
    const timer = setTimeout(() => {
      gql(asked.query, asked.variables).then(
        (data) => mine === generation.current && setState({ loading: false, value: asked.read(data), error: null, note: null }),
        (error) => mine === generation.current && setState({ loading: false, value: null, error, note: null }),
      );
    }, 350);
    return () => clearTimeout(timer);
  }, [key]);
  return state;
}

const MY_CAPS = `query MyCaps { spendCaps { id subject { kind id } period limitCents remainingCents } }`;
const NO_CAPS = `query NoCaps { __typename }`;

/** The spend caps that apply to this tab's submissions: the member's and the API key's (read with
 *  the billing scope; without it nothing is shown and the API still enforces them). Refetched
 *  whenever the available credits move, since a hold or a charge moves what a cap has left. */
export function useMyCaps(balance) {
  const { viewer } = useApp();
  const canRead = Boolean(viewer?.scopes?.includes("BILLING"));
  const caps = useQuery(canRead ? MY_CAPS : NO_CAPS, {}, [canRead, balance?.availableCents]);
  const mine = (c) => (c.subject.kind === "MEMBER" ? c.subject.id === viewer.userId : c.subject.id === viewer.apiKeyId);
  return (caps.data?.spendCaps || []).filter(mine).sort((a, b) => a.remainingCents - b.remainingCents);
}

const CAP_NAMES = { DAY: ["daily", "today"], MONTH: ["monthly", "this month"] };

function capWords(tightest) {
  const [which, when] = CAP_NAMES[tightest.period] || ["", ""];
  const member = tightest.subject.kind === "MEMBER";
  return { which, when, member, whose: member ? "Your" : "This API key's" };
}

/** The tightest cap's state, when it does not refuse the request (a refusal shows by the button). */
function CapNote({ caps }) {
  if (!caps.length) return null;
  const tightest = caps[0];
  const { which, whose } = capWords(tightest);
  return html`<p class="hint estimate-note" data-testid="estimate-cap-left">${whose} ${which} cap: ${money(tightest.remainingCents)} left of ${money(tightest.limitCents)}.</p>`;
}

// The estimate's refusals that say the request is impossible as set; any other (rate limited, a
// provider's library unreachable, no answer at all) leaves the decision to the submission.
const REFUSING = new Set(["VALIDATION_FAILED", "PROVIDER_NOT_SUPPORTED", "INSUFFICIENT_CREDITS", "SPEND_CAP_EXCEEDED", "NOT_FOUND"]);

const andList = (names) => (names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`);

/** The placement an estimate refused (a provider that cannot render it), from the error's code and
 *  field (extensions.field), never its words: VALIDATION_FAILED on `placements.<i>` (estimateCost: the
 *  i-th placement sent) or on a `placement` (a recipe's: the placement of the ad asked as `c<i>`, or
 *  the one placement). `placements`: the form's, in the order sent. */
function refusedPlacement(error, placements) {
  if (error.code !== "VALIDATION_FAILED" || !Array.isArray(error.field) || !placements.length) return null;
  const field = error.field.map(String);
  const at = field.lastIndexOf("placements");
  let name = null;
  if (at >= 0 && /^\d+$/.test(field[at + 1] || "")) name = placements[Number(field[at + 1])];
  else if (field[field.length - 1] === "placement") {
    const ad = /^c(\d+)$/.exec(String(error.path?.[0] ?? ""));
    name = ad ? placements[Number(ad[1])] : placements.length === 1 ? placements[0] : null;
  }
  return (name && placementOf(name)) || null;
}

/** Why the request would be refused as the form stands, from the latest estimate, the available
 *  credits and the caller's spend caps; null when nothing says so. { source, message, detail?,
 *  field (the API's path or the form's), ways: [{ text, field } | { text, href }] }. An estimate
 *  still on its way or unanswered (offline) is no refusal: the server decides on submit. */
export function refusalOf({ estimate, balance, caps, provider, startImage, placements = [], providers = [] }) {
  const { error, value } = estimate;
  if (error && REFUSING.has(error.code)) {
    const p = refusedPlacement(error, placements);
    if (p && provider) {
      const served = servedBy(p, provider);
      const withImage = served?.needsInputImage && !startImage;
      const offered = new Set(providers.filter((o) => o.available && o.lifecycle !== "SHUT_DOWN").map((o) => o.provider));
      const others = p.providers.filter((o) => o.provider !== provider && offered.has(o.provider) && (!o.needsInputImage || startImage))
        .map((o) => o.provider);
      return {
        source: "estimate",
        message: `${providerName(provider)} cannot render ${p.name} ${p.aspectRatio}${withImage ? " without a start image" : ""} — choose another provider or placement${withImage ? ", or add a start image" : ""}.`,
        detail: others.length ? `${andList(others.map(providerName))} render${others.length === 1 ? "s" : ""} ${p.name}.` : null,
        field: ["placements"],
        ways: [
          { text: "Choose another provider", field: "provider" },
          { text: "Change the placements", field: "placements" },
          ...(withImage ? [{ text: "Add a start image", field: "startImage" }] : []),
        ],
      };
    }
    return { source: "estimate", message: forPeople(error.message), field: error.field, ways: [] };
  }
  if (!value) return null;
  if (caps.length && value.cents > caps[0].remainingCents) {
    const tightest = caps[0];
    const { which, when, member, whose } = capWords(tightest);
    const message = tightest.remainingCents === 0
      ? `${whose} ${which} spend cap of ${money(tightest.limitCents)} is used up ${when}, so this would be refused.`
      : `This needs ${money(value.cents)}: over ${member ? "your" : "this API key's"} ${which} spend cap, with ${money(tightest.remainingCents)} of ${money(tightest.limitCents)} left ${when}.`;
    return { source: "cap", message, field: null, ways: [{ text: "A team admin can raise the cap in Billing", href: "#/billing" }] };
  }
  if (balance && value.cents > balance.availableCents) {
    return {
      source: "balance",
      message: `This needs ${money(value.cents)}; the team has ${money(balance.availableCents)} available.`,
      field: null,
      ways: [{ text: "Top up in Billing", href: "#/billing" }, { text: "Ask for fewer variants or placements", field: "variants" }],
    };
  }
  return null;
}

/** The estimate: the total, its lines, or a word that the request is not possible as set (the
 *  reason is beside the submit button: `refusal`). */
export function EstimatePanel({ estimate, balance, caps, refusal }) {
  const { value, error, loading, note } = estimate;
  return html`<section class="estimate card" aria-labelledby="estimate-title">
    <h2 id="estimate-title">Estimated cost</h2>
    <div aria-live="polite" aria-atomic="true" aria-busy=${loading ? "true" : "false"} data-testid="estimate">
      ${refusal?.source === "estimate"
        ? html`<p class="estimate-none">Not possible as set</p>`
        : error
          ? html`<p class="hint" data-testid="estimate-unavailable">No estimate now. ${forPeople(error.message)} You can still submit: the service checks the request then.</p>`
          : note
            ? html`<p class="hint">${note}</p>`
            : value
              ? html`<p class="estimate-total"><span data-testid="estimate-total">${money(value.cents)}</span>
                  ${loading ? html`<small class="hint estimate-updating"> updating…</small>` : null}</p>
                <ul class="estimate-lines">${value.lines.map((line) => html`<li><span>${line[0]}</span><span>${line[1]}</span></li>`)}</ul>`
              : html`<p class="hint">${loading ? "Estimating…" : "Fill in the form to see the cost."}</p>`}
    </div>
    ${balance && refusal?.source !== "balance" ? html`<p class="hint estimate-note">Held when you submit; ${money(balance.availableCents)} available.</p>` : null}
    ${refusal?.source !== "cap" ? html`<${CapNote} caps=${caps} />` : null}
  </section>`;
}
