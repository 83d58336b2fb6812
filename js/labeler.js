// hitl_widgets labeler: anywidget front end.
// Wire protocol: see the `items`, `classes`, `blind`, `current`, `status`, `closed`
// traits and the label/skip/undo <-> ack/undone custom messages.

import { h, clear, replaceChildren, str } from "./lib/dom.js";
import { actionForKey, classKeyMap } from "./lib/keys.js";
import { renderView } from "./lib/views.js";
import { acceptInfo, classButton, metaNodes, queueRow, suggestionIndex } from "./lib/card.js";
import { renderStatus } from "./lib/status.js";
import { isDisconnected, watchConnection } from "./lib/connection.js";
import {
  findItem,
  idSet,
  neighbour,
  newClientId,
  nextOpen,
  now,
  pickCurrent,
  sameJson,
  upNext,
  validItems,
} from "./lib/queue.js";

const QUEUE_LIMIT = 12;
// A label unanswered this long says so: the kernel is busy (a long cell) or gone in a
// way the widget could not see (see lib/connection.js for the case it can see).
export const SLOW_ACK_MS = 10000;
const ACCEPT_TEXT = "Accept suggestion (Enter)";
const READ_ONLY_TEXT =
  "Saved view, read-only: this widget is not connected to a running kernel (a saved " +
  "notebook or an exported page), so it takes no labels. Run the notebook to label.";

function errorText(msg) {
  const e = str(msg.error);
  return e || "save failed";
}

function render({ model, el }) {
  // ---- local state ------------------------------------------------------
  const done = new Map(); // item id -> {kind: "label"|"skip", wasSkipped}
  const pending = new Map(); // client_id -> item id (labels awaiting ack)
  const sentAt = new Map(); // client_id -> when it was sent (labels awaiting ack)
  let slowTimer = null;
  const failed = new Map(); // item id -> error text (labels whose ack failed)
  const skipsSent = new Map(); // client_id -> item id
  let acked = 0;
  let lastError = null;
  let note = null;
  let currentId = typeof model.get("current") === "string" ? model.get("current") : null;
  let shownAt = now();
  let pendingUndo = null;
  let renderedView = { id: undefined, view: undefined };
  let renderedClasses;
  let keyMap = new Map();
  // No live kernel (a saved notebook, an HTML export): show what was saved, take nothing.
  let readOnly = isDisconnected(el);

  // The card being looked at is held when a re-ranked `items` leaves it out only
  // because Python computed it before hearing which card is shown (status.current_seen
  // is another id): a refit must never swap the card under the user's finger. If
  // Python knew the card and still dropped it (a new slice), it goes; and a card Python
  // names in `closed` (labeled meanwhile: by a cell, a simulated oracle, a teammate)
  // is never held, whatever Python knew about the card when it computed the queue.
  let heldItem = null;
  let cardPlan = null;
  const getItems = () => {
    const closed = idSet(model.get("closed"));
    const items = validItems(model.get("items")).filter((it) => !closed.has(it.id));
    const held = heldItem;
    const status = model.get("status");
    const seen = status && typeof status === "object" ? status.current_seen : undefined;
    if (
      held &&
      held.id === currentId &&
      seen !== currentId &&
      !done.has(held.id) &&
      !closed.has(held.id) &&
      !items.some((it) => it.id === held.id)
    ) {
      return [held, ...items];
    }
    return items;
  };
  const getClasses = () => {
    const c = model.get("classes");
    return Array.isArray(c) ? c : [];
  };
  const isBlind = () => model.get("blind") === true;

  // ---- DOM skeleton -----------------------------------------------------
  const statusEl = h("div", { class: "hitl-status" });
  const readOnlyNote = h("div", { class: "hitl-readonly", role: "note", text: READ_ONLY_TEXT });
  const hint = h("div", { class: "hitl-hint", text: "click here, then use the keys" });
  const viewSlot = h("div", { class: "hitl-view-slot" });
  const meta = h("div", { class: "hitl-meta" });
  const card = h("div", { class: "hitl-card" }, viewSlot, meta);
  const classBar = h("div", { class: "hitl-classes", role: "group", "aria-label": "classes" });
  const actionButton = (cls, action, text, title) =>
    h("button", { type: "button", class: ["hitl-btn", cls], dataset: { action }, title, text });
  const skipBtn = actionButton("hitl-skip", "skip", "Skip (S)", "Skip this item (S)");
  const undoBtn = actionButton("hitl-undo", "undo", "Undo (Z)", "Undo the last label (Z or Backspace)");
  const acceptBtn = actionButton(
    "hitl-accept",
    "accept",
    ACCEPT_TEXT,
    "Label with the model's suggestion (Enter)",
  );
  // Why Accept is disabled (an audit item, no model yet), said beside the button too.
  const acceptWhy = h("span", { class: "hitl-accept-why hitl-muted", "aria-hidden": "true" });
  const blindBox = h("input", { type: "checkbox", class: "hitl-blind" });
  const blindLabel = h(
    "label",
    { class: "hitl-blind-label", title: "Hide the model's suggestions while labeling" },
    blindBox,
    h("span", { text: "blind" }),
  );
  const queue = h("ol", { class: "hitl-queue", "aria-label": "up next" });
  const root = h(
    "div",
    { class: "hitl-labeler", tabindex: "0", "data-lm-suppress-shortcuts": "true" },
    statusEl,
    readOnlyNote,
    hint,
    card,
    classBar,
    h("div", { class: "hitl-actions" }, skipBtn, undoBtn, acceptBtn, acceptWhy, blindLabel),
    h("div", { class: "hitl-queue-wrap" }, h("div", { class: "hitl-queue-title", text: "Up next" }), queue),
  );
  el.appendChild(root);

  // ---- rendering --------------------------------------------------------
  function setCurrent(id) {
    if (id !== currentId) {
      heldItem = findItem(getItems(), id);
      // the queue the card comes from, kept while a re-ranked list keeps the card: a
      // label answers the list it was shown from, which only the browser knows
      cardPlan = heldItem && Number.isInteger(heldItem.plan) ? heldItem.plan : null;
      currentId = id;
      shownAt = now();
    }
  }

  function syncCurrentTrait() {
    if (readOnly) return; // nothing to tell: there is no kernel, and a save would be lost
    const traitValue = model.get("current");
    if ((traitValue === undefined ? null : traitValue) !== currentId) {
      model.set("current", currentId);
      model.save_changes();
    }
  }

  function renderCard(items, classes, blind) {
    const item = findItem(items, currentId);
    if (!item) {
      card.removeAttribute("data-id");
      card.classList.add("hitl-card-empty");
      const text = items.length === 0 ? "Nothing left to label" : "Waiting for more items\u2026";
      replaceChildren(viewSlot, h("div", { class: "hitl-empty", text }));
      clear(meta);
      renderedView = { id: undefined, view: undefined };
      return;
    }
    card.classList.remove("hitl-card-empty");
    card.dataset.id = item.id;
    // Re-render the (possibly large) view only when it actually changed, so
    // a re-rank does not reset scrolling inside the current card.
    if (renderedView.id !== item.id || !sameJson(renderedView.view, item.view)) {
      replaceChildren(viewSlot, renderView(item.view));
      renderedView = { id: item.id, view: item.view };
    }
    replaceChildren(meta, metaNodes(item, classes, blind));
  }

  function renderClassButtons(classes) {
    if (sameJson(renderedClasses, classes)) return;
    renderedClasses = classes;
    replaceChildren(classBar, classes.map(classButton));
  }

  function renderControls(items, classes, blind) {
    renderClassButtons(classes);
    const item = findItem(items, currentId);
    const accept = acceptInfo(item, classes, blind, readOnly);
    const sug = accept.suggestion;
    for (const btn of classBar.children) {
      btn.disabled = !item || readOnly;
      btn.classList.toggle("hitl-suggested", sug !== null && btn.dataset.index === String(sug));
    }
    skipBtn.disabled = !item || readOnly;
    undoBtn.disabled = readOnly;
    blindBox.disabled = readOnly;
    acceptBtn.hidden = blind;
    acceptBtn.disabled = !accept.enabled;
    acceptBtn.title = accept.why || "Label with the model's suggestion (Enter)";
    if (accept.why) acceptBtn.setAttribute("aria-label", `${ACCEPT_TEXT}: unavailable. ${accept.why}`);
    else acceptBtn.removeAttribute("aria-label");
    acceptWhy.textContent = accept.short || "";
    acceptWhy.hidden = blind || !accept.short;
    acceptWhy.title = accept.why || "";
    blindBox.checked = blind;
    readOnlyNote.hidden = !readOnly;
    root.classList.toggle("hitl-read-only", readOnly);
    if (readOnly) showHint(false);
  }

  // "Up next": what comes after the card, in the order it will come (queue order).
  function renderQueue(items, classes, blind) {
    const next = upNext(items, done, currentId).slice(0, QUEUE_LIMIT);
    replaceChildren(queue, next.map((it) => queueRow(it, classes, blind)));
    queue.parentNode.hidden = next.length === 0;
    for (const li of queue.children) li.classList.toggle("hitl-disabled", readOnly);
  }

  function renderStatusNow() {
    renderStatus(statusEl, model.get("status"), {
      pending: pending.size,
      slow: oldestPendingAge() > SLOW_ACK_MS,
      failed: failed.size,
      acked,
      error: lastError,
      note,
    });
  }

  function refresh() {
    const items = getItems();
    const classes = getClasses();
    const blind = isBlind();
    setCurrent(pickCurrent(items, done, currentId));
    renderCard(items, classes, blind);
    renderControls(items, classes, blind);
    renderQueue(items, classes, blind);
    renderStatusNow();
    syncCurrentTrait();
  }

  // ---- actions ----------------------------------------------------------
  // Mark `id` done and show the first item of "Up next" (the best open item left).
  function markDoneAndAdvance(id, mark) {
    const next = nextOpen(getItems(), done, id);
    done.set(id, mark);
    setCurrent(next);
  }

  function label(index) {
    const classes = getClasses();
    const item = findItem(getItems(), currentId);
    if (!item || !Number.isInteger(index) || index < 0 || index >= classes.length) return;
    const blind = isBlind();
    const msg = {
      kind: "label",
      id: item.id,
      class_index: index,
      suggestion_shown: !blind && suggestionIndex(item, classes) !== null,
      plan: cardPlan,
      time_spent_ms: Math.max(0, Math.round(now() - shownAt)),
      client_id: newClientId(),
    };
    pending.set(msg.client_id, item.id);
    sentAt.set(msg.client_id, now());
    armSlowTimer();
    note = null;
    markDoneAndAdvance(item.id, { kind: "label" });
    send(msg);
    refresh();
  }

  function skip() {
    const item = findItem(getItems(), currentId);
    if (!item) return;
    const msg = { kind: "skip", id: item.id, client_id: newClientId() };
    skipsSent.set(msg.client_id, item.id);
    if (skipsSent.size > 1000) skipsSent.delete(skipsSent.keys().next().value);
    note = null;
    markDoneAndAdvance(item.id, { kind: "skip", wasSkipped: item.skipped === true });
    send(msg);
    refresh();
  }

  function undo() {
    note = "undoing\u2026";
    send({ kind: "undo", client_id: newClientId() });
    renderStatusNow();
  }

  function oldestPendingAge() {
    let oldest = Infinity;
    for (const t of sentAt.values()) oldest = Math.min(oldest, t);
    return oldest === Infinity ? 0 : now() - oldest;
  }

  // One timer at a time: when the oldest unacked label turns "slow", show it.
  function armSlowTimer() {
    if (slowTimer !== null || sentAt.size === 0) return;
    const wait = Math.max(0, SLOW_ACK_MS - oldestPendingAge()) + 20;
    slowTimer = setTimeout(() => {
      slowTimer = null;
      renderStatusNow();
      if (oldestPendingAge() <= SLOW_ACK_MS) armSlowTimer();
    }, wait);
  }

  // model.send can throw if the comm is gone; report it like a failed ack.
  function send(msg) {
    try {
      model.send(msg);
    } catch (err) {
      onMsg({ kind: "ack", client_id: msg.client_id, ok: false, error: `could not send: ${str(err && err.message)}` });
    }
  }

  function canAccept() {
    if (isBlind()) return false;
    return suggestionIndex(findItem(getItems(), currentId), getClasses()) !== null;
  }

  function move(step) {
    const id = neighbour(getItems(), done, currentId, step);
    if (id !== null && id !== currentId) {
      setCurrent(id);
      refresh();
    }
  }

  function select(id) {
    if (readOnly) return;
    if (typeof id === "string" && findItem(getItems(), id) && !done.has(id)) {
      setCurrent(id);
      refresh();
    }
  }

  /** Run an action; returns true if the event that caused it is consumed. */
  function perform(action, repeat) {
    if (readOnly) return false; // a saved view takes no labels (and leaves the keys alone)
    if (action.type === "accept" && !canAccept()) return false;
    if (repeat && action.type !== "next" && action.type !== "prev") return true; // no auto-repeat labeling
    switch (action.type) {
      case "label":
        label(action.index);
        break;
      case "accept":
        label(suggestionIndex(findItem(getItems(), currentId), getClasses()));
        break;
      case "skip":
        skip();
        break;
      case "undo":
        undo();
        break;
      case "next":
        move(1);
        break;
      case "prev":
        move(-1);
        break;
      default:
        return false;
    }
    return true;
  }

  // ---- model listeners --------------------------------------------------
  function onItems() {
    const fresh = findItem(validItems(model.get("items")), currentId);
    if (fresh) heldItem = fresh;
    const items = getItems();
    const byId = new Map(items.map((it) => [it.id, it]));
    for (const [id, mark] of done) {
      const it = byId.get(id);
      if (!it) {
        // A label stays done until "undone" or a failed ack: an `items` list computed
        // before the label reached Python may still arrive later and must not revive it.
        if (mark.kind !== "label") done.delete(id);
      } else if (mark.kind === "skip" && !mark.wasSkipped && it.skipped === true) {
        done.delete(id); // Python has processed the skip and re-queued the item.
      }
    }
    if (pendingUndo !== null && byId.has(pendingUndo)) {
      // only once the undone item has arrived: an older list may come first
      setCurrent(pendingUndo);
      pendingUndo = null;
    }
    refresh();
  }

  function onClasses() {
    keyMap = classKeyMap(getClasses());
    refresh();
  }

  function onMsg(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.kind === "ack") {
      const cid = msg.client_id;
      if (typeof cid === "string" && pending.has(cid)) {
        const id = pending.get(cid);
        pending.delete(cid);
        sentAt.delete(cid);
        armSlowTimer(); // for the labels still waiting
        if (msg.ok === true) {
          acked += 1;
          failed.delete(id);
          if (failed.size === 0) lastError = null;
        } else {
          failed.set(id, errorText(msg));
          lastError = errorText(msg);
          // The label was not stored: put the item back in the local queue.
          const mark = done.get(id);
          if (mark && mark.kind === "label" && ![...pending.values()].includes(id)) done.delete(id);
        }
      } else if (typeof cid === "string" && skipsSent.has(cid)) {
        const id = skipsSent.get(cid);
        skipsSent.delete(cid);
        // Python has processed the skip; from now on its `items` are authoritative.
        const mark = done.get(id);
        if (mark && mark.kind === "skip") done.delete(id);
        if (msg.ok !== true) lastError = errorText(msg);
      } else if (msg.ok === false) {
        lastError = errorText(msg);
      }
      refresh();
    } else if (msg.kind === "undone") {
      note = null;
      if (typeof msg.id !== "string") {
        note = "Nothing to undo";
        renderStatusNow();
        return;
      }
      done.delete(msg.id);
      if (findItem(getItems(), msg.id)) {
        setCurrent(msg.id);
        pendingUndo = null;
      } else {
        pendingUndo = msg.id;
      }
      refresh();
    }
  }

  const modelListeners = [
    ["change:items", onItems],
    ["change:classes", onClasses],
    ["change:blind", refresh],
    ["change:status", renderStatusNow],
    ["change:closed", onItems],
    ["msg:custom", onMsg],
  ];

  // ---- DOM listeners ----------------------------------------------------
  function onKeyDown(event) {
    const action = actionForKey(event, keyMap);
    if (!action) return;
    if (perform(action, event.repeat === true)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  function onClick(event) {
    const target = event.target;
    const closest = (sel) => (target && typeof target.closest === "function" ? target.closest(sel) : null);
    const control = closest("[data-action]");
    if (control && root.contains(control) && !control.disabled) {
      const action = control.dataset.action;
      if (action === "label") perform({ type: "label", index: Number(control.dataset.index) }, false);
      else if (action === "select") select(control.dataset.id);
      else if (action === "skip" || action === "undo" || action === "accept") perform({ type: action }, false);
    }
    if (!closest("input, textarea, select")) root.focus({ preventScroll: true });
  }

  function onChange(event) {
    if (event.target === blindBox && !readOnly) {
      model.set("blind", blindBox.checked);
      model.save_changes();
      refresh();
    }
  }

  // The hint keeps its space when hidden: removing it from the layout on focus would
  // shift the buttons between mousedown and mouseup, and the first click would miss.
  function showHint(visible) {
    hint.classList.toggle("hitl-hint-hidden", !visible);
  }

  function onFocusIn() {
    showHint(false);
  }

  function onFocusOut(event) {
    const next = event.relatedTarget;
    showHint(!readOnly && !(next && root.contains(next)));
  }

  function onConnection(disconnected) {
    readOnly = disconnected;
    if (!readOnly) showHint(!root.contains(document.activeElement));
    refresh();
  }

  const domListeners = [
    ["keydown", onKeyDown],
    ["click", onClick],
    ["change", onChange],
    ["focusin", onFocusIn],
    ["focusout", onFocusOut],
  ];

  // ---- wire up ----------------------------------------------------------
  for (const [name, cb] of modelListeners) model.on(name, cb);
  for (const [name, cb] of domListeners) root.addEventListener(name, cb);
  const unwatch = watchConnection(el, model, onConnection);
  keyMap = classKeyMap(getClasses());
  showHint(!readOnly && !root.contains(document.activeElement));
  refresh();

  return () => {
    unwatch();
    if (slowTimer !== null) clearTimeout(slowTimer);
    for (const [name, cb] of modelListeners) model.off(name, cb);
    for (const [name, cb] of domListeners) root.removeEventListener(name, cb);
    root.remove();
  };
}

export default { render };
