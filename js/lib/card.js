// Node builders for the item chrome: card metadata, class buttons, queue rows.

import { h, str } from "./dom.js";
import { classKey } from "./keys.js";
import { previewText } from "./views.js";

/** The item's suggested class index if it is valid for `classes` (never for an audit item), else null. */
export function suggestionIndex(item, classes) {
  if (!item || item.audit === true) return null; // an audit item has none, on purpose
  const s = item.suggestion;
  return Number.isInteger(s) && s >= 0 && s < classes.length ? s : null;
}

/** "87%" for 0.87, or null. */
export function percent(confidence) {
  const c = Number(confidence);
  if (confidence === null || confidence === undefined || !Number.isFinite(c)) return null;
  return `${Math.round(Math.min(1, Math.max(0, c)) * 100)}%`;
}

export const AUDIT_WHY =
  "No suggestion on purpose: this is a random audit item. The model's suggestion is " +
  "withheld so that your label checks the model without bias.";
export const AUDIT_WHY_SHORT = "suggestion withheld: random audit item (checks the model without bias)";
export const NO_SUGGESTION_WHY = "The model has no suggestion for this item yet.";
export const NO_SUGGESTION_WHY_SHORT = "no suggestion yet";
export const READ_ONLY_WHY = "Read-only saved view: no labels can be saved here.";

/**
 * The Accept button's state for an item: {enabled, suggestion, why, short}.
 * `why` (a sentence, for the title and aria-label) and `short` (shown beside the
 * button) say why it is disabled; both are null when it is enabled.
 */
export function acceptInfo(item, classes, blind, readOnly = false) {
  const sug = blind || !item ? null : suggestionIndex(item, classes);
  if (readOnly) return { enabled: false, suggestion: sug, why: READ_ONLY_WHY, short: null };
  if (!item || blind) return { enabled: false, suggestion: null, why: null, short: null };
  if (item.audit === true) {
    return { enabled: false, suggestion: null, why: AUDIT_WHY, short: AUDIT_WHY_SHORT };
  }
  if (sug === null) {
    return { enabled: false, suggestion: null, why: NO_SUGGESTION_WHY, short: NO_SUGGESTION_WHY_SHORT };
  }
  return { enabled: true, suggestion: sug, why: null, short: null };
}

/** Score, suggestion (unless blind), reason, badges and id of the current item. */
export function metaNodes(item, classes, blind) {
  const sug = blind ? null : suggestionIndex(item, classes);
  const score = Number(item.score);
  const conf = percent(item.confidence);
  const reason = str(item.reason);
  return [
    item.score !== null && item.score !== undefined && Number.isFinite(score)
      ? h("span", { class: "hitl-score", text: `score ${score.toFixed(3)}` })
      : null,
    sug !== null
      ? h(
          "span",
          { class: "hitl-suggestion" },
          h("span", { class: "hitl-muted", text: "suggestion: " }),
          h("span", { class: "hitl-suggestion-label", dir: "auto", text: str(classes[sug].label) }),
          conf ? h("span", { class: "hitl-confidence", text: ` (${conf})` }) : null,
        )
      : null,
    reason ? h("span", { class: "hitl-reason", dir: "auto", text: reason }) : null,
    item.audit === true
      ? h("span", { class: "hitl-badge hitl-audit-badge", title: AUDIT_WHY, text: "audit" })
      : null,
    item.skipped === true ? h("span", { class: "hitl-badge", text: "previously skipped" }) : null,
    h("span", { class: "hitl-item-id hitl-muted", dir: "auto", title: item.id, text: item.id }),
  ];
}

/** One button per class: key (as Python spelled it, only if bound) and label. */
export function classButton(cls, index) {
  const key = classKey(cls) ? str(cls.key) : "";
  const label = str(cls && cls.label);
  return h(
    "button",
    {
      type: "button",
      class: ["hitl-btn", "hitl-class-btn"],
      dataset: { action: "label", index },
      title: key ? `${label} (${key})` : label,
    },
    key ? h("kbd", { class: "hitl-key", text: key }) : null,
    h("span", { class: "hitl-class-label", dir: "auto", text: label }),
  );
}

/** A row of the "up next" list (the card itself is never in it). */
export function queueRow(item, classes, blind) {
  const sug = blind || item.audit === true ? null : suggestionIndex(item, classes);
  const conf = sug !== null ? percent(item.confidence) : null;
  return h(
    "li",
    {
      class: "hitl-queue-item",
      dataset: { action: "select", id: item.id },
      title: "show this item now",
    },
    h("span", { class: "hitl-queue-preview", dir: "auto", text: previewText(item.view) }),
    sug !== null
      ? h("span", {
          class: "hitl-suggestion hitl-queue-suggestion",
          dir: "auto",
          text: conf ? `${str(classes[sug].label)} ${conf}` : str(classes[sug].label),
        })
      : null,
    item.audit === true ? h("span", { class: "hitl-badge hitl-audit-badge", text: "audit" }) : null,
    item.skipped === true ? h("span", { class: "hitl-badge", text: "skipped" }) : null,
  );
}
