// Each kind's form state → the API's inputs: what generate* / createCreative take, and what
// estimateCost / estimateCreative are asked on every change. Pure functions (no DOM).
import { placementOf } from "./placements.js";
import { stepName } from "./words.js";

const int = (text) => (text === "" || text == null ? null : Number.parseInt(text, 10));
const clean = (object) => Object.fromEntries(Object.entries(object).filter(([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length)));

export function initialState(kind) {
  const base = {
    provider: null, placements: [], variants: "1", seed: "", aspectRatio: "", durationSeconds: "",
    allowLonger: false, prompt: "", reference: null, startImage: null, portrait: null, avatar: null,
    voiceId: null, text: "", script: "", clientReference: "",
  };
  if (kind === "composite") return { ...base, provider: "CREATOMATE", background: null, logo: null, audio: null, headline: "", aspectRatio: "1:1" };
  if (kind === "video-voiceover") return { ...base, ttsProvider: null, voText: "" };
  if (kind === "image-logo") return { ...base, logo: null };
  if (kind === "localized-avatar") return { ...base, provider: "HEYGEN", locales: ["en-US", "es-MX", "fr-FR"], scripts: {}, voiceGender: "" };
  if (kind === "avatar") return { ...base, provider: "HEYGEN", avatarSource: "library" };
  return base;
}

/** Where a prefilled Drive file (?input=) goes for each kind. */
export function prefill(kind, file) {
  if (!file) return {};
  if (kind === "image") return file.kind === "IMAGE" ? { reference: file } : {};
  if (kind === "video") return file.kind === "IMAGE" ? { startImage: file } : {};
  if (kind === "avatar") return file.kind === "IMAGE" ? { portrait: file, avatarSource: "portrait" } : {};
  if (kind === "image-logo") return file.kind === "IMAGE" ? { logo: file } : {};
  if (kind === "composite") return file.kind === "AUDIO" ? { audio: file } : { background: file };
  return {};
}

/** Which kind a Drive file is best used as an input of ("use as input"). */
export function kindForFile(file) {
  return { IMAGE: "image", VIDEO: "composite", AUDIO: "composite" }[file.kind] || "composite";
}

function shape(s) {
  const variants = int(s.variants);
  const seed = int(s.seed);
  const placements = s.placements.length ? s.placements : null;
  return { variants: Number.isFinite(variants) ? variants : 1, seed: Number.isFinite(seed) ? seed : null, placements };
}

export function imageInput(s, info) {
  const { variants, seed, placements } = shape(s);
  return clean({
    prompt: s.prompt, provider: s.provider, variants, seed: info?.takesSeed ? seed : null, placements,
    aspectRatio: placements ? null : s.aspectRatio || null,
    referenceFileIds: s.reference ? [s.reference.id] : null,
    clientReference: s.clientReference.trim() || null,
  });
}

export function videoInput(s, info) {
  const { variants, seed, placements } = shape(s);
  const duration = int(s.durationSeconds);
  return clean({
    prompt: s.prompt, provider: s.provider, variants, seed: info?.takesSeed ? seed : null, placements,
    aspectRatio: placements ? null : s.aspectRatio || null,
    durationSeconds: Number.isFinite(duration) ? duration : null,
    allowLongerThanPlacement: placements && Number.isFinite(duration) && s.allowLonger ? true : null,
    imageFileId: s.startImage?.id || null,
    clientReference: s.clientReference.trim() || null,
  });
}

export function avatarInput(s, info) {
  const { variants, seed, placements } = shape(s);
  const portrait = s.avatarSource === "portrait";
  return clean({
    script: s.script, provider: "HEYGEN", voiceId: s.voiceId, variants, seed: info?.takesSeed ? seed : null, placements,
    aspectRatio: placements ? null : s.aspectRatio || null,
    avatarId: portrait ? null : s.avatar?.id || null,
    portraitFileId: portrait ? s.portrait?.id || null : null,
    clientReference: s.clientReference.trim() || null,
  });
}

export function ttsInput(s, info) {
  const { variants, seed } = shape(s);
  return clean({
    text: s.text, provider: s.provider, voiceId: s.voiceId, variants, seed: info?.takesSeed ? seed : null,
    clientReference: s.clientReference.trim() || null,
  });
}

const SIZES = { "1:1": [1080, 1080], "9:16": [1080, 1920], "16:9": [1920, 1080], "4:5": [1080, 1350] };

/** A RenderScript for the composite layout: background (cover), logo bottom right, headline, audio. */
export function compositeSource(s) {
  const [width, height] = SIZES[s.aspectRatio] || SIZES["1:1"];
  const timed = s.background?.kind === "VIDEO" || s.audio;
  const duration = Math.max(1, Math.round(s.background?.durationSeconds || s.audio?.durationSeconds || 5));
  const elements = [];
  if (s.background) elements.push({ name: "Background", type: s.background.kind === "VIDEO" ? "video" : "image", width: "100%", height: "100%", fit: "cover" });
  if (s.logo) {
    const side = Math.round(Math.min(width, height) * 0.18);
    elements.push({ name: "Logo", type: "image", width: side, height: side, x_anchor: "100%", y_anchor: "100%", x: width - Math.round(side * 0.25), y: height - Math.round(side * 0.25), fit: "contain" });
  }
  if (s.headline.trim()) {
    elements.push({ name: "Headline", type: "text", text: s.headline.trim(), width: "86%", y: "14%", x_alignment: "50%", font_weight: "700", font_size: Math.round(width / 14), fill_color: "#ffffff", shadow_color: "rgba(0,0,0,0.6)", shadow_blur: 12 });
  }
  if (s.audio) elements.push({ name: "Audio", type: "audio", duration });
  return clean({ output_format: timed ? "mp4" : "png", width, height, duration: timed ? duration : null, elements });
}

export function compositeInput(s) {
  const { variants } = shape(s);
  const inputs = [["Background", s.background], ["Logo", s.logo], ["Audio", s.audio]].filter(([, f]) => f).map(([name, f]) => ({ name, fileId: f.id }));
  return clean({
    provider: "CREATOMATE", source: compositeSource(s), inputs, variants,
    prompt: s.headline.trim() || null, clientReference: s.clientReference.trim() || null,
  });
}

export function recipeInput(kind, s) {
  if (kind === "video-voiceover") {
    const duration = int(s.durationSeconds);
    return {
      recipe: "VIDEO_WITH_VOICEOVER",
      videoWithVoiceover: {
        video: clean({
          prompt: s.prompt, provider: s.provider, placement: s.placements[0] || null,
          aspectRatio: s.placements.length ? null : s.aspectRatio || null,
          durationSeconds: Number.isFinite(duration) ? duration : null,
          allowLongerThanPlacement: s.placements.length && Number.isFinite(duration) && s.allowLonger ? true : null,
          imageFileId: s.startImage?.id || null,
        }),
        voiceover: clean({ text: s.voText, provider: s.ttsProvider, voiceId: s.voiceId }),
      },
    };
  }
  if (kind === "image-logo") {
    return {
      recipe: "IMAGE_WITH_LOGO",
      imageWithLogo: {
        image: clean({ prompt: s.prompt, provider: s.provider, placement: s.placements[0] || null, aspectRatio: s.placements.length ? null : s.aspectRatio || null }),
        logoFileId: s.logo?.id || "",
      },
    };
  }
  return {
    recipe: "LOCALIZED_AVATAR",
    localizedAvatar: clean({
      locales: s.locales.map((locale) => clean({ locale, script: s.scripts[locale]?.trim() || null })), script: s.script, avatarId: s.avatar?.id || null,
      voiceGender: s.voiceGender || null, provider: "HEYGEN", aspectRatio: s.aspectRatio || null,
    }),
  };
}

export const INPUTS = { image: imageInput, video: videoInput, avatar: avatarInput, tts: ttsInput, composite: compositeInput };
export const MUTATIONS = { image: "generateImage", video: "generateVideo", avatar: "generateAvatar", tts: "generateTts", composite: "generateComposite" };
const INPUT_TYPES = { image: "GenerateImageInput", video: "GenerateVideoInput", avatar: "GenerateAvatarInput", tts: "GenerateTtsInput", composite: "GenerateCompositeInput" };
const NODE_FIELDS = { image: "image", video: "video", avatar: "avatar", tts: "tts", composite: "composite" };

export function generateMutation(kind) {
  return `mutation Generate($input: ${INPUT_TYPES[kind]}!) { ${MUTATIONS[kind]}(input: $input) {
    batch { id } jobs { id placement variant provider }
    warnings { code message provider shutdownDate successor }
    placementWarnings { code message placement provider requested chosen }
    userErrors { code message field }
  } }`;
}

const CREATIVE_FIELDS = `creative { id status estimatedCostCents nodes { key job { id type provider status placement } } }
  userErrors { code message field }`;

/** A recipe makes one ad at one placement (its jobs are one creative: the API takes one
 *  `placement`, not `placements`). Several placements ticked: one creative each, all asked in one
 *  request (aliased fields; a mutation's run one after another). [{ placement, input }]. */
export function recipeInputs(kind, s) {
  const one = (placements) => recipeInput(kind, { ...s, placements });
  if (kind === "localized-avatar" || s.placements.length < 2) return [{ placement: s.placements[0] || null, input: one(s.placements) }];
  return s.placements.map((p) => ({ placement: p, input: one([p]) }));
}

/** A fresh nonce for the idempotency keys of one submission (crypto.getRandomValues: unlike
 *  randomUUID it works on a plain-http origin too). */
export function newNonce() {
  return `web-${Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The items of recipeInputs, each with its own idempotency key: `${nonce}-${placement}` (its index
 *  when it has no placement). The same nonce and form give the same keys: sent again, the API
 *  answers each creative it already made instead of making (and holding) it again. */
export function withKeys(items, nonce) {
  return items.map((item, i) => ({ ...item, input: { ...item.input, idempotencyKey: `${nonce}-${item.placement || i}` } }));
}

/** createCreative for each input, in one request: the answers as c0, c1, … */
export function createCreatives(count) {
  const vars = Array.from({ length: count }, (_, i) => `$i${i}: CreateCreativeInput!`).join(", ");
  const fields = Array.from({ length: count }, (_, i) => `c${i}: createCreative(input: $i${i}) { ${CREATIVE_FIELDS} }`).join("\n");
  return `mutation CreateCreatives(${vars}) { ${fields} }`;
}

function estimateCreatives(count) {
  const vars = Array.from({ length: count }, (_, i) => `$i${i}: CreateCreativeInput!`).join(", ");
  const fields = Array.from({ length: count }, (_, i) => `c${i}: estimateCreative(input: $i${i}) { cents nodes { key provider cents } }`).join("\n");
  return `query EstimateCreatives(${vars}) { ${fields} }`;
}

export const asVariables = (items) => Object.fromEntries(items.map((item, i) => [`i${i}`, item.input]));

const ESTIMATE_COST = `query Estimate($cost: EstimateCostInput!) { estimateCost(input: $cost) { cents provider } }`;
// The same, and every job of the request validated as generate would (one query, one answer).
const ESTIMATE_CHECKED = `query EstimateChecked($cost: EstimateCostInput!, $check: CreateCreativeInput!) {
  estimateCost(input: $cost) { cents provider }
  check: estimateCreative(input: $check) { cents }
}`;
const ESTIMATE_CREATIVE = `query EstimateCreative($input: CreateCreativeInput!) {
  estimateCreative(input: $input) { cents nodes { key provider cents } }
}`;

const REQUIRED = { image: "prompt", video: "prompt", avatar: "script", tts: "text" };

/** The estimate request of a form: estimateCost for the price (variants × placements) and, once
 *  the required text is there, estimateCreative over the same jobs (one node per placement) so
 *  that every rule generate applies (a duration longer than a placement…) answers now. */
export function estimateRequest(kind, type, s, info, names) {
  if (!s.provider) return null;
  if (kind in INPUTS) {
    const input = INPUTS[kind](s, info);
    const { variants, placements } = shape(s);
    // A composite's price follows its background (a still or a video, and how long): none yet, no price.
    if (kind === "composite" && !s.background) return { note: "Choose the background to see the cost." };
    const pixels = s.reference?.width && s.reference?.height ? (s.reference.width * s.reference.height) / 1e6 : null;
    const text = kind === "tts" ? s.text : kind === "avatar" ? s.script : null;
    const cost = clean({
      type, provider: s.provider, variants, placements,
      aspectRatio: input.aspectRatio || null, durationSeconds: input.durationSeconds || null,
      allowLongerThanPlacement: input.allowLongerThanPlacement || null,
      characters: text ? text.length : kind === "tts" || kind === "avatar" ? 1 : null,
      withInputImage: kind === "video" && Boolean(s.startImage),
      withPortrait: kind === "avatar" && s.avatarSource === "portrait" && Boolean(s.portrait),
      referenceImages: s.reference && kind === "image" ? 1 : null,
      referenceMegapixels: s.reference && kind === "image" ? pixels : null,
    });
    if (kind === "composite") {
      cost.durationSeconds = compositeSource(s).duration || null;
      if (cost.durationSeconds == null) delete cost.durationSeconds;
    }
    const required = REQUIRED[kind];
    const ready = kind === "composite" ? Boolean(s.background) : Boolean(String(s[required] || "").trim()) && (kind !== "avatar" || Boolean(s.voiceId));
    const one = { ...input, variants: 1 };
    delete one.placements;
    const nodes = placements ? placements.map((p) => ({ key: p.toLowerCase(), [NODE_FIELDS[kind]]: { ...one, placement: p } })) : [{ key: "job", [NODE_FIELDS[kind]]: one }];
    return {
      query: ready ? ESTIMATE_CHECKED : ESTIMATE_COST,
      variables: ready ? { cost, check: { nodes } } : { cost },
      read: (data) => {
        const jobs = variants * (placements?.length || 1);
        const split = placements ? `${variants} variant${variants > 1 ? "s" : ""} × ${placements.length} placement${placements.length > 1 ? "s" : ""}` : `${variants} variant${variants > 1 ? "s" : ""}`;
        const lines = [[`${jobs} job${jobs > 1 ? "s" : ""} on ${names(data.estimateCost.provider)}`, split]];
        if (placements) lines.push(["Sizes", placements.map((p) => placementOf(p)?.aspectRatio || p).join(", ")]);
        // A composite's price follows its RenderScript (format, size, length), which only the full
        // input carries: estimateCost alone assumes a 30 s 1080p video.
        const cents = kind === "composite" && data.check ? data.check.cents * variants : data.estimateCost.cents;
        return { cents, lines };
      },
    };
  }
  // As the forms of one type: the price shows once all it depends on is there. A prompt is not
  // priced (a stand-in asks for the price until it is written); a narration or a script is, per
  // character, and the logo is checked as a Drive file.
  const missing = {
    "video-voiceover": () => (!s.voText.trim() ? "Write the narration to see the cost." : null),
    "image-logo": () => (!s.logo ? "Choose the logo to see the cost." : null),
    "localized-avatar": () => (!s.script.trim() ? "Write the script to see the cost." : !s.avatar ? "Choose an avatar to see the cost." : !s.locales.length ? "Choose at least one language." : null),
  }[kind]();
  if (missing) return { note: missing };
  const items = recipeInputs(kind, { ...s, prompt: s.prompt.trim() ? s.prompt : "Your prompt" });
  const money = (c) => `$${(c / 100).toFixed(2)}`;
  if (items.length === 1) {
    return {
      query: ESTIMATE_CREATIVE,
      variables: { input: items[0].input },
      read: (data) => ({
        cents: data.estimateCreative.cents,
        lines: data.estimateCreative.nodes.map((n) => [`${stepName(n.key)} · ${names(n.provider)}`, money(n.cents)]),
      }),
    };
  }
  return {
    query: estimateCreatives(items.length),
    variables: asVariables(items),
    read: (data) => {
      const answers = items.map((_, i) => data[`c${i}`]);
      const steps = answers[0].nodes.map((n) => stepName(n.key).toLowerCase()).join(", ");
      return {
        cents: answers.reduce((sum, a) => sum + a.cents, 0),
        lines: [
          [`${items.length} ads, one per placement`, steps],
          ...answers.map((a, i) => {
            const p = placementOf(items[i].placement);
            return [p ? `${p.name} ${p.aspectRatio}` : items[i].placement, money(a.cents)];
          }),
        ],
      };
    },
  };
}
