// Placeholder: built by the job screen's owner.
import { html } from "../html.js";

export default function Screen() {
  return html`<h1>job</h1><p>Coming in this change.</p>`;
}
