// Renderers for the sample views sent by Python. All data goes through text
// nodes; the only URL sink is the image source, which is validated.

import { h, isSafeImageSrc, setImageSrc, str } from "./dom.js";

const MAX_HIGHLIGHT_TERMS = 64;
const MAX_TERM_LENGTH = 200;
const MAX_MARKS = 2000;
const PREVIEW_CHARS = 140;

export const BLOCKED_IMAGE_TEXT = "[image blocked: unsupported source]";
export const TRUNCATED_TEXT = "\u2026 (truncated)";

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Build a case-insensitive regex matching any of the terms, or null. */
export function highlightRegExp(terms) {
  if (!Array.isArray(terms)) return null;
  const clean = [];
  const seen = new Set();
  for (const term of terms) {
    if (typeof term !== "string") continue;
    if (term.length === 0 || term.length > MAX_TERM_LENGTH || term.trim().length === 0) continue;
    const key = term.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    clean.push(term);
    if (clean.length >= MAX_HIGHLIGHT_TERMS) break;
  }
  if (clean.length === 0) return null;
  // Longest first so that "foobar" wins over "foo".
  clean.sort((a, b) => b.length - a.length);
  try {
    return new RegExp(clean.map(escapeRegExp).join("|"), "giu");
  } catch {
    return null;
  }
}

/** Text nodes and <mark> elements for `text` with `terms` highlighted. */
export function highlightNodes(text, terms) {
  const re = highlightRegExp(terms);
  if (!re) return [text];
  const out = [];
  let last = 0;
  let marks = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) {
      re.lastIndex += 1;
      continue;
    }
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(h("mark", { class: "hitl-mark", text: m[0] }));
    last = m.index + m[0].length;
    if (++marks >= MAX_MARKS) break;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function truncatedMarker(view) {
  return view && view.truncated === true
    ? h("div", { class: "hitl-truncated", text: TRUNCATED_TEXT })
    : null;
}

function renderText(view) {
  const text = str(view.text);
  return [
    h("div", { class: "hitl-text", dir: "auto" }, highlightNodes(text, view.highlight)),
    truncatedMarker(view),
  ];
}

function renderImage(view) {
  const alt = str(view.alt);
  if (!isSafeImageSrc(view.src)) {
    return [
      h("div", { class: "hitl-image-blocked", role: "img", "aria-label": BLOCKED_IMAGE_TEXT, text: BLOCKED_IMAGE_TEXT }),
      alt ? h("div", { class: "hitl-image-alt", dir: "auto", text: alt }) : null,
      truncatedMarker(view),
    ];
  }
  const img = h("img", { class: "hitl-image", alt, loading: "lazy", decoding: "async", referrerpolicy: "no-referrer" });
  setImageSrc(img, view.src);
  return [h("div", { class: "hitl-image-box" }, img), truncatedMarker(view)];
}

function fieldPairs(view) {
  if (!Array.isArray(view.fields)) return [];
  const out = [];
  for (const pair of view.fields) {
    if (Array.isArray(pair)) out.push([str(pair[0]), str(pair[1])]);
  }
  return out;
}

function renderRow(view) {
  const rows = fieldPairs(view).map(([name, value]) =>
    h(
      "tr",
      null,
      h("th", { scope: "row", dir: "auto", text: name }),
      h("td", { dir: "auto", text: value }),
    ),
  );
  return [
    h("div", { class: "hitl-row-box" }, h("table", { class: "hitl-row-table" }, h("tbody", null, rows))),
    truncatedMarker(view),
  ];
}

/** Full-size rendering of a view, wrapped in a .hitl-view element. */
export function renderView(view) {
  const kind = view && typeof view === "object" ? view.kind : undefined;
  let body;
  if (kind === "text") body = renderText(view);
  else if (kind === "image") body = renderImage(view);
  else if (kind === "row") body = renderRow(view);
  else body = [h("div", { class: "hitl-unsupported", text: "[unsupported view]" })];
  const safeKind = kind === "text" || kind === "image" || kind === "row" ? kind : "unknown";
  return h("div", { class: ["hitl-view", `hitl-view-${safeKind}`] }, body);
}

function shorten(s, n) {
  // Only look at a bounded prefix so huge strings stay cheap.
  const head = s.slice(0, n * 4).replace(/\s+/g, " ").trim();
  return head.length > n ? `${head.slice(0, n - 1)}\u2026` : head;
}

/** One-line plain-text preview of a view (for the queue list). */
export function previewText(view) {
  if (!view || typeof view !== "object") return "[unsupported view]";
  if (view.kind === "text") return shorten(str(view.text), PREVIEW_CHARS) || "(empty text)";
  if (view.kind === "image") {
    const alt = shorten(str(view.alt), PREVIEW_CHARS - 8);
    return alt ? `image \u00b7 ${alt}` : "image";
  }
  if (view.kind === "row") {
    const parts = fieldPairs(view)
      .slice(0, 3)
      .map(([name, value]) => `${shorten(name, 40)}: ${shorten(value, 60)}`);
    return shorten(parts.join(" \u00b7 "), PREVIEW_CHARS) || "(empty row)";
  }
  return "[unsupported view]";
}
