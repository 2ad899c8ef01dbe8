// The API's messages are written for developers (field names, enum values) and are also what a
// person reads in the form. forPeople() rewrites the parts this form knows into its own labels —
// the control a field path names, a placement's or provider's name — and starts the sentence
// with a capital. Unknown text passes through unchanged; codes and field paths are not touched.
import { LOCALES, providerName } from "./catalog.js";
import { placementOf } from "./placements.js";

/** [pattern, replacement]: the whole phrases first, then single field names. */
const PHRASES = [
  [/leave durationSeconds out to get the target/g, "set Duration to “Placement's target”"],
  [/set allowLongerThanPlacement: true/g, "tick “Allow longer than the placement's target”"],
  [/\bdurationSeconds (\d+)\b/g, "A duration of $1 s"],
  [/\bcannot serve placement\b/g, "cannot render"],
  [/\bwithout imageFileId \(([\d:]+) with one\)/g, "without a start image ($1 with one)"],
];

const FIELDS = {
  durationSeconds: "Duration",
  allowLongerThanPlacement: "“Allow longer than the placement's target”",
  aspectRatio: "aspect ratio",
  referenceFileIds: "the reference image",
  imageFileId: "the start image",
  portraitFileId: "the portrait",
  avatarId: "the avatar",
  voiceId: "the voice",
  clientReference: "Your reference",
  fileId: "the file",
};

const ENUM = /\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*\b/g;

export function forPeople(message) {
  if (!message) return message;
  let text = String(message);
  for (const [pattern, replacement] of PHRASES) text = text.replace(pattern, replacement);
  text = text.replace(/\b[a-z]+(?:[A-Z][a-z0-9]*)+\b/g, (word) => FIELDS[word] || word);
  text = text.replace(ENUM, (word) => placementOf(word)?.name || (providerName(word) !== word ? providerName(word) : word));
  // A provider's wire name in lowercase ("runway_gen4") as people call it.
  text = text.replace(/\b[a-z0-9]+(?:_[a-z0-9]+)+\b/g, (word) => (providerName(word.toUpperCase()) !== word.toUpperCase() ? providerName(word.toUpperCase()) : word));
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const STEPS = { video: "Video", voiceover: "Voice-over", composite: "Composite", image: "Image" };
const TYPES = { IMAGE: "Image", VIDEO: "Video", AVATAR: "Avatar video", TTS: "Voice-over", COMPOSITE: "Composite" };

/** A recipe's step (createCreative's node key: "video", "voiceover", "composite", a locale) in words. */
export function stepName(key) {
  return STEPS[key] || LOCALES.find(([code]) => code === key)?.[1] || key;
}

export const typeWord = (type) => TYPES[type] || type;
