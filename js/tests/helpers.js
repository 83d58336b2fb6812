// Test helpers: a fake anywidget model and mounting utilities.
import widget from "../labeler.js";

/**
 * Fake anywidget model. set() fires "change:<name>" synchronously (like
 * Backbone in the real front end). Use py(name, value) to simulate a trait
 * update coming from Python, and emitMsg(msg) for a "msg:custom" message.
 */
export function fakeModel(initial = {}) {
  const state = { ...initial };
  const handlers = new Map(); // event name -> array of callbacks
  const model = {
    sent: [],
    saves: 0,
    get(name) {
      return state[name];
    },
    set(name, value) {
      const old = state[name];
      state[name] = value;
      if (old !== value) model.emit(`change:${name}`, value);
    },
    save_changes() {
      model.saves += 1;
    },
    on(name, cb) {
      if (!handlers.has(name)) handlers.set(name, []);
      handlers.get(name).push(cb);
    },
    off(name, cb) {
      if (!handlers.has(name)) return;
      const list = handlers.get(name).filter((f) => f !== cb);
      if (list.length > 0) handlers.set(name, list);
      else handlers.delete(name);
    },
    send(msg) {
      model.sent.push(JSON.parse(JSON.stringify(msg)));
    },
    emit(name, ...args) {
      for (const cb of [...(handlers.get(name) || [])]) cb(...args);
    },
    /** Simulate Python changing a trait (fresh objects, like a real sync). */
    py(name, value) {
      state[name] = value === undefined ? value : JSON.parse(JSON.stringify(value));
      model.emit(`change:${name}`, state[name]);
    },
    /**
     * Simulate one state message from Python that changes several traits at once (as
     * `hold_sync` sends them): every value is set before any change event fires.
     */
    pyState(changes) {
      const names = Object.keys(changes);
      for (const name of names) state[name] = JSON.parse(JSON.stringify(changes[name]));
      for (const name of names) model.emit(`change:${name}`, state[name]);
    },
    emitMsg(msg) {
      model.emit("msg:custom", msg, []);
    },
    listenerCount(name) {
      if (name) return (handlers.get(name) || []).length;
      let n = 0;
      for (const list of handlers.values()) n += list.length;
      return n;
    },
    lastSent() {
      return model.sent[model.sent.length - 1];
    },
  };
  return model;
}

export const CLASSES = [
  { label: "positive", key: "1" },
  { label: "negative", key: "2" },
  { label: "neutral", key: "3" },
];

export function textItem(id, text, extra = {}) {
  return {
    id,
    view: { kind: "text", text: text ?? `text of ${id}`, truncated: false, highlight: [] },
    score: 0.5,
    suggestion: null,
    confidence: null,
    reason: "cold start: random order",
    skipped: false,
    ...extra,
  };
}

export function baseStatus(extra = {}) {
  return {
    labeled: 12,
    total: 1000,
    remaining: 988,
    fitting: false,
    fit_error: null,
    store: "/tmp/labels.jsonl",
    unsaved: 0,
    model_version: 1,
    message: null,
    warnings: [],
    ...extra,
  };
}

export function defaultState(extra = {}) {
  return {
    classes: CLASSES,
    items: ["a", "b", "c", "d"].map((id) => textItem(id)),
    blind: false,
    current: null,
    status: baseStatus(),
    ...extra,
  };
}

/**
 * Render the widget into a fresh element attached to the document.
 * `elClass`: classes the widget view element already has (e.g. the
 * "jupyter-widgets-disconnected" that @jupyter-widgets/base puts on views without a comm).
 */
export function mount(model, { elClass = [] } = {}) {
  const el = document.createElement("div");
  for (const c of elClass) el.classList.add(c);
  document.body.appendChild(el);
  const cleanup = widget.render({ model, el });
  const root = el.querySelector(".hitl-labeler");
  return {
    el,
    root,
    cleanup,
    q: (sel) => el.querySelector(sel),
    qa: (sel) => Array.from(el.querySelectorAll(sel)),
    cardId: () => {
      const card = el.querySelector(".hitl-card");
      return card && card.hasAttribute("data-id") ? card.getAttribute("data-id") : null;
    },
  };
}

/** Dispatch a keydown on `target` (default: the widget root); returns the event. */
export function key(target, keyName, init = {}) {
  const event = new KeyboardEvent("keydown", {
    key: keyName,
    bubbles: true,
    cancelable: true,
    ...init,
  });
  target.dispatchEvent(event);
  return event;
}

export function click(target) {
  target.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true }));
}

export function sentOfKind(model, kind) {
  return model.sent.filter((m) => m.kind === kind);
}
