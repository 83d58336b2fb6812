// Build the anywidget bundles into src/hitl_widgets/static:
//   labeler.js          the labeler
//   vega_runtime.js     vega + vega-lite + vega-embed, once per kernel (js/lib/vega_runtime.js)
//   dashboard.js        the dashboard (draws through the runtime: carries no vega)
//   chart.js            any one chart (`hw.show`), through the runtime as well
// and copy labeler.css and dashboard.css next to them.
// Usage: node js/build.mjs
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(repo, "src", "hitl_widgets", "static");
const BUNDLES = {
  "labeler.js": "labeler.js",
  "vega_runtime.js": join("lib", "vega_runtime.js"),
  "dashboard.js": "dashboard.js",
  "chart.js": "chart.js",
};
const STYLES = ["labeler.css", "dashboard.css"];

await mkdir(outDir, { recursive: true });
for (const [out, entry] of Object.entries(BUNDLES)) {
  await build({
    entryPoints: [join(repo, "js", entry)],
    outfile: join(outDir, out),
    bundle: true,
    format: "esm",
    minify: true,
    target: "es2020",
    legalComments: "none",
    logLevel: "warning",
  });
}
for (const name of STYLES) await copyFile(join(repo, "js", name), join(outDir, name));
console.log(`built ${Object.keys(BUNDLES).join(", ")} and ${STYLES.join(", ")} in src/hitl_widgets/static`);
