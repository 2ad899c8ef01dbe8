// Drive (#/drive, #/drive/<folderId>): folders and files with thumbnails (grid or list),
// breadcrumbs, usage against the quota, uploads with progress (drop or pick, several at once),
// new folder, move, rename, delete (recursive says how much), preview, and "use as input".
// Outputs of jobs that complete while the page is open appear by themselves (jobsUpdated).
import { useEffect, useRef, useState } from "preact/hooks";
import { gql, payload, useQuery, useSubscription } from "../api.js";
import { Dialog, FolderIcon, FolderPicker, Thumb, useFolders } from "../drive/picker.js";
import { DropZone, FILE_FIELDS, UploadList, useUploads } from "../drive/upload.js";
import { html } from "../html.js";
import { kindForFile } from "../new/build.js";
import { bytes, dateTime, EmptyState, ErrorNote, label, Loading, MiddleName, Notice } from "../ui.js";

const FILES = `query DriveFiles($folderId: ID, $filter: DriveFileFilter, $first: Int, $after: String) {
  driveFiles(folderId: $folderId, filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { ${FILE_FIELDS} job { id type provider prompt } }
  }
}`;
const JOB_KINDS = { IMAGE: "Image", VIDEO: "Video", AVATAR: "Avatar", TTS: "Voice-over", COMPOSITE: "Composite" };
const USAGE = `query Usage { driveUsage { usedBytes quotaBytes availableBytes } }`;
const JOB_DONE = `subscription DriveJobs { jobsUpdated(filter: { status: COMPLETED }) { id status } }`;

const M = {
  createFolder: `mutation($name: String!, $parentId: ID) { createDriveFolder(name: $name, parentId: $parentId) { folder { id } userErrors { code message field } } }`,
  renameFolder: `mutation($id: ID!, $name: String!) { renameDriveFolder(id: $id, name: $name) { folder { id } userErrors { code message field } } }`,
  moveFolder: `mutation($id: ID!, $parentId: ID) { moveDriveFolder(id: $id, parentId: $parentId) { folder { id } userErrors { code message field } } }`,
  deleteFolder: `mutation($id: ID!, $recursive: Boolean!) { deleteDriveFolder(id: $id, recursive: $recursive) { deletedId deletedFiles deletedFolders freedBytes userErrors { code message field } } }`,
  renameFile: `mutation($id: ID!, $name: String!) { renameDriveFile(id: $id, name: $name) { file { id name } userErrors { code message field } } }`,
  moveFile: `mutation($id: ID!, $folderId: ID!) { moveDriveFile(id: $id, folderId: $folderId) { file { id } userErrors { code message field } } }`,
  deleteFile: `mutation($id: ID!) { deleteDriveFile(id: $id) { deletedId freedBytes userErrors { code message field } } }`,
};

async function run(mutation, variables) {
  const data = await gql(M[mutation], variables);
  return payload(Object.values(data)[0]);
}

function UsageMeter({ usage }) {
  if (!usage) return null;
  const used = Number(usage.usedBytes);
  const quota = Number(usage.quotaBytes);
  const ratio = quota ? Math.min(1, used / quota) : 0;
  return html`<div class=${`usage${ratio > 0.9 ? " usage-high" : ""}`} data-testid="drive-usage">
    <div class="usage-text"><strong>${bytes(used)}</strong> of ${bytes(quota)} used</div>
    <div class="usage-bar" role="meter" aria-label="Drive storage used" aria-valuemin="0" aria-valuemax=${quota} aria-valuenow=${used}
      aria-valuetext=${`${bytes(used)} of ${bytes(quota)}`}><span style=${`width:${Math.max(ratio * 100, used ? 0.8 : 0)}%`}></span></div>
    <small class="hint">${bytes(usage.availableBytes)} free for uploads</small>
  </div>`;
}

function Crumbs({ folder, byId }) {
  const chain = [];
  for (let f = folder; f; f = f.parentId ? byId[f.parentId] : null) chain.unshift(f);
  return html`<nav class="crumbs" aria-label="Folder path">
    ${chain.length ? html`<a href="#/drive">Drive</a>` : html`<span aria-current="page">Drive</span>`}
    ${chain.map((f, i) => html` <span aria-hidden="true">/</span> ${i === chain.length - 1
      ? html`<span aria-current="page">${f.name}</span>` : html`<a href=${`#/drive/${f.id}`}>${f.name}</a>`}`)}
  </nav>`;
}

function Preview({ file, onClose }) {
  return html`<${Dialog} title=${file.name} onClose=${onClose} wide>
    <div class="preview">
      ${file.kind === "IMAGE" ? html`<img class="media" src=${file.url} alt=${file.name} />` : null}
      ${file.kind === "VIDEO" ? html`<video class="media" src=${file.url} controls playsinline preload="metadata" poster=${file.thumbnailUrl || undefined}></video>` : null}
      ${file.kind === "AUDIO" ? html`<audio src=${file.url} controls preload="metadata" aria-label=${`Play ${file.name}`}></audio>` : null}
    </div>
    <dl class="facts">
      <dt>Kind</dt><dd>${label(file.kind)}${file.width ? ` · ${file.width}×${file.height}` : ""}${file.durationSeconds ? ` · ${Number(file.durationSeconds).toFixed(1)} s` : ""}</dd>
      <dt>Size</dt><dd>${bytes(file.sizeBytes)}</dd>
      <dt>Source</dt><dd>${file.job ? html`Made by <a href=${`#/jobs/${file.job.id}`}>the ${(JOB_KINDS[file.job.type] || file.job.type).toLowerCase()} job</a>${file.job.prompt ? html`: “${file.job.prompt}”` : null}` : "Uploaded"}</dd>
      <dt>Added</dt><dd>${dateTime(file.createdAt)}</dd>
    </dl>
    <div class="actions dialog-actions">
      <a class="button" href=${file.url} download=${file.name}>Download</a>
      <a class="button primary" href=${`#/new/${kindForFile(file)}?input=${file.id}`}>Use as input</a>
    </div>
  <//>`;
}

function NameDialog({ title, initial = "", action, onSubmit, onClose }) {
  const [name, setName] = useState(initial);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  return html`<${Dialog} title=${title} onClose=${onClose}>
    <form onSubmit=${async (e) => {
      e.preventDefault();
      setBusy(true);
      setError(null);
      try {
        await onSubmit(name.trim());
      } catch (err) {
        setError(err);
        setBusy(false);
      }
    }}>
      <div class="field"><label for="name-input">Name</label>
        <input id="name-input" value=${name} autofocus onInput=${(e) => setName(e.currentTarget.value)} required
          aria-invalid=${error ? "true" : null} aria-describedby=${error ? "name-error" : null} /></div>
      ${error ? html`<p class="field-error" id="name-error" role="alert">${error.message}</p>` : null}
      <div class="actions dialog-actions">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy || !name.trim()}>${action}</button>
      </div>
    </form>
  <//>`;
}

function ConfirmDelete({ target, onConfirm, onClose }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const { kind, item } = target;
  const nested = kind === "folder" && (item.totalFileCount > 0 || item.children?.length > 0);
  const subfolders = kind === "folder" ? countFolders(item) : 0;
  return html`<${Dialog} title=${kind === "folder" ? `Delete the folder “${item.name}”?` : `Delete “${item.name}”?`} onClose=${onClose}>
    ${kind === "file"
      ? html`<p>The file (${bytes(item.sizeBytes)}) is deleted from Drive for your whole team. Jobs that made it keep their record.</p>`
      : nested
        ? html`<p class="danger-text">Everything in it is deleted too: <strong>${item.totalFileCount} file${item.totalFileCount === 1 ? "" : "s"}</strong>${subfolders ? html` and <strong>${subfolders} folder${subfolders === 1 ? "" : "s"}</strong>` : null}, ${bytes(item.totalSizeBytes)}.</p>`
        : html`<p>The folder is empty.</p>`}
    <p>This cannot be undone.</p>
    <${ErrorNote} error=${error} />
    <div class="actions dialog-actions">
      <button type="button" onClick=${onClose}>Cancel</button>
      <button type="button" class="danger-solid" disabled=${busy} onClick=${async () => {
        setBusy(true);
        try {
          await onConfirm(nested);
        } catch (err) {
          setError(err);
          setBusy(false);
        }
      }}>${nested ? `Delete folder and ${item.totalFileCount} file${item.totalFileCount === 1 ? "" : "s"}` : "Delete"}</button>
    </div>
  <//>`;
}

/** The folders among `folders` and under them whose name has `text` (any case). */
function folderMatches(folders, text, out = []) {
  const needle = text.toLowerCase();
  for (const f of folders || []) {
    if (f.name.toLowerCase().includes(needle)) out.push(f);
    folderMatches(f.children, text, out);
  }
  return out;
}

function countFolders(folder) {
  return (folder.children || []).reduce((n, child) => n + 1 + countFolders(child), 0);
}

/** A small menu of actions (a <details> disclosure: keyboard and screen reader friendly). */
function Menu({ name, items }) {
  const ref = useRef(null);
  useEffect(() => {
    // Closed by a click elsewhere or Escape (focus back on its button), as a menu is.
    const outside = (e) => ref.current?.open && !ref.current.contains(e.target) && (ref.current.open = false);
    const escape = (e) => {
      if (e.key === "Escape" && ref.current?.open) {
        ref.current.open = false;
        ref.current.querySelector("summary")?.focus();
      }
    };
    document.addEventListener("click", outside);
    document.addEventListener("keydown", escape);
    return () => {
      document.removeEventListener("click", outside);
      document.removeEventListener("keydown", escape);
    };
  }, []);
  return html`<details class="menu" ref=${ref}>
    <summary aria-label=${`Actions for ${name}`} title="Actions">⋯</summary>
    <div class="menu-items" role="group" aria-label=${`Actions for ${name}`}>
      ${items.map(([text, act, cls]) => html`<button type="button" class=${cls || ""} onClick=${() => { ref.current.open = false; act(); }}>${text}</button>`)}
    </div>
  </details>`;
}

export default function DriveScreen({ route }) {
  const folderId = route.params[0] || null;
  const [view, setView] = useState(() => sessionStorage.getItem("creative-hub.drive-view") || "grid");
  const [kind, setKind] = useState("");
  const [search, setSearch] = useState("");
  const [typed, setTyped] = useState("");
  const [dialog, setDialog] = useState(null);
  const [message, setMessage] = useState(null);
  const [more, setMore] = useState({ nodes: [], after: null });
  const searchTimer = useRef(null);

  const folders = useFolders();
  const byId = Object.fromEntries(folders.flat.map((f) => [f.id, f]));
  const folder = folderId ? byId[folderId] : null;
  const defaultFolder = folders.flat.find((f) => f.isDefault);
  const filter = { ...(kind ? { kind } : {}), ...(search ? { name: search } : {}) };
  const files = useQuery(FILES, { folderId, filter, first: 48 }, [folderId, kind, search]);
  const usage = useQuery(USAGE, {}, []);
  const refresh = () => {
    setMore({ nodes: [], after: null });
    files.refetch();
    folders.refetch();
    usage.refetch();
  };
  const uploads = useUploads({ folderId: folderId || defaultFolder?.id || null, onUploaded: () => refresh() });
  const doneTimer = useRef(null);
  useSubscription(JOB_DONE, {}, () => {
    clearTimeout(doneTimer.current);
    doneTimer.current = setTimeout(refresh, 800);
  }, []);
  useEffect(() => setMore({ nodes: [], after: null }), [folderId, kind, search]);
  useEffect(() => setMessage(null), [folderId]);
  useEffect(() => sessionStorage.setItem("creative-hub.drive-view", view), [view]);

  const children = folderId ? folder?.children || [] : folders.data?.driveFolders || [];
  // A search looks through the folders too: every folder under this one whose name has the text.
  const subfolders = search ? folderMatches(children, search) : children;
  const list = [...(files.data?.driveFiles.nodes || []), ...more.nodes];
  const page = files.data?.driveFiles;
  const hasNext = more.after ? more.hasNext : page?.pageInfo.hasNextPage;

  async function loadMore() {
    const after = more.after || page.pageInfo.endCursor;
    const data = await gql(FILES, { folderId, filter, first: 48, after });
    setMore((m) => ({ nodes: [...m.nodes, ...data.driveFiles.nodes], after: data.driveFiles.pageInfo.endCursor, hasNext: data.driveFiles.pageInfo.hasNextPage }));
  }

  const done = (text) => {
    setDialog(null);
    setMessage(text);
    refresh();
  };

  const fileActions = (file) => [
    ["Preview", () => setDialog({ type: "preview", file })],
    ["Use as input", () => { location.hash = `#/new/${kindForFile(file)}?input=${file.id}`; }],
    ["Rename", () => setDialog({ type: "rename-file", file })],
    ["Move", () => setDialog({ type: "move-file", file })],
    ["Delete", () => setDialog({ type: "delete", target: { kind: "file", item: file } }), "danger"],
  ];
  const folderActions = (f) => [
    ["Open", () => { location.hash = `#/drive/${f.id}`; }],
    ["Rename", () => setDialog({ type: "rename-folder", folder: f })],
    ["Move", () => setDialog({ type: "move-folder", folder: f })],
    ...(f.isDefault ? [] : [["Delete", () => setDialog({ type: "delete", target: { kind: "folder", item: f } }), "danger"]]),
  ];

  const title = folderId ? folder?.name || "Folder" : "Drive";
  return html`<div class="drive">
    <div class="drive-head">
      <div>
        <${Crumbs} folder=${folder} byId=${byId} />
        <h1>${title}</h1>
        ${folderId ? null : html`<p class="hint">Every file of your team: job outputs and uploads. New uploads here go to “${defaultFolder?.name || "the default folder"}”.</p>`}
      </div>
      <${UsageMeter} usage=${usage.data?.driveUsage} />
    </div>

    <${DropZone} id="drive-upload" label=${`Drop files to upload to “${folder?.name || defaultFolder?.name || "Drive"}”`} onFiles=${(f) => uploads.start(f)} />
    <${UploadList} items=${uploads.items} onClear=${uploads.clear} />
    ${message ? html`<${Notice}>${message} <button type="button" class="link" onClick=${() => setMessage(null)}>Dismiss</button><//>` : null}

    <div class="toolbar">
      <button type="button" onClick=${() => setDialog({ type: "new-folder" })}>+ New folder</button>
      <div class="field inline"><label for="drive-kind">Show</label>
        <select id="drive-kind" value=${kind} onChange=${(e) => setKind(e.currentTarget.value)}>
          <option value="">All files</option><option value="IMAGE">Images</option><option value="VIDEO">Videos</option><option value="AUDIO">Audio</option>
        </select></div>
      <div class="field inline grow"><label for="drive-search">Search</label>
        <input id="drive-search" type="search" placeholder="Part of a name" value=${typed} onInput=${(e) => {
          const text = e.currentTarget.value;
          setTyped(text);
          clearTimeout(searchTimer.current);
          searchTimer.current = setTimeout(() => setSearch(text.trim()), 300);
        }} /></div>
      <div class="segmented view-toggle" role="group" aria-label="View">
        <button type="button" aria-pressed=${view === "grid"} onClick=${() => setView("grid")}>Grid</button>
        <button type="button" aria-pressed=${view === "list"} onClick=${() => setView("list")}>List</button>
      </div>
    </div>

    <${ErrorNote} error=${folders.error || files.error} />

    ${subfolders.length ? html`<section aria-labelledby="folders-title">
      <h2 id="folders-title" class="section-title">Folders${search ? html` <small class="hint">matching “${search}”</small>` : null}</h2>
      <ul class="folder-grid" role="list">
        ${subfolders.map((f) => html`<li class="folder-tile" data-testid="folder">
          <a href=${`#/drive/${f.id}`} class="folder-link">
            <${FolderIcon} />
            <span class="folder-name" title=${f.name}>${f.name}</span>
            ${search && f.path ? html`<small class="hint folder-path">in ${f.path.split("/").slice(0, -1).join(" / ") || "Drive"}</small>` : null}
            <small class="hint">${f.isDefault ? "Default · " : ""}${f.totalFileCount} file${f.totalFileCount === 1 ? "" : "s"} · ${bytes(f.totalSizeBytes)}</small>
          </a>
          <${Menu} name=${f.name} items=${folderActions(byId[f.id] || f)} />
        </li>`)}
      </ul>
    </section>` : null}

    <section aria-labelledby="files-title">
      <h2 id="files-title" class="section-title">${folderId ? "Files" : "All files"}${page ? html` <small class="hint">${page.totalCount}</small>` : null}</h2>
      ${files.loading && !files.data ? html`<${Loading} what="Reading Drive" />` : null}
      ${page && !list.length ? html`<${EmptyState} title=${search || kind ? "No file matches" : "No files here yet"}>
        <p>${search || kind ? "Try another name or kind." : "Drop images, videos or audio above, or make something in New generation."}</p>
        ${search || kind ? null : html`<a class="button primary" href="#/new">New generation</a>`}
      <//>` : null}
      ${list.length && view === "grid" ? html`<ul class="file-grid" role="list">
        ${list.map((file) => html`<li class="file-tile" data-testid="file" data-file-id=${file.id}>
          <button type="button" class="file-open" onClick=${() => setDialog({ type: "preview", file })} aria-label=${`Preview ${file.name}`}>
            <${Thumb} file=${file} className="file-thumb" />
            ${file.kind === "VIDEO" && file.durationSeconds ? html`<span class="duration">${Number(file.durationSeconds).toFixed(0)} s</span>` : null}
          </button>
          <div class="file-meta">
            <${MiddleName} name=${file.name} className="file-name" tail=${16} />
            <small class="hint">${label(file.kind)} · ${bytes(file.sizeBytes)}${file.source === "GENERATED" ? " · generated" : ""}</small>
          </div>
          <${Menu} name=${file.name} items=${fileActions(file)} />
        </li>`)}
      </ul>` : null}
      ${list.length && view === "list" ? html`<div class="table-wrap"><table class="file-table">
        <thead><tr><th scope="col"><span class="visually-hidden">Preview</span></th><th scope="col">Name</th><th scope="col" class="hide-narrow">Kind</th>
          <th scope="col" class="hide-narrow">Source</th><th scope="col" class="num">Size</th><th scope="col" class="hide-narrow">Added</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.map((file) => html`<tr data-testid="file" data-file-id=${file.id}>
          <td><button type="button" class="file-open small" onClick=${() => setDialog({ type: "preview", file })} aria-label=${`Preview ${file.name}`}><${Thumb} file=${file} /></button></td>
          <td class="name-cell"><${MiddleName} name=${file.name} className="file-name" tail=${16} /></td>
          <td class="hide-narrow">${label(file.kind)}${file.width ? html` <small class="hint">${file.width}×${file.height}</small>` : null}</td>
          <td class="hide-narrow">${file.job ? html`<a href=${`#/jobs/${file.job.id}`}>${JOB_KINDS[file.job.type] || label(file.job.type)} job</a>` : "Uploaded"}</td>
          <td class="num">${bytes(file.sizeBytes)}</td>
          <td class="hide-narrow">${dateTime(file.createdAt)}</td>
          <td><${Menu} name=${file.name} items=${fileActions(file)} /></td>
        </tr>`)}</tbody>
      </table></div>` : null}
      ${hasNext ? html`<div class="more"><button type="button" onClick=${loadMore}>Show more</button></div>` : null}
    </section>

    ${dialog?.type === "preview" ? html`<${Preview} file=${dialog.file} onClose=${() => setDialog(null)} />` : null}
    ${dialog?.type === "new-folder" ? html`<${NameDialog} title=${folder ? `New folder in “${folder.name}”` : "New folder"} action="Create"
      onClose=${() => setDialog(null)} onSubmit=${async (name) => { await run("createFolder", { name, parentId: folderId }); done(`Folder “${name}” created.`); }} />` : null}
    ${dialog?.type === "rename-file" ? html`<${NameDialog} title="Rename file" initial=${dialog.file.name} action="Rename"
      onClose=${() => setDialog(null)} onSubmit=${async (name) => { const out = await run("renameFile", { id: dialog.file.id, name }); done(`Renamed to “${out.file.name}”.`); }} />` : null}
    ${dialog?.type === "rename-folder" ? html`<${NameDialog} title="Rename folder" initial=${dialog.folder.name} action="Rename"
      onClose=${() => setDialog(null)} onSubmit=${async (name) => { await run("renameFolder", { id: dialog.folder.id, name }); done(`Folder renamed to “${name}”.`); }} />` : null}
    ${dialog?.type === "move-file" ? html`<${FolderPicker} title=${`Move “${dialog.file.name}” to…`} current=${dialog.file.folderId}
      onClose=${() => setDialog(null)} onPick=${async (dest) => {
        try { await run("moveFile", { id: dialog.file.id, folderId: dest }); done(`Moved “${dialog.file.name}” to “${byId[dest]?.name}”.`); } catch (e) { done(e.message); }
      }} />` : null}
    ${dialog?.type === "move-folder" ? html`<${FolderPicker} title=${`Move “${dialog.folder.name}” to…`} exclude=${dialog.folder.id} allowTop current=${dialog.folder.parentId}
      onClose=${() => setDialog(null)} onPick=${async (dest) => {
        try { await run("moveFolder", { id: dialog.folder.id, parentId: dest }); done(`Moved “${dialog.folder.name}”.`); } catch (e) { done(e.message); }
      }} />` : null}
    ${dialog?.type === "delete" ? html`<${ConfirmDelete} target=${dialog.target} onClose=${() => setDialog(null)} onConfirm=${async (recursive) => {
      const { kind: what, item } = dialog.target;
      const out = what === "file" ? await run("deleteFile", { id: item.id }) : await run("deleteFolder", { id: item.id, recursive });
      done(what === "file" ? `Deleted “${item.name}” (${bytes(out.freedBytes)} freed).`
        : `Deleted “${item.name}”: ${out.deletedFiles} file${out.deletedFiles === 1 ? "" : "s"}, ${out.deletedFolders} folder${out.deletedFolders === 1 ? "" : "s"}, ${bytes(out.freedBytes)} freed.`);
      if (what === "folder" && item.id === folderId) location.hash = item.parentId ? `#/drive/${item.parentId}` : "#/drive";
    }} />` : null}
  </div>`;
}
