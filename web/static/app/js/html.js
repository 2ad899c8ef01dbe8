// One place that binds htm to Preact: every component imports `html` from here.
import { h } from "preact";
import htm from "htm";

export const html = htm.bind(h);
