// Placeholder: built by the drive screen's owner.
import { html } from "../html.js";

export default function Screen() {
  return html`<h1>drive</h1><p>Coming in this change.</p>`;
}
