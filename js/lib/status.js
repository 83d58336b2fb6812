// Status line: progress, save state, fitting state or long work (status.progress, e.g.
// "vectorizing 40%"), errors, warnings, store.

import { h, replaceChildren, str } from "./dom.js";

function count(value) {
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0;
}

export const SLOW_ACK_TEXT = "no answer from the kernel yet: it is busy, or no longer running";

/** Text for the client-side save state (sent-but-unacked and failed labels). */
export function savedStateText(local) {
  const unsaved = local.pending + local.failed;
  const parts = [];
  if (local.pending > 0) parts.push("saving\u2026");
  if (unsaved > 0) parts.push(`${unsaved} unsaved`);
  if (local.pending > 0 && local.slow === true) parts.push(SLOW_ACK_TEXT);
  if (parts.length === 0 && local.acked > 0) parts.push("saved");
  return parts.join(" \u00b7 ");
}

/**
 * Render the status area.
 * status: the `status` trait (may be null/partial while the kernel starts).
 * local:  {pending, failed, acked, error, note, slow}  (slow: the oldest unacked label
 *         has waited longer than the labeler's SLOW_ACK_MS)
 */
export function renderStatus(container, status, local) {
  const s = status && typeof status === "object" ? status : {};
  const labeled = count(s.labeled);
  const total = count(s.total);
  const remaining = count(s.remaining);
  const pct = total > 0 ? Math.min(100, Math.round((labeled / total) * 1000) / 10) : 0;

  const saveText = savedStateText(local);
  const failed = local.failed > 0 || Boolean(local.error);
  const fill = h("div", { class: "hitl-progress-fill" });
  fill.style.width = `${pct}%`;

  const warnings = Array.isArray(s.warnings) ? s.warnings.map(str).filter(Boolean) : [];
  const serverUnsaved = count(s.unsaved);
  const version = count(s.model_version);
  const work = typeof s.progress === "string" ? s.progress.slice(0, 200) : ""; // a line, not a page

  replaceChildren(
    container,
    h(
      "div",
      { class: "hitl-status-line" },
      h("span", { class: "hitl-counts", text: `${labeled} labeled \u00b7 ${remaining} remaining` }),
      h("span", {
        class: ["hitl-saved-state", failed && "hitl-error", local.pending > 0 && "hitl-saving"],
        role: "status",
        "aria-live": "polite",
        text: saveText,
      }),
      // long work under way (e.g. "vectorizing 40%"): it says more than "refitting",
      // which only waits for it; cards that need no model can be labeled meanwhile
      work
        ? h("span", { class: ["hitl-fitting", "hitl-work"], role: "status", dir: "auto", text: `${work} \u2026` })
        : s.fitting === true
          ? h("span", { class: "hitl-fitting", text: "model refitting\u2026" })
          : null,
      version > 0 ? h("span", { class: "hitl-model-version hitl-muted", text: `model v${version}` }) : null,
    ),
    h(
      "div",
      {
        class: "hitl-progress",
        role: "progressbar",
        "aria-label": "labeling progress",
        "aria-valuemin": "0",
        "aria-valuemax": String(total),
        "aria-valuenow": String(Math.min(labeled, total)),
        title: `${labeled} / ${total}`,
      },
      fill,
    ),
    local.error
      ? h("div", { class: "hitl-save-error hitl-error", dir: "auto", text: `Save failed: ${local.error}` })
      : null,
    s.fit_error !== null && s.fit_error !== undefined && str(s.fit_error) !== ""
      ? h(
          "div",
          { class: "hitl-fit-error hitl-error" },
          h("span", { class: "hitl-label-prefix", text: "Model fit failed: " }),
          h("span", { class: "hitl-fit-error-text", dir: "auto", text: str(s.fit_error) }),
        )
      : null,
    s.message !== null && s.message !== undefined && str(s.message) !== ""
      ? h("div", { class: "hitl-message", dir: "auto", text: str(s.message) })
      : null,
    local.note ? h("div", { class: "hitl-note hitl-muted", text: local.note }) : null,
    warnings.length > 0
      ? h(
          "ul",
          { class: "hitl-warnings" },
          warnings.map((w) => h("li", { class: "hitl-warning", dir: "auto", text: w })),
        )
      : null,
    s.store !== null && s.store !== undefined && str(s.store) !== ""
      ? h(
          "div",
          { class: "hitl-store hitl-muted" },
          h("span", { text: "store: " }),
          h("span", { class: "hitl-store-path", dir: "auto", text: str(s.store) }),
          serverUnsaved > 0 ? h("span", { text: ` (${serverUnsaved} not yet written)` }) : null,
        )
      : null,
  );
}
