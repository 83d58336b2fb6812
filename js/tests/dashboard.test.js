// @vitest-environment happy-dom
// The dashboard and chart widgets with the real vega runtime, a fake model and a fake
// anywidget host (host.getWidget -> the runtime, host.getModel -> a dataset model).
import { afterEach, describe, expect, it, vi } from "vitest";
import chartWidget from "../chart.js";
import dashboard from "../dashboard.js";
import runtimeModule from "../lib/vega_runtime.js";
import { datasetNames, drawChart } from "../lib/vega_chart.js";
import { click, fakeModel } from "./helpers.js";

afterEach(() => {
  document.body.textContent = "";
  vi.restoreAllMocks();
});

const HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>\u202E";

const bars = (name, extra = {}) => ({
  data: { name },
  mark: { type: "bar", cursor: "pointer" },
  encoding: {
    x: { field: "rate", type: "quantitative" },
    y: { field: "slice", type: "nominal" },
    tooltip: [{ field: "slice", type: "nominal" }],
  },
  width: "container",
  autosize: { type: "fit-x", contains: "padding" },
  ...extra,
});

function specs() {
  return {
    accuracy: { ...bars("accuracy"), title: { text: "Accuracy vs labels" }, usermeta: { caption: "unbiased vs biased" } },
    disagreement: {
      layer: [bars("disagreement"), { data: { name: "disagreement_note" }, mark: "text", encoding: { text: { field: "text" } } }],
      width: "container",
      title: { text: "Disagreement by subgroup" },
      usermeta: { caption: HOSTILE, select: ["column", "subgroup"] },
    },
    uncertainty: { ...bars("uncertainty"), usermeta: { caption: "remaining" } },
    routing: { ...bars("routing"), usermeta: { caption: "routing" } },
  };
}

const slices = (...names) => names.map((n, i) => ({ column: "group", subgroup: n, slice: `group = ${n}`, rate: 0.2 + i / 10 }));

function rowsState() {
  return {
    accuracy: slices("A"),
    disagreement: slices("A", "B"),
    disagreement_note: [],
    uncertainty: slices("A", "B", "C"),
    routing: slices("A"),
  };
}

function status(extra = {}) {
  return { labeled: 34, total: 600, model_version: 7, fit_state: "ready", fit_error: null, focused: null, routing: "At 0.90 ...", error: null, ...extra };
}

function setup({ state = {}, rows = rowsState() } = {}) {
  const runtime = runtimeModule.initialize();
  const embed = vi.fn(runtime.embed);
  const host = {
    datasets: new Map(Object.entries(rows).map(([name, r]) => [`anywidget:${name}`, fakeModel({ rows: r })])),
    async getWidget(ref) {
      expect(ref).toBe("anywidget:runtime");
      return { exports: { ...runtime, embed } };
    },
    async getModel(ref) {
      return host.datasets.get(ref);
    },
  };
  const model = fakeModel({
    runtime: "anywidget:runtime",
    specs: specs(),
    data: Object.fromEntries(Object.keys(rows).map((name) => [name, `anywidget:${name}`])),
    sections: { main: ["accuracy", "disagreement", "uncertainty"], more: [["routing", "Routing"]] },
    status: status(),
    threshold: 0.9,
    ...state,
  });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const dataset = (name) => host.datasets.get(`anywidget:${name}`);
  const q = (sel) => el.querySelector(sel);
  const qa = (sel) => [...el.querySelectorAll(sel)];
  const card = (name) => q(`.hitl-dash-card[data-chart="${name}"]`);
  return { model, el, host, embed, dataset, q, qa, card, render: () => dashboard.render({ model, el, host }) };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("dashboard", () => {
  it("draws the three main charts once, with the header and captions as text", async () => {
    const w = setup();
    const cleanup = await w.render();
    expect(w.qa(".hitl-dash-main svg.marks")).toHaveLength(3);
    expect(w.embed).toHaveBeenCalledTimes(3);
    expect(w.q(".hitl-dash-counts").textContent).toBe("34 labeled of 600");
    expect(w.q(".hitl-dash-version").textContent).toBe("model version 7");
    expect(w.q(".hitl-dash-fit").textContent).toBe("model ready");
    expect(w.q(".hitl-dash-clear").disabled).toBe(true);
    expect(w.card("disagreement").querySelector(".hitl-dash-caption").textContent).toBe(HOSTILE);
    expect(w.card("disagreement").querySelectorAll(".mark-rect path")).toHaveLength(2);
    expect(w.q(".hitl-dash-error").hidden).toBe(true);
    cleanup();
    expect(w.q(".hitl-dashboard")).toBeNull();
  });

  it("applies a changed dataset in place: no re-embed, no new listeners", async () => {
    const w = setup();
    await w.render();
    const svg = w.card("disagreement").querySelector("svg.marks");
    const listeners = w.dataset("disagreement").listenerCount();
    const changes = [];
    for (let n = 0; n < 50; n += 1) {
      const names = Array.from({ length: (n % 4) + 1 }, (_, i) => `s${i}`);
      w.dataset("disagreement").py("rows", slices(...names));
      changes.push(names.length);
      await settle();
    }
    await settle();
    expect(w.embed).toHaveBeenCalledTimes(3);
    expect(w.card("disagreement").querySelector("svg.marks")).toBe(svg);
    expect(w.card("disagreement").querySelectorAll(".mark-rect path")).toHaveLength(changes.at(-1));
    expect(w.dataset("disagreement").listenerCount()).toBe(listeners);
    // the other charts did not change
    expect(w.card("uncertainty").querySelectorAll(".mark-rect path")).toHaveLength(3);
  });

  it("a click on a bar selects its subgroup; 'show all items' clears the focus", async () => {
    const w = setup({ state: { status: status({ focused: [["group", "B"]] }) } });
    await w.render();
    expect(w.q(".hitl-dash-focus").textContent).toBe("queue focused on group = B");
    const bar = w.card("disagreement").querySelectorAll(".mark-rect path")[1];
    bar.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: 5, clientY: 5 }));
    expect(w.model.sent).toEqual([{ kind: "select", chart: "disagreement", values: { column: "group", subgroup: "B" } }]);
    // charts without usermeta.select report nothing
    w.card("uncertainty").querySelector(".mark-rect path").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(w.model.sent).toHaveLength(1);
    const clear = w.q(".hitl-dash-clear");
    expect(clear.disabled).toBe(false);
    click(clear);
    expect(w.model.lastSent()).toEqual({ kind: "clear_focus" });
    w.model.py("status", status());
    expect(w.q(".hitl-dash-focus").textContent).toBe("");
    expect(clear.disabled).toBe(true);
  });

  it("shows a failed redraw and hides it once a redraw succeeds", async () => {
    const w = setup();
    await w.render();
    w.model.py("status", status({ error: `charts not redrawn: RuntimeError: ${HOSTILE}` }));
    expect(w.q(".hitl-dash-error").hidden).toBe(false);
    expect(w.q(".hitl-dash-error").textContent).toBe(`charts not redrawn: RuntimeError: ${HOSTILE}`);
    w.model.py("status", status({ fit_state: "failed", fit_error: "ValueError: one class" }));
    expect(w.q(".hitl-dash-error").hidden).toBe(true);
    expect(w.q(".hitl-dash-fit").textContent).toBe("refit failed: ValueError: one class");
  });

  it("shows the stopping meter's words in the header, as text, once there is one", async () => {
    const w = setup();
    await w.render();
    expect(w.q(".hitl-dash-meter").hidden).toBe(true);
    w.model.py("status", status({ stopping: { recommendation: "stop", note: `stop: ${HOSTILE}` } }));
    expect(w.q(".hitl-dash-meter").hidden).toBe(false);
    expect(w.q(".hitl-dash-meter").textContent).toBe(`Stopping meter: stop: ${HOSTILE}`);
    expect(w.q(".hitl-dash-meter").dataset.recommendation).toBe("stop");
    expect(w.el.querySelectorAll("script, img")).toHaveLength(0);
    w.model.py("status", status({ stopping: null }));
    expect(w.q(".hitl-dash-meter").hidden).toBe(true);
  });

  it("opens a tab on click (drawing its chart once) and closes it on a second click", async () => {
    const w = setup();
    await w.render();
    const tab = w.q(".hitl-dash-tab");
    expect(tab.textContent).toBe("Routing");
    expect(w.q(".hitl-dash-panel").hidden).toBe(true);
    click(tab);
    await settle();
    await settle();
    expect(w.q(".hitl-dash-panel").hidden).toBe(false);
    expect(tab.getAttribute("aria-selected")).toBe("true");
    expect(w.model.lastSent()).toEqual({ kind: "opened", chart: "routing" });
    expect(w.q(".hitl-dash-panel svg.marks")).not.toBeNull();
    expect(w.q(".hitl-dash-routing-summary").textContent).toBe("At 0.90 ...");
    click(tab);
    expect(w.q(".hitl-dash-panel").hidden).toBe(true);
    click(tab);
    await settle();
    expect(w.embed).toHaveBeenCalledTimes(4); // drawn once, shown twice
  });

  it("a chart whose rows change while it is being drawn shows the new rows", async () => {
    const w = setup();
    await w.render();
    click(w.q(".hitl-dash-tab")); // starts drawing the routing chart
    w.dataset("routing").py("rows", slices("A", "B", "C", "D", "E"));
    for (let i = 0; i < 5; i += 1) await settle();
    expect(w.q(".hitl-dash-panel").querySelectorAll(".mark-rect path")).toHaveLength(5);
  });

  it("moves the routing threshold through the trait", async () => {
    const w = setup();
    await w.render();
    click(w.q(".hitl-dash-tab"));
    const slider = w.q(".hitl-dash-threshold");
    expect(slider.value).toBe("0.9");
    slider.value = "0.8";
    slider.dispatchEvent(new Event("input"));
    expect(w.q(".hitl-dash-threshold-value").textContent).toBe("0.80");
    slider.dispatchEvent(new Event("change"));
    expect(w.model.get("threshold")).toBe(0.8);
    expect(w.model.saves).toBe(1);
  });

  it("keeps hostile names, titles and tab labels inert", async () => {
    const hostileRows = rowsState();
    hostileRows.disagreement = [{ column: HOSTILE, subgroup: HOSTILE, slice: HOSTILE, rate: 0.5 }];
    const w = setup({
      rows: hostileRows,
      state: {
        status: status({ focused: [[HOSTILE, HOSTILE]], fit_error: HOSTILE, fit_state: "failed", error: HOSTILE }),
        sections: { main: ["accuracy", "disagreement", "uncertainty"], more: [["routing", HOSTILE]] },
      },
    });
    const alert = vi.fn();
    window.alert = alert;
    await w.render();
    expect(w.el.querySelectorAll("script, img, iframe, object, embed")).toHaveLength(0);
    expect(w.q(".hitl-dash-tab").textContent).toBe(HOSTILE);
    expect(w.q(".hitl-dash-focus").textContent).toBe(`queue focused on ${HOSTILE} = ${HOSTILE}`);
    const bar = w.card("disagreement").querySelector(".mark-rect path");
    bar.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(w.model.lastSent().values).toEqual({ column: HOSTILE, subgroup: HOSTILE });
    expect(alert).not.toHaveBeenCalled();
  });

  it("says so when the runtime cannot be loaded", async () => {
    const w = setup();
    w.host.getWidget = async () => {
      throw new Error("no runtime");
    };
    await w.render();
    expect(w.q(".hitl-dash-main").textContent).toBe("charts unavailable: Error: no runtime");
  });
});

describe("chart (hw.show)", () => {
  it("draws a complete spec with its inline datasets through the runtime", async () => {
    const runtime = runtimeModule.initialize();
    const model = fakeModel({
      runtime: "anywidget:runtime",
      spec: { ...bars("t"), width: 200, autosize: undefined, datasets: { t: slices("A", "B", "C", "D") } },
    });
    const el = document.createElement("div");
    document.body.appendChild(el);
    const host = { getWidget: async () => ({ exports: runtime }) };
    const cleanup = await chartWidget.render({ model, el, host });
    expect(el.querySelectorAll("svg.marks")).toHaveLength(1);
    expect(el.querySelectorAll(".mark-rect path")).toHaveLength(4);
    cleanup();
    expect(el.querySelector(".hitl-chart")).toBeNull();
  });
});

describe("tooltip", () => {
  it("shows hostile values as text, inside the chart's box, and hides on null", async () => {
    const runtime = runtimeModule.initialize();
    let options;
    const embed = (el, spec, opts) => {
      options = opts;
      return runtime.embed(el, spec, opts);
    };
    const box = document.createElement("div");
    document.body.appendChild(box);
    await drawChart({ ...runtime, embed }, box, bars("t"), { t: slices("A") });
    const event = { clientX: 10, clientY: 10 };
    options.tooltip(null, event, null, { [HOSTILE]: HOSTILE, n: 3 });
    const tip = box.querySelector(".hitl-chart-tooltip");
    expect(tip.hidden).toBe(false);
    expect(tip.textContent).toBe(`${HOSTILE}: ${HOSTILE}n: 3`);
    expect(box.querySelectorAll("script, img, iframe")).toHaveLength(0);
    options.tooltip(null, event, null, HOSTILE);
    expect(tip.textContent).toBe(HOSTILE);
    options.tooltip(null, event, null, null);
    expect(tip.hidden).toBe(true);
    expect(options.actions).toBe(false);
    expect(options.ast).toBe(true); // expressions interpreted, no code generated from specs
  });
});

describe("inline datasets of any shape (a user's chart)", () => {
  it("draws arrays of values and CSV text, and leaves the spec's rows untouched", async () => {
    const runtime = runtimeModule.initialize();
    const box = document.createElement("div");
    document.body.appendChild(box);
    const rows = [{ a: 1 }, { a: 2 }];
    const spec = {
      datasets: { nums: [1, 2, 3], csv: "a\n1\n2\n3\n4", objs: rows },
      layer: [
        { data: { name: "nums" }, mark: "tick", encoding: { x: { field: "data", type: "quantitative" } } },
        { data: { name: "csv", format: { type: "csv" } }, mark: "point", encoding: { x: { field: "a", type: "quantitative" } } },
        { data: { name: "objs" }, mark: "rule", encoding: { x: { field: "a", type: "quantitative" } } },
      ],
    };
    await drawChart(runtime, box, spec, {});
    expect(box.querySelectorAll(".mark-tick path, .mark-tick rect, .mark-rect path").length).toBe(3);
    expect(box.querySelectorAll(".mark-symbol path")).toHaveLength(4);
    expect(Object.getOwnPropertySymbols(rows[0])).toHaveLength(0); // vega tagged copies
  });
});

describe("datasetNames", () => {
  it("finds every named dataset, in layers and lookups, but not the inline datasets", () => {
    const spec = {
      datasets: { ignored: [{ data: { name: "no" } }] },
      layer: [{ data: { name: "a" } }, { transform: [{ lookup: "k", from: { data: { name: "b" }, key: "k" } }] }],
    };
    expect(datasetNames(spec).sort()).toEqual(["a", "b"]);
  });
});
