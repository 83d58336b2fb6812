// The one vega runtime of a kernel: vega, vega-lite and vega-embed, bundled once.
//
// Python creates a single VegaRuntime widget per kernel and every chart widget refers
// to it (anywidget's host.getWidget); its `initialize` hands these modules over. So the
// ~0.9 MB bundle crosses the websocket once per kernel and page, not once per chart.

import * as vega from "vega";
import embed from "vega-embed";

export default {
  initialize() {
    return { vega, embed };
  },
};
