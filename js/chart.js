// hitl_widgets chart: any Vega-Lite spec, drawn with the kernel's shared vega runtime.
// Traits: runtime (ref to the runtime widget), spec (a complete Vega-Lite spec).

import { h } from "./lib/dom.js";
import { drawChart } from "./lib/vega_chart.js";

async function render({ model, el, host, signal }) {
  const box = h("div", { class: "hitl-chart" });
  el.appendChild(box);
  try {
    const runtime = (await host.getWidget(model.get("runtime"))).exports;
    if (signal && signal.aborted) return;
    const chart = await drawChart(runtime, box, model.get("spec") || {}, {});
    return () => {
      chart.finalize();
      box.remove();
    };
  } catch (error) {
    box.replaceChildren(h("div", { class: "hitl-dash-error", role: "alert", text: `chart not drawn: ${error}` }));
  }
}

export default { render };
