// Hand-written SVG charts for the billing screen: spend over time (vertical bars) and spend by a
// category (horizontal bars). Each chart is a <figure>: the SVG is one image for screen readers
// (role="img", an aria-label that says what it shows and the biggest values) and the same numbers
// are in a "Show as table" disclosure beside it. Drawn at the pixel width of their box (a
// ResizeObserver), so text keeps its size on a phone instead of being scaled down with the drawing.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { money } from "../ui.js";

/** The content width of the element behind `ref`, followed as it resizes (0 until measured). */
export function useWidth(ref) {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = ref.current;
    if (!element) return undefined;
    setWidth(element.clientWidth);
    const observer = new ResizeObserver((entries) => setWidth(Math.floor(entries[0].contentRect.width)));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return width;
}

/** A "nice" top for an axis over [0, max]: 1, 2, 2.5 or 5 × 10^n cents, and its tick step. */
export function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: 100, step: 25 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return { top: step * Math.ceil(max / step), step };
}

/** Axis labels: whole dollars when the scale allows, else cents. */
function axisMoney(cents, step) {
  return step >= 100 && cents % 100 === 0 ? `$${cents / 100}` : money(cents);
}

function jobs(n) {
  return `${n} ${n === 1 ? "job" : "jobs"}`;
}

/** "Spend by provider, last 7 days: total $1.11. Runway Gen-4 $0.60 (1 job); …" (the top 8). */
function summary(title, rows, totalCents, { skipZero = false } = {}) {
  const shown = (skipZero ? rows.filter((r) => r.costCents > 0) : rows).slice(0, 8);
  const parts = shown.map((r) => `${r.label} ${money(r.costCents)} (${jobs(r.jobCount)})`);
  const more = rows.length > shown.length && !skipZero ? `; and ${rows.length - shown.length} more` : "";
  if (!parts.length) return `${title}: no spend.`;
  return `${title}: total ${money(totalCents)}. ${parts.join("; ")}${more}.`;
}

function DataTable({ caption, keyHeading, rows, totalCents }) {
  return html`<details class="chart-table">
    <summary>Show as table</summary>
    <table>
      <caption class="visually-hidden">${caption}</caption>
      <thead><tr><th scope="col">${keyHeading}</th><th scope="col" class="num">Jobs</th><th scope="col" class="num">Spend</th></tr></thead>
      <tbody>
        ${rows.map((r) => html`<tr key=${r.key}><th scope="row">${r.label}</th><td class="num">${r.jobCount}</td><td class="num">${money(r.costCents)}</td></tr>`)}
      </tbody>
      <tfoot><tr><th scope="row">Total</th><td class="num">${rows.reduce((n, r) => n + r.jobCount, 0)}</td><td class="num">${money(totalCents)}</td></tr></tfoot>
    </table>
  </details>`;
}

/** The time table: a row per period with one column per series (the chart's colours) and the total. */
function TimeTable({ caption, keyHeading, rows, totalCents, series }) {
  const sum = (key) => rows.reduce((n, r) => n + (r.parts?.[key] || 0), 0);
  return html`<details class="chart-table">
    <summary>Show as table</summary>
    <div class="chart-table-scroll">
    <table>
      <caption class="visually-hidden">${caption}</caption>
      <thead><tr><th scope="col">${keyHeading}</th>
        ${series.map((s) => html`<th scope="col" class="num" key=${s.key}><i class="swatch" style=${`background:${s.color}`} aria-hidden="true"></i>${s.label}</th>`)}
        <th scope="col" class="num">Jobs</th><th scope="col" class="num">Spend</th></tr></thead>
      <tbody>
        ${rows.map((r) => html`<tr key=${r.key}><th scope="row">${r.label}</th>
          ${series.map((s) => html`<td class="num" key=${s.key}>${r.parts?.[s.key] ? money(r.parts[s.key]) : "–"}</td>`)}
          <td class="num">${r.jobCount}</td><td class="num">${money(r.costCents)}</td></tr>`)}
      </tbody>
      <tfoot><tr><th scope="row">Total</th>
        ${series.map((s) => html`<td class="num" key=${s.key}>${money(sum(s.key))}</td>`)}
        <td class="num">${rows.reduce((n, r) => n + r.jobCount, 0)}</td><td class="num">${money(totalCents)}</td></tr></tfoot>
    </table>
    </div>
  </details>`;
}

/**
 * Spend over time: one vertical bar per row (rows in time order, each { key, label, short, costCents,
 * jobCount, parts: { [seriesKey]: cents } }), stacked by `series` ([{ key, label, color }], the first
 * at the bottom: the legend's order), a y axis in dollars, x labels thinned to fit.
 */
export function TimeBars({ id, title, rows, totalCents, series = [], keyHeading = "Day", height = 220 }) {
  const box = useRef(null);
  const width = useWidth(box);
  const [hover, setHover] = useState(null);
  const max = Math.max(0, ...rows.map((r) => r.costCents));
  const { top, step } = niceScale(max);
  const left = 52;
  const right = 8;
  const topPad = 12;
  const bottom = 26;
  const plotW = Math.max(0, width - left - right);
  const plotH = height - topPad - bottom;
  const slot = rows.length ? plotW / rows.length : 0;
  const barW = Math.max(2, Math.min(36, slot * 0.7));
  const y = (cents) => topPad + plotH - (cents / top) * plotH;
  const every = Math.max(1, Math.ceil(rows.length / Math.max(1, Math.floor(plotW / 56))));
  const ticks = [];
  for (let v = 0; v <= top + 1e-9; v += step) ticks.push(v);
  const label = summary(title, rows, totalCents, { skipZero: true });
  const active = hover == null ? null : rows[hover];
  const split = (r) => series.filter((s) => r.parts?.[s.key] > 0).map((s) => `${s.label} ${money(r.parts[s.key])}`).join(", ");
  return html`<figure class="chart" data-chart=${id}>
    <figcaption><span class="chart-title">${title}</span>
      <span class="chart-readout" aria-hidden="true">${active ? `${active.label}: ${money(active.costCents)}${split(active) ? ` (${split(active)})` : ""} · ${jobs(active.jobCount)}` : ""}</span>
    </figcaption>
    <div class="chart-box" ref=${box} style=${`height:${height}px`}>
      ${width > 0 && html`<svg width=${width} height=${height} role="img" aria-label=${label} onMouseLeave=${() => setHover(null)}>
        <g class="grid">
          ${ticks.map((v) => html`<g key=${v}>
            <line x1=${left} x2=${width - right} y1=${y(v)} y2=${y(v)} />
            <text x=${left - 6} y=${y(v)} dy="0.32em" text-anchor="end">${axisMoney(v, step)}</text>
          </g>`)}
        </g>
        ${rows.map((r, i) => {
          const x = left + i * slot + (slot - barW) / 2;
          const h = Math.max(r.costCents > 0 ? 1.5 : 0, (r.costCents / top) * plotH);
          // The stack's segments, bottom up; what no series names (none, before the split loads) is one plain segment.
          let below = 0;
          const segments = [];
          for (const s of series) {
            const cents = r.parts?.[s.key] || 0;
            if (cents <= 0) continue;
            segments.push({ key: s.key, label: s.label, color: s.color, from: below, cents });
            below += cents;
          }
          if (r.costCents - below > 0) segments.push({ key: "other", label: "Other", color: null, from: below, cents: r.costCents - below });
          return html`<g key=${r.key} class=${`col${hover === i ? " hover" : ""}`} onMouseEnter=${() => setHover(i)}>
            <rect class="hit" x=${left + i * slot} y=${topPad} width=${slot} height=${plotH} />
            <g class="bar" data-key=${r.key} data-cents=${r.costCents}>
              <title>${r.label}: ${money(r.costCents)}${split(r) ? ` (${split(r)})` : ""}, ${jobs(r.jobCount)}</title>
              ${segments.map((seg) => {
                const y0 = topPad + plotH - (seg.from / r.costCents) * h;
                const sh = (seg.cents / r.costCents) * h;
                return html`<rect class="seg" key=${seg.key} data-series=${seg.key} data-cents=${seg.cents}
                  x=${x} y=${y0 - sh} width=${barW} height=${sh} style=${seg.color ? `fill:${seg.color}` : null} />`;
              })}
            </g>
            ${i % every === 0 && html`<text class="xlabel" x=${left + i * slot + slot / 2} y=${height - 8} text-anchor="middle">${r.short || r.label}</text>`}
          </g>`;
        })}
        <line class="axis" x1=${left} x2=${width - right} y1=${topPad + plotH} y2=${topPad + plotH} />
      </svg>`}
    </div>
    <${TimeTable} caption=${title} keyHeading=${keyHeading} rows=${rows} totalCents=${totalCents} series=${series} />
  </figure>`;
}

/**
 * Spend by a category: one horizontal bar per row (biggest first), its name on the left and its
 * amount at the end of the bar. rows: { key, label, costCents, jobCount, color? }.
 */
export function CategoryBars({ id, title, rows, totalCents, keyHeading, empty = "No spend in this period." }) {
  const box = useRef(null);
  const width = useWidth(box);
  // The names' column is as wide as the longest name; when that would take more than 45 % of the
  // chart (a long member name, a phone) every name goes on its own line above its bar instead: a
  // name is cut only when it is wider than the whole chart, never while there is room.
  const longest = Math.max(0, ...rows.map((r) => textWidth(r.label)));
  const above = width > 0 && longest + 14 > width * 0.45;
  const rowH = above ? 42 : 30;
  const height = Math.max(1, rows.length) * rowH + 4;
  const labelW = above ? 0 : Math.ceil(Math.max(90, longest + 14));
  const valueW = 64;
  const barMax = Math.max(0, width - labelW - valueW - 8);
  const barH = above ? 16 : rowH - 12;
  const max = Math.max(1, ...rows.map((r) => r.costCents));
  const label = summary(title, rows, totalCents);
  return html`<figure class="chart" data-chart=${id}>
    <figcaption><span class="chart-title">${title}</span></figcaption>
    ${rows.length === 0
      ? html`<p class="chart-empty">${empty}</p>`
      : html`<div class="chart-box" ref=${box} style=${`height:${height}px`}>
      ${width > 0 && html`<svg width=${width} height=${height} role="img" aria-label=${label} class=${above ? "labels-above" : ""}>
        ${rows.map((r, i) => {
          const w = Math.max(r.costCents > 0 ? 2 : 0, (r.costCents / max) * barMax);
          const yTop = i * rowH + 4;
          const barY = above ? yTop + 20 : yTop + 4;
          return html`<g key=${r.key}>
            ${above
              ? html`<text class="ylabel" x="0" y=${yTop + 8} dy="0.32em">${clip(r.label, width + 14, r.suffix)}</text>`
              : html`<text class="ylabel" x=${labelW - 8} y=${yTop + rowH / 2 - 2} dy="0.32em" text-anchor="end">${clip(r.label, labelW, r.suffix)}</text>`}
            <rect class="track" x=${labelW} y=${barY} width=${barMax} height=${barH} rx="3" />
            <rect class="bar" data-key=${r.key} data-cents=${r.costCents} x=${labelW} y=${barY} width=${w} height=${barH} rx="3"
              style=${r.color ? `fill:${r.color}` : null}>
              <title>${r.label}: ${money(r.costCents)}, ${jobs(r.jobCount)}</title>
            </rect>
            <text class="value" x=${labelW + w + 6} y=${barY + barH / 2} dy="0.32em">${money(r.costCents)}</text>
          </g>`;
        })}
      </svg>`}
    </div>`}
    ${rows.length > 0 && html`<${DataTable} caption=${title} keyHeading=${keyHeading} rows=${rows} totalCents=${totalCents} />`}
  </figure>`;
}

let measurer = null;

/** The width in pixels of `text` drawn as the charts draw it (12 px in the page's font). */
export function textWidth(text) {
  if (!measurer) {
    measurer = document.createElement("canvas").getContext("2d");
    measurer.font = `12px ${getComputedStyle(document.body).fontFamily || "sans-serif"}`;
  }
  return measurer ? measurer.measureText(String(text)).width : String(text).length * 7.4;
}

/** A label cut to fit `px` pixels of 12 px text (the full name is in the table and the title).
 *  A `suffix` the label ends with (" (you)") stays whole: the name before it is what is cut. */
function clip(text, px, suffix = "") {
  const room = px - 14;
  if (textWidth(text) <= room + 0.5) return text;
  const keep = suffix && text.endsWith(suffix) ? suffix : "";
  let name = text.slice(0, text.length - keep.length);
  while (name.length > 3 && textWidth(`${name}…${keep}`) > room) name = name.slice(0, -1);
  return `${name.trimEnd()}…${keep}`;
}
