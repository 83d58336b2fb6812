// hitl_widgets dashboard: anywidget front end.
//
// Traits (see widgets/dashboard.py): runtime (ref to the shared vega runtime), specs
// {chart: Vega-Lite spec}, data {dataset: ref to a model whose `rows` trait holds the
// rows}, sections {main: [chart], more: [[chart, tab label]]}, status {...}, threshold.
// Messages to Python: {kind: "select", chart, values}, {kind: "clear_focus"},
// {kind: "opened", chart} (a tab was opened: Python computes what only it needs).
//
// Every chart is drawn once per view; a changed dataset is applied in place. Text that
// comes from Python (titles, captions, subgroup names, errors) only reaches the DOM as
// text nodes.

import { h, clear } from "./lib/dom.js";
import { drawChart } from "./lib/vega_chart.js";

const FIT_TEXT = { cold: "no model yet", fitting: "refitting…", ready: "model ready", failed: "refit failed" };

function caption(spec) {
  const text = spec && spec.usermeta && spec.usermeta.caption;
  return typeof text === "string" ? text : "";
}

/** One chart card: the drawing surface and the caption under it. */
function card(name, spec) {
  const box = h("div", { class: "hitl-dash-chart" }, h("div", { class: "hitl-dash-loading", text: "loading chart…" }));
  const node = h("figure", { class: "hitl-dash-card", dataset: { chart: name } }, box, h("figcaption", { class: "hitl-dash-caption", text: caption(spec) }));
  return { node, box };
}

function header(model) {
  const counts = h("span", { class: "hitl-dash-counts" });
  const version = h("span", { class: "hitl-dash-version" });
  const fit = h("span", { class: "hitl-dash-fit" });
  const focus = h("span", { class: "hitl-dash-focus" });
  const clearButton = h("button", { type: "button", class: "hitl-dash-clear", text: "show all items" });
  clearButton.addEventListener("click", () => model.send({ kind: "clear_focus" }));
  const error = h("div", { class: "hitl-dash-error", role: "alert", hidden: true });
  const meter = h("div", { class: "hitl-dash-meter", hidden: true });
  const node = h("div", { class: "hitl-dash-header" }, h("div", { class: "hitl-dash-bar" }, counts, version, fit, focus, clearButton), meter, error);
  const update = () => {
    const s = model.get("status") || {};
    counts.textContent = `${Number(s.labeled) || 0} labeled of ${Number(s.total) || 0}`;
    version.textContent = `model version ${Number(s.model_version) || 0}`;
    fit.textContent = s.fit_error ? `${FIT_TEXT.failed}: ${s.fit_error}` : FIT_TEXT[s.fit_state] || String(s.fit_state || "");
    fit.dataset.state = String(s.fit_state || "");
    const focused = Array.isArray(s.focused) ? s.focused : [];
    focus.textContent = focused.length ? `queue focused on ${focused.map(([c, v]) => `${c} = ${v}`).join(", ")}` : "";
    clearButton.disabled = focused.length === 0;
    error.textContent = s.error ? String(s.error) : "";
    error.hidden = !s.error;
    const stop = s.stopping && typeof s.stopping === "object" ? s.stopping : null;
    meter.textContent = stop ? `Stopping meter: ${String(stop.note)}` : "";
    meter.dataset.recommendation = stop ? String(stop.recommendation) : "";
    meter.hidden = !stop;
  };
  update();
  return { node, update };
}

/** The routing tab's slider and the sentence saying what the threshold means. */
function routingControls(model) {
  const value = () => Number(model.get("threshold")) || 0.9;
  const output = h("output", { class: "hitl-dash-threshold-value", text: value().toFixed(2) });
  const slider = h("input", { type: "range", min: "0.5", max: "0.99", step: "0.01", class: "hitl-dash-threshold", "aria-label": "auto-accept threshold" });
  slider.value = String(value());
  slider.addEventListener("input", () => (output.textContent = Number(slider.value).toFixed(2)));
  slider.addEventListener("change", () => {
    model.set("threshold", Number(slider.value));
    model.save_changes();
  });
  const summary = h("p", { class: "hitl-dash-routing-summary" });
  const node = h("div", { class: "hitl-dash-routing" }, h("label", { class: "hitl-dash-threshold-label" }, "auto-accept at ", slider, output), summary);
  const update = () => {
    const s = model.get("status") || {};
    summary.textContent = typeof s.routing === "string" ? s.routing : "";
    if (document.activeElement !== slider) {
      slider.value = String(value());
      output.textContent = value().toFixed(2);
    }
  };
  update();
  return { node, update };
}

async function render({ model, el, host, signal }) {
  const specs = model.get("specs") || {};
  const sections = model.get("sections") || { main: [], more: [] };
  const head = header(model);
  const cards = new Map(); // chart -> {node, box, chart (drawn) | null, drawing: Promise | null}
  for (const name of Object.keys(specs)) cards.set(name, { ...card(name, specs[name]), chart: null, drawing: null });

  const main = h("div", { class: "hitl-dash-main" }, sections.main.filter((n) => cards.has(n)).map((n) => cards.get(n).node));
  const tabs = h("div", { class: "hitl-dash-tabs", role: "tablist", "aria-label": "more charts" }, h("span", { class: "hitl-dash-tabs-label", text: "More:" }));
  const panel = h("div", { class: "hitl-dash-panel", hidden: true });
  const routing = routingControls(model);
  const root = h("div", { class: "hitl-dashboard" }, head.node, main, h("div", { class: "hitl-dash-more" }, tabs, panel));
  el.appendChild(root);
  model.on("change:status", () => {
    head.update();
    routing.update();
  });

  // the runtime and the datasets: references to other models of this kernel
  let runtime;
  const datasets = new Map(); // dataset name -> model proxy
  const rows = () => Object.fromEntries([...datasets].map(([name, m]) => [name, m.get("rows")]));
  try {
    runtime = (await host.getWidget(model.get("runtime"))).exports;
    const refs = Object.entries(model.get("data") || {});
    const models = await Promise.all(refs.map(([, ref]) => host.getModel(ref)));
    refs.forEach(([name], i) => datasets.set(name, models[i]));
  } catch (error) {
    main.replaceChildren(h("div", { class: "hitl-dash-error", role: "alert", text: `charts unavailable: ${error}` }));
    return;
  }
  if (signal && signal.aborted) return;

  let changes = 0; // dataset changes so far: a chart drawn meanwhile catches up
  const select = (chart) => (values) => model.send({ kind: "select", chart, values });
  const draw = (name) => {
    const entry = cards.get(name);
    if (entry.drawing) return entry.drawing;
    const seen = changes;
    entry.drawing = drawChart(runtime, entry.box, specs[name], rows(), { onSelect: select(name) })
      .then((chart) => {
        if (signal && signal.aborted) return chart.finalize();
        entry.box.querySelector(".hitl-dash-loading")?.remove();
        entry.chart = chart;
        if (changes !== seen) chart.update(rows());
      })
      .catch((error) => {
        clear(entry.box).append(h("div", { class: "hitl-dash-error", role: "alert", text: `chart not drawn: ${error}` }));
      });
    return entry.drawing;
  };

  // rows changed in Python: apply the changes to every drawn chart, once per batch
  let dirty = new Set();
  const flush = () => {
    const changed = Object.fromEntries([...dirty].map((name) => [name, datasets.get(name).get("rows")]));
    dirty = new Set();
    for (const entry of cards.values()) if (entry.chart) entry.chart.update(changed);
  };
  for (const [name, m] of datasets) {
    m.on("change:rows", () => {
      changes += 1;
      if (dirty.size === 0) queueMicrotask(flush);
      dirty.add(name);
    });
  }

  // "more": a tab opens its chart (drawn the first time), the open tab closes it
  let open = null;
  for (const [name, label] of sections.more.filter(([n]) => cards.has(n))) {
    const tab = h("button", { type: "button", role: "tab", class: "hitl-dash-tab", "aria-selected": "false", text: label });
    tab.addEventListener("click", () => {
      open = open === name ? null : name;
      for (const t of tabs.querySelectorAll(".hitl-dash-tab")) t.setAttribute("aria-selected", String(t === tab && open === name));
      panel.replaceChildren(...(open ? [...(open === "routing" ? [routing.node] : []), cards.get(open).node] : []));
      panel.hidden = !open;
      if (open) {
        draw(open);
        model.send({ kind: "opened", chart: open });
      }
    });
    tabs.appendChild(tab);
  }

  await Promise.all(sections.main.filter((n) => cards.has(n)).map(draw));

  return () => {
    for (const entry of cards.values()) if (entry.chart) entry.chart.finalize();
    root.remove();
  };
}

export default { render };
