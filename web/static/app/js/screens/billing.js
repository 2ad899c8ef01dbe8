// Placeholder: built by the billing screen's owner.
import { html } from "../html.js";

export default function Screen() {
  return html`<h1>billing</h1><p>Coming in this change.</p>`;
}
