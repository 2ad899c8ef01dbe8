// What the New generation screen offers: the kinds of request (a generate type or a recipe), the
// locales and languages of the pickers, and the providers' names. The placements are not here: the
// API's `placements` query answers them (new/placements.js).

/** kind (the route's second part) → what it makes. `type`: the JobType; `recipe`: createCreative's. */
export const KINDS = [
  { id: "image", type: "IMAGE", title: "Image", icon: "▧", blurb: "Stills for feeds, stories and posters, in up to 5 variants." },
  { id: "video", type: "VIDEO", title: "Video", icon: "▶", blurb: "Text-to-video or from a start image, sized for each placement." },
  { id: "avatar", type: "AVATAR", title: "Avatar", icon: "☺", blurb: "A lip-synced spokesperson reading your script." },
  { id: "tts", type: "TTS", title: "Voice-over", icon: "♪", blurb: "Narration from text, in the voice you pick." },
  { id: "composite", type: "COMPOSITE", title: "Composite", icon: "▣", blurb: "Put a logo, a headline and audio over your own media." },
  { id: "video-voiceover", type: "VIDEO", recipe: "VIDEO_WITH_VOICEOVER", title: "Video + voice-over", icon: "▶♪", blurb: "A video and its narration, mixed into one clip." },
  { id: "image-logo", type: "IMAGE", recipe: "IMAGE_WITH_LOGO", title: "Image + logo", icon: "▧◩", blurb: "A generated image with your logo in the corner." },
  { id: "localized-avatar", type: "AVATAR", recipe: "LOCALIZED_AVATAR", title: "Localized avatar", icon: "☺⁺", blurb: "One avatar video per language, each with a native voice." },
];

export const kindOf = (id) => KINDS.find((k) => k.id === id);

/** Locales offered for the localized avatar (any BCP 47 tag works with the API). */
export const LOCALES = [
  ["en-US", "English (US)"], ["en-GB", "English (UK)"], ["es-ES", "Spanish (Spain)"], ["es-MX", "Spanish (Mexico)"],
  ["fr-FR", "French"], ["de-DE", "German"], ["it-IT", "Italian"], ["pt-BR", "Portuguese (Brazil)"],
  ["nl-NL", "Dutch"], ["pl-PL", "Polish"], ["ja-JP", "Japanese"], ["ko-KR", "Korean"], ["zh-CN", "Chinese (Mandarin)"],
  ["hi-IN", "Hindi"], ["ar-SA", "Arabic"], ["tr-TR", "Turkish"],
];

export const LANGUAGES = [
  ["", "Any language"], ["en", "English"], ["es", "Spanish"], ["fr", "French"], ["de", "German"], ["it", "Italian"],
  ["pt", "Portuguese"], ["nl", "Dutch"], ["pl", "Polish"], ["ja", "Japanese"], ["ko", "Korean"], ["zh", "Chinese"],
  ["hi", "Hindi"], ["ar", "Arabic"], ["tr", "Turkish"],
];

/** Provider enum → how people call it. */
const NAMES = {
  FLUX_2_PRO: "FLUX.2 pro", GPT_IMAGE_1_5: "GPT Image 1.5", GPT_IMAGE_2_6_SUNBURST: "GPT Image 2.6 Sunburst",
  GPT_IMAGE_2_6_FLARE: "GPT Image 2.6 Flare", SEEDREAM_4_5: "Seedream 4.5", LUMA_RAY3: "Luma Ray3",
  RUNWAY_GEN4: "Runway Gen-4", KLING_2_6: "Kling 2.6", KLING_3_0: "Kling 3.0", VEO_3_1: "Veo 3.1",
  HEYGEN: "HeyGen", ELEVENLABS: "ElevenLabs", OPENAI_TTS: "OpenAI TTS", CREATOMATE: "Creatomate",
};
export const providerName = (p) => NAMES[p] || p;
