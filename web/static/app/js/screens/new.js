// Placeholder: built by the new screen's owner.
import { html } from "../html.js";

export default function Screen() {
  return html`<h1>new</h1><p>Coming in this change.</p>`;
}
