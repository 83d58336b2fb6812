// One Vega-Lite chart drawn with the shared runtime, then kept current in place.
//
// Drawing (vega-embed) happens once per chart and view. A data change goes through the
// vega View API (view.change(name, changeset).runAsync()): the same view, the same
// listeners, a few kilobytes. Listeners are never added per update, so they cannot pile
// up over hundreds of redraws.
//
// Rows are hostile data: the tooltip is built from text nodes (vega-tooltip's default
// handler writes HTML), vega-embed adds no style element and no actions menu (which
// links out to an online editor), and expressions run in vega's interpreter (no
// JavaScript is generated from a spec and evaluated).

import { h, clear } from "./dom.js";

const EMBED_OPTIONS = {
  actions: false,
  renderer: "svg",
  defaultStyle: false,
  mode: "vega-lite",
  ast: true,
};

/** The names of the datasets a Vega-Lite spec reads ({data: {name}} anywhere in it). */
export function datasetNames(spec) {
  const names = new Set();
  const visit = (node) => {
    if (Array.isArray(node)) {
      node.forEach(visit);
    } else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "data" && value && typeof value.name === "string") names.add(value.name);
        else if (key !== "datasets") visit(value);
      }
    }
  };
  visit(spec);
  return [...names];
}

/** JupyterLab's or VS Code's dark theme: draw with vega's dark theme to stay readable. */
function darkTheme() {
  const body = globalThis.document && document.body;
  if (!body) return false;
  return body.dataset.jpThemeLight === "false" || body.classList.contains("vscode-dark");
}

/** Fresh copies: vega tags the objects it ingests, and rows are shared between views. */
const copyRows = (rows) =>
  Array.isArray(rows) ? rows.map((row) => (row && typeof row === "object" ? { ...row } : row)) : rows;

/** A tooltip made of text nodes, placed inside the chart's own box. */
function tooltipHandler(box) {
  const tip = h("div", { class: "hitl-chart-tooltip", role: "tooltip", hidden: true });
  box.appendChild(tip);
  const handler = (_handler, event, _item, value) => {
    if (value === null || value === undefined || value === "") {
      tip.hidden = true;
      return;
    }
    const lines =
      typeof value === "object"
        ? Object.entries(value).map(([key, v]) => h("div", null, h("b", { text: `${key}: ` }), String(v)))
        : [h("div", { text: String(value) })];
    clear(tip).append(...lines);
    tip.hidden = false;
    const rect = box.getBoundingClientRect();
    const x = Math.max(0, Math.min(event.clientX - rect.left + 12, rect.width - tip.offsetWidth));
    tip.style.left = `${x}px`;
    tip.style.top = `${event.clientY - rect.top + 12}px`;
  };
  return { handler, tip };
}

/**
 * Draw `spec` (rows of its named datasets in `rows`) into `box`.
 * Returns {update(changed), finalize(), view}, or throws what vega-embed threw.
 * `onSelect(values)`: a click on a mark whose datum has every field of
 * spec.usermeta.select reports those fields.
 */
export async function drawChart(runtime, box, spec, rows, { onSelect } = {}) {
  const names = datasetNames(spec);
  const datasets = Object.fromEntries(Object.entries(spec.datasets || {}).map(([k, v]) => [k, copyRows(v)]));
  for (const name of names) if (name in rows) datasets[name] = copyRows(rows[name]);
  const target = h("div", { class: "hitl-chart-view" });
  const { handler, tip } = tooltipHandler(box);
  box.appendChild(target);
  const options = { ...EMBED_OPTIONS, tooltip: handler, logLevel: runtime.vega.Error };
  if (darkTheme()) options.theme = "dark";
  const result = await runtime.embed(target, { ...spec, datasets }, options);
  const view = result.view;
  const fields = spec.usermeta && Array.isArray(spec.usermeta.select) ? spec.usermeta.select : null;
  if (fields && onSelect) {
    view.addEventListener("click", (_event, item) => {
      const datum = item && item.datum;
      if (!datum || !fields.every((f) => f in datum)) return;
      onSelect(Object.fromEntries(fields.map((f) => [f, datum[f]])));
    });
  }
  let resizer = null;
  if (spec.width === "container" && typeof ResizeObserver === "function") {
    resizer = new ResizeObserver(() => {
      const width = Math.floor(box.clientWidth);
      if (width > 0 && width !== view.width()) view.width(width).runAsync();
    });
    resizer.observe(box);
  }
  return {
    view,
    names,
    /** Replace the rows of the named datasets this chart reads, in place. */
    update(changed) {
      let touched = false;
      for (const [name, data] of Object.entries(changed)) {
        if (!names.includes(name)) continue;
        const set = runtime.vega.changeset().remove(() => true).insert(copyRows(data));
        view.change(name, set);
        touched = true;
      }
      return touched ? view.runAsync() : Promise.resolve(view);
    },
    finalize() {
      if (resizer) resizer.disconnect();
      result.finalize();
      tip.remove();
      target.remove();
    },
  };
}
