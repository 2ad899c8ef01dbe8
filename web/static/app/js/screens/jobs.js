// Placeholder: built by the jobs screen's owner.
import { html } from "../html.js";

export default function Screen() {
  return html`<h1>jobs</h1><p>Coming in this change.</p>`;
}
