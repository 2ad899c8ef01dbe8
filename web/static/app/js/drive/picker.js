// Pickers over the team's Drive: a file of a kind (with thumbnails, a name search and uploads on
// the spot), a folder (for moves), and DriveInput: a form's "input from Drive" control.
import { useEffect, useRef, useState } from "preact/hooks";
import { gql, useQuery } from "../api.js";
import { html } from "../html.js";
import { bytes, ErrorNote, label, Loading, MiddleName, showWhole } from "../ui.js";
import { ACCEPT, DropZone, FILE_FIELDS, UploadList, useUploads } from "./upload.js";

const FILES = `query PickFiles($filter: DriveFileFilter, $first: Int) {
  driveFiles(filter: $filter, first: $first) { totalCount nodes { ${FILE_FIELDS} } }
}`;
const FILE = `query PickedFile($id: ID!) { driveFile(id: $id) { ${FILE_FIELDS} } }`;
export const FOLDERS = `query Folders { driveFolders { ...F children { ...F children { ...F children { ...F children { ...F } } } } } }
fragment F on DriveFolder { id name path parentId isDefault fileCount totalFileCount totalSizeBytes }`;

/** A modal <dialog>: opened on mount, closed (onClose) by Escape, the close button or a pick. */
export function Dialog({ title, onClose, children, wide = false }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.open && dialog.close();
  }, []);
  return html`<dialog ref=${ref} class=${`dialog${wide ? " dialog-wide" : ""}`} aria-labelledby="dialog-title"
      onCancel=${(e) => { e.preventDefault(); onClose(); }}>
    <div class="dialog-head">
      <h2 id="dialog-title">${title}</h2>
      <button type="button" class="icon" aria-label="Close" onClick=${onClose}>✕</button>
    </div>
    <div class="dialog-body">${children}</div>
  </dialog>`;
}

/** A folder's picture (drawn: no icon font is fetched). */
export function FolderIcon({ small = false }) {
  const size = small ? 18 : 30;
  return html`<svg class="folder-icon" width=${size} height=${size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
    <path d="M2 6.5A2.5 2.5 0 0 1 4.5 4h4.2l2 2.2h8.8A2.5 2.5 0 0 1 22 8.7v9.8a2.5 2.5 0 0 1-2.5 2.5h-15A2.5 2.5 0 0 1 2 18.5z" fill="#f4c152" stroke="#c9962a" stroke-width="1" />
  </svg>`;
}

/** A file's small picture: its thumbnail (a logo or a transparent image shown whole, on a
 *  checkerboard), else a tile naming its kind. */
export function Thumb({ file, className = "thumb" }) {
  if (file?.thumbnailUrl) return html`<img class=${`${className}${showWhole(file) ? " whole" : ""}`} src=${file.thumbnailUrl} alt="" loading="lazy" />`;
  const icon = { IMAGE: "▧", VIDEO: "▶", AUDIO: "♪" }[file?.kind] || "▢";
  return html`<span class=${`${className} thumb-icon`} aria-hidden="true">${icon}</span>`;
}

function fileFacts(file) {
  const parts = [label(file.kind)];
  if (file.width && file.height) parts.push(`${file.width}×${file.height}`);
  if (file.durationSeconds) parts.push(`${Number(file.durationSeconds).toFixed(1)} s`);
  parts.push(bytes(file.sizeBytes));
  return parts.join(" · ");
}

/** Pick a Drive file of `kind` (IMAGE, VIDEO, AUDIO or null: any); onPick(file). */
export function FilePicker({ kind = null, onPick, onClose, title }) {
  const [search, setSearch] = useState("");
  const filter = { ...(kind ? { kind } : {}), ...(search.trim() ? { name: search.trim() } : {}) };
  const files = useQuery(FILES, { filter, first: 60 }, [kind, search]);
  const uploads = useUploads({ onUploaded: (file) => onPick(file) });
  const list = files.data?.driveFiles.nodes || [];
  return html`<${Dialog} title=${title || `Choose ${{ IMAGE: "an image", VIDEO: "a video", AUDIO: "an audio file" }[kind] || "a file"} from Drive`} onClose=${onClose} wide>
    <div class="field">
      <label for="picker-search">Search by name</label>
      <input id="picker-search" type="search" value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} />
    </div>
    <${DropZone} id="picker-upload" accept=${kind ? ACCEPT[kind] : ""} multiple=${false} compact
      label="Not in Drive yet? Drop it here" onFiles=${(f) => uploads.start(f)} />
    <${UploadList} items=${uploads.items} />
    <${ErrorNote} error=${files.error} />
    ${files.loading && !files.data ? html`<${Loading} what="Reading Drive" />` : null}
    ${files.data && !list.length ? html`<p class="empty">No ${kind ? label(kind).toLowerCase() + " " : ""}files${search ? ` matching “${search}”` : ""} yet. Upload one above.</p>` : null}
    <ul class="pick-grid" role="list">
      ${list.map((file) => html`<li>
        <button type="button" class="pick" onClick=${() => onPick(file)} aria-label=${`Use ${file.name}`}>
          <${Thumb} file=${file} className="pick-thumb" />
          <${MiddleName} name=${file.name} className="pick-name" />
          <span class="pick-facts">${fileFacts(file)}</span>
        </button>
      </li>`)}
    </ul>
  <//>`;
}

function flatten(folders, depth = 0, out = []) {
  for (const folder of folders || []) {
    out.push({ ...folder, depth });
    flatten(folder.children, depth + 1, out);
  }
  return out;
}

/** Every folder of the tree, flattened in order with its depth. */
export function useFolders() {
  const result = useQuery(FOLDERS, {}, []);
  return { ...result, flat: flatten(result.data?.driveFolders) };
}

/** Pick a folder (for a move): `exclude` (an id) and its subfolders are not offered; allowTop adds "Top level". */
export function FolderPicker({ title, onPick, onClose, exclude = null, allowTop = false, current = null }) {
  const folders = useFolders();
  let skipDepth = null;
  const options = [];
  for (const folder of folders.flat) {
    if (skipDepth != null && folder.depth > skipDepth) continue;
    skipDepth = null;
    if (folder.id === exclude) {
      skipDepth = folder.depth;
      continue;
    }
    options.push(folder);
  }
  const [chosen, setChosen] = useState(undefined);
  return html`<${Dialog} title=${title} onClose=${onClose}>
    <${ErrorNote} error=${folders.error} />
    ${folders.loading && !folders.data ? html`<${Loading} what="Reading folders" />` : null}
    <fieldset class="folder-choices">
      <legend class="visually-hidden">Destination folder</legend>
      ${allowTop && html`<label class="folder-choice">
        <input type="radio" name="dest" checked=${chosen === null} onChange=${() => setChosen(null)} /> Top level
      </label>`}
      ${options.map((folder) => html`<label class="folder-choice" style=${`padding-left:${8 + folder.depth * 18}px`}>
        <input type="radio" name="dest" checked=${chosen === folder.id} onChange=${() => setChosen(folder.id)}
          disabled=${folder.id === current} />
        <${FolderIcon} small /> ${folder.name}${folder.id === current ? " (here now)" : ""}
      </label>`)}
    </fieldset>
    <div class="actions dialog-actions">
      <button type="button" onClick=${onClose}>Cancel</button>
      <button type="button" class="primary" disabled=${chosen === undefined} onClick=${() => onPick(chosen)}>Move here</button>
    </div>
  <//>`;
}

/** A form's Drive input: the chosen file (thumbnail, name, facts) with "Choose from Drive",
 *  "Remove", and a drop zone to upload one on the spot. value: a DriveFile or null. */
export function DriveInput({ id, kind = "IMAGE", value, onChange, label: text, hint, error, optional = true }) {
  const [picking, setPicking] = useState(false);
  const uploads = useUploads({ onUploaded: (file) => onChange(file) });
  const busy = uploads.items.some((item) => item.phase === "sending" || item.phase === "checking");
  return html`<div class=${`field drive-input${error ? " has-error" : ""}`} data-field=${id}>
    <span class="label" id=${`${id}-label`}>${text}${optional ? html` <span class="optional">(optional)</span>` : null}</span>
    ${value
      ? html`<div class="chosen" data-testid=${`${id}-chosen`}>
          <${Thumb} file=${value} />
          <div class="chosen-text"><strong><${MiddleName} name=${value.name} tail=${20} /></strong><small class="hint">${fileFacts(value)}</small></div>
          <div class="actions">
            <button type="button" onClick=${() => setPicking(true)} aria-describedby=${`${id}-label`}>Change</button>
            <button type="button" onClick=${() => onChange(null)} aria-describedby=${`${id}-label`}>Remove</button>
          </div>
        </div>`
      : html`<div class="chooser">
          <button type="button" id=${id} onClick=${() => setPicking(true)} aria-describedby=${`${id}-label`}>Choose from Drive</button>
          <${DropZone} id=${`${id}-upload`} accept=${ACCEPT[kind] || `${ACCEPT.IMAGE},${ACCEPT.VIDEO}`} multiple=${false} compact
            label=${busy ? "Uploading" : "Drop a file here"} onFiles=${(f) => uploads.start(f)} />
        </div>`}
    <${UploadList} items=${uploads.items.filter((item) => item.phase !== "done")} />
    ${hint ? html`<small class="hint">${hint}</small>` : null}
    ${error ? html`<small class="field-error" id=${`${id}-error`}>${error}</small>` : null}
    ${picking && html`<${FilePicker} kind=${kind} onClose=${() => setPicking(false)}
      onPick=${(file) => { setPicking(false); onChange(file); }} />`}
  </div>`;
}

/** Read one Drive file by id (a prefilled input): resolves to the file or null. */
export async function readFile(id) {
  try {
    return (await gql(FILE, { id })).driveFile;
  } catch {
    return null;
  }
}
