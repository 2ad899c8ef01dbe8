// Uploads to Drive, as docs/contract.md ("Uploads") documents for a browser: createUpload reserves
// the quota and answers a signed PUT target; the bytes go there with XMLHttpRequest (its upload
// progress events drive the bar; no Authorization header: the URL carries its own); then
// completeUpload waits for the content check (IN_PROGRESS: asked again a moment later).
import { useRef, useState } from "preact/hooks";
import { ApiError, gql, payload } from "../api.js";
import { html } from "../html.js";
import { bytes, ProgressBar } from "../ui.js";

export const FILE_FIELDS = `id name contentType sizeBytes kind source width height durationSeconds url thumbnailUrl
  jobId folderId createdAt`;

const CREATE = `mutation CreateUpload($input: CreateUploadInput!) {
  createUpload(input: $input) { upload { fileId url method headers { name value } } userErrors { code message field } }
}`;
const COMPLETE = `mutation CompleteUpload($fileId: ID!) {
  completeUpload(fileId: $fileId) { file { ${FILE_FIELDS} } userErrors { code message field } }
}`;

/** What Drive accepts (docs/contract.md, "Uploads"): the picker's filter. */
export const ACCEPT = {
  IMAGE: "image/png,image/jpeg,image/webp,image/gif",
  VIDEO: "video/mp4,video/webm,video/quicktime",
  AUDIO: "audio/mpeg,audio/wav,audio/x-wav,audio/aac,audio/ogg,audio/flac",
};

function contentTypeOf(file) {
  if (file.type) return file.type;
  const ext = file.name.split(".").pop().toLowerCase();
  if (["mp4", "m4v", "mov", "webm"].includes(ext)) return "video/mp4";
  if (["mp3", "wav", "aac", "ogg", "flac", "m4a"].includes(ext)) return "audio/mpeg";
  return "image/png";
}

function put(target, file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method || "PUT", target.url);
    for (const header of target.headers) {
      // The browser sets Content-Length itself (a forbidden header for scripts).
      if (header.name.toLowerCase() !== "content-length") xhr.setRequestHeader(header.name, header.value);
    }
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else if (xhr.status === 403) reject(new ApiError("The upload link expired. Upload the file again."));
      else reject(new ApiError(`The upload was refused (${xhr.status}). Upload the file again.`));
    };
    xhr.onerror = () => reject(new ApiError("The upload was interrupted: check your connection and try again."));
    xhr.onabort = () => reject(new ApiError("Upload canceled."));
    signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(file);
  });
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Upload one file to Drive (folderId null: the default folder); resolves to the DriveFile.
 *  onProgress(fraction, phase) with phase "sending" then "checking". */
export async function uploadFile(file, { folderId = null, onProgress = () => {}, signal } = {}) {
  const created = payload(
    (await gql(CREATE, { input: { name: file.name, contentType: contentTypeOf(file), sizeBytes: file.size, folderId } }))
      .createUpload,
  );
  const target = created.upload;
  onProgress(0, "sending");
  await put(target, file, (fraction) => onProgress(fraction, "sending"), signal);
  onProgress(1, "checking");
  for (let attempt = 0; ; attempt += 1) {
    const result = (await gql(COMPLETE, { fileId: target.fileId })).completeUpload;
    if (result.userErrors?.[0]?.code === "IN_PROGRESS" && attempt < 60) {
      await wait(Math.min(1000 * (attempt + 1), 5000));
      continue;
    }
    return payload(result).file;
  }
}

let nextId = 0;

/** The uploads under way and done: [{ id, name, size, progress, phase, error, file }] and start(files). */
export function useUploads({ folderId = null, onUploaded = () => {} } = {}) {
  const [items, setItems] = useState([]);
  const done = useRef(onUploaded);
  done.current = onUploaded;
  const update = (id, change) => setItems((list) => list.map((item) => (item.id === id ? { ...item, ...change } : item)));

  function start(files) {
    for (const file of files) {
      const id = ++nextId;
      setItems((list) => [...list, { id, name: file.name, size: file.size, progress: 0, phase: "sending", error: null, file: null }]);
      uploadFile(file, { folderId, onProgress: (progress, phase) => update(id, { progress, phase }) }).then(
        (stored) => {
          update(id, { phase: "done", progress: 1, file: stored });
          done.current(stored);
        },
        (error) => update(id, { phase: "failed", error }),
      );
    }
  }
  const clear = () => setItems((list) => list.filter((item) => item.phase !== "done" && item.phase !== "failed"));
  return { items, start, clear };
}

/** A drop zone with a file chooser: drag files onto it or pick them; `onFiles(File[])`. */
export function DropZone({ id, onFiles, accept = "", multiple = true, label = "Drop files here", compact = false }) {
  const [over, setOver] = useState(false);
  const input = useRef(null);
  return html`<div class=${`dropzone${over ? " over" : ""}${compact ? " compact" : ""}`} data-testid="dropzone"
      onDragOver=${(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave=${() => setOver(false)}
      onDrop=${(e) => {
        e.preventDefault();
        setOver(false);
        const files = [...(e.dataTransfer?.files || [])];
        if (files.length) onFiles(multiple ? files : files.slice(0, 1));
      }}>
    <span class="dropzone-icon" aria-hidden="true">⇪</span>
    <span>${label} or${" "}</span>
    <label class="button" for=${id}>choose ${multiple ? "files" : "a file"}</label>
    <input id=${id} ref=${input} class="visually-hidden" type="file" accept=${accept} multiple=${multiple}
      onChange=${(e) => {
        const files = [...e.currentTarget.files];
        e.currentTarget.value = "";
        if (files.length) onFiles(files);
      }} />
  </div>`;
}

/** The list of uploads with their progress bars (a live region: screen readers hear "uploaded"). */
export function UploadList({ items, onClear }) {
  if (!items.length) return null;
  const finished = items.some((item) => item.phase === "done" || item.phase === "failed");
  return html`<div class="uploads" aria-live="polite">
    <ul>
      ${items.map((item) => html`<li class=${`upload upload-${item.phase}`} data-testid="upload-item">
        <span class="upload-name" title=${item.name}>${item.name}</span>
        <span class="upload-size">${bytes(item.size)}</span>
        ${item.phase === "sending" && html`<${ProgressBar} value=${item.progress} label=${`Uploading ${item.name}`} />
          <span class="upload-state">${Math.round(item.progress * 100)} %</span>`}
        ${item.phase === "checking" && html`<${ProgressBar} value=${null} label=${`Checking ${item.name}`} />
          <span class="upload-state">Checking…</span>`}
        ${item.phase === "done" && html`<span class="upload-state ok">Uploaded</span>`}
        ${item.phase === "failed" && html`<span class="upload-state bad" role="alert">${item.error?.message || "Failed"}</span>`}
      </li>`)}
    </ul>
    ${finished && onClear && html`<button type="button" class="link" onClick=${onClear}>Clear finished</button>`}
  </div>`;
}
