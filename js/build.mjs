// Build the anywidget bundle: js/labeler.js -> src/hitl_widgets/static/labeler.js
// and copy js/labeler.css -> src/hitl_widgets/static/labeler.css.
// Usage: node js/build.mjs
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(repo, "src", "hitl_widgets", "static");

await mkdir(outDir, { recursive: true });
await build({
  entryPoints: [join(repo, "js", "labeler.js")],
  outfile: join(outDir, "labeler.js"),
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  legalComments: "none",
  logLevel: "warning",
});
await copyFile(join(repo, "js", "labeler.css"), join(outDir, "labeler.css"));
console.log(`built ${join("src", "hitl_widgets", "static", "labeler.js")} and labeler.css`);
