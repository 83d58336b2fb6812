// Node builders for the item chrome: card metadata, class buttons, queue rows.

import { h, str } from "./dom.js";
import { classKey } from "./keys.js";
import { previewText } from "./views.js";

/** The item's suggested class index if it is valid for `classes`, else null. */
export function suggestionIndex(item, classes) {
  const s = item ? item.suggestion : null;
  return Number.isInteger(s) && s >= 0 && s < classes.length ? s : null;
}

/** "87%" for 0.87, or null. */
export function percent(confidence) {
  const c = Number(confidence);
  if (confidence === null || confidence === undefined || !Number.isFinite(c)) return null;
  return `${Math.round(Math.min(1, Math.max(0, c)) * 100)}%`;
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

/** A row of the "up next" list. */
export function queueRow(item, classes, blind, isCurrent) {
  const sug = blind ? null : suggestionIndex(item, classes);
  const conf = sug !== null ? percent(item.confidence) : null;
  return h(
    "li",
    {
      class: ["hitl-queue-item", isCurrent && "hitl-current"],
      dataset: { action: "select", id: item.id },
      "aria-current": isCurrent ? "true" : null,
    },
    h("span", { class: "hitl-queue-preview", dir: "auto", text: previewText(item.view) }),
    sug !== null
      ? h("span", {
          class: "hitl-suggestion hitl-queue-suggestion",
          dir: "auto",
          text: conf ? `${str(classes[sug].label)} ${conf}` : str(classes[sug].label),
        })
      : null,
    item.skipped === true ? h("span", { class: "hitl-badge", text: "skipped" }) : null,
  );
}
