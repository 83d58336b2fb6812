// @vitest-environment happy-dom
// The user's journey: labels from a notebook cell or a simulated oracle while the widget
// is shown (never a stale card), audit items (Accept says why it is off), "Up next"
// (what follows the card, in queue order) and saved views (read-only, no kernel).
import { afterEach, describe, expect, it, vi } from "vitest";
import { SLOW_ACK_MS } from "../labeler.js";
import { AUDIT_WHY, READ_ONLY_WHY } from "../lib/card.js";
import { DISCONNECTED_CLASS } from "../lib/connection.js";
import { SLOW_ACK_TEXT } from "../lib/status.js";
import { baseStatus, click, defaultState, fakeModel, key, mount, sentOfKind, textItem } from "./helpers.js";

afterEach(() => {
  document.body.textContent = "";
});

const queueIds = (w) => w.qa(".hitl-queue-item").map((li) => li.dataset.id);
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * A stand-in for the Python half (widgets/labeler.py): a ranked pool, a window of 8,
 * `current` as Python last heard it from the browser (it lags: during Run All the
 * browser's messages wait behind the queued cells), and `closed`, the ids it sent
 * earlier that are labeled now.
 */
function fakeKernel(model, n = 100, window = 8) {
  const pool = Array.from({ length: n }, (_, i) => `p${i}`);
  const labeled = new Set();
  const sent = new Set();
  const kernel = {
    labeled,
    heard: null, // the `current` Python knows about
    items() {
      const open = pool.filter((id) => !labeled.has(id)).slice(0, window);
      if (kernel.heard && !labeled.has(kernel.heard) && !open.includes(kernel.heard)) {
        open.unshift(kernel.heard);
      }
      return open.map((id) => textItem(id));
    },
    push() {
      const items = kernel.items();
      for (const it of items) sent.add(it.id);
      const closed = [...sent].filter((id) => labeled.has(id)).slice(-64);
      model.pyState({ items, closed, status: baseStatus({ current_seen: kernel.heard }) });
    },
    /** A cell (or session.simulate) labels the best open item through the API. */
    labelNext() {
      const id = pool.find((x) => !labeled.has(x));
      labeled.add(id);
      kernel.push();
      return id;
    },
  };
  return kernel;
}

describe("labels from elsewhere (a cell, simulate) never leave a stale card", () => {
  it("Run All: the cell labels the shown card before Python hears which card is shown", () => {
    const model = fakeModel(defaultState({ items: [], current: null, status: baseStatus() }));
    const kernel = fakeKernel(model);
    kernel.push(); // the widget's first queue
    const w = mount(model);
    expect(w.cardId()).toBe("p0");
    expect(model.get("current")).toBe("p0"); // sent, but Python is busy running cells
    for (let i = 0; i < 20; i += 1) {
      kernel.labelNext(); // `for item_id in session.queue(20).index: session.submit(...)`
      const shown = w.cardId();
      expect(kernel.labeled.has(shown), `card ${shown} after ${i + 1} labels`).toBe(false);
    }
    expect(w.cardId()).toBe("p20");
    expect(queueIds(w)).toEqual(["p21", "p22", "p23", "p24", "p25", "p26", "p27"]);
    // the first key press labels the card shown, an unlabeled item
    key(w.root, "1");
    expect(sentOfKind(model, "label")[0].id).toBe("p20");
    w.cleanup();
  });

  it("simulate(40): every card shown is unlabeled, and the card ends on Python's first item", () => {
    const model = fakeModel(defaultState({ items: [], current: null, status: baseStatus() }));
    const kernel = fakeKernel(model);
    kernel.push();
    const w = mount(model);
    const shown = new Set([w.cardId()]);
    for (let i = 0; i < 40; i += 1) {
      kernel.labelNext();
      expect(kernel.labeled.has(w.cardId())).toBe(false);
      shown.add(w.cardId());
    }
    expect(w.cardId()).toBe(model.get("items")[0].id);
    expect(shown.size).toBe(41);
    expect(w.q(".hitl-card .hitl-item-id").textContent).toBe("p40");
    w.cleanup();
  });

  it("a card Python knew about and labeled goes too, even while the browser looks further down", () => {
    const model = fakeModel(defaultState({ items: [], current: null, status: baseStatus() }));
    const kernel = fakeKernel(model);
    kernel.push();
    const w = mount(model);
    key(w.root, "ArrowRight");
    key(w.root, "ArrowRight");
    expect(w.cardId()).toBe("p2");
    kernel.heard = "p0"; // Python heard an older `current`
    kernel.labeled.add("p2"); // a teammate / a cell labels the card being looked at
    kernel.push();
    expect(w.cardId()).toBe("p0");
    expect(queueIds(w)).not.toContain("p2");
    w.cleanup();
  });

  it("a card that is merely re-ranked away while Python lags is still held", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "ArrowRight");
    expect(w.cardId()).toBe("b");
    // a refit computed before Python heard of "b": b is not in it, and not closed
    model.pyState({ items: [textItem("x"), textItem("a")], closed: [], status: baseStatus({ current_seen: "a" }) });
    expect(w.cardId()).toBe("b");
    expect(queueIds(w)).toEqual(["x", "a"]);
    // once `closed` names it, it goes
    model.pyState({ items: [textItem("x"), textItem("a")], closed: ["b"], status: baseStatus({ current_seen: "a" }) });
    expect(w.cardId()).toBe("x");
    w.cleanup();
  });

  it("an id in both items and closed is not shown", () => {
    const model = fakeModel(defaultState({ closed: ["a"] }));
    const w = mount(model);
    expect(w.cardId()).toBe("b");
    expect(queueIds(w)).toEqual(["c", "d"]);
    w.cleanup();
  });
});

describe("audit items: Accept says why it is off", () => {
  const items = [
    textItem("au", "audit me", { audit: true, suggestion: 1, confidence: 0.9, reason: "random audit: a uniform sample" }),
    textItem("b", "plain", { suggestion: 0, confidence: 0.8 }),
  ];

  it("disables Enter and says why, visibly, in the title and the aria-label", () => {
    const model = fakeModel(defaultState({ items }));
    const w = mount(model);
    const accept = w.q(".hitl-accept");
    const why = w.q(".hitl-accept-why");
    expect(accept.disabled).toBe(true);
    expect(accept.hidden).toBe(false);
    expect(accept.title).toBe(AUDIT_WHY);
    expect(accept.getAttribute("aria-label")).toContain("random audit item");
    expect(accept.getAttribute("aria-label")).toContain("without bias");
    expect(why.hidden).toBe(false);
    expect(why.textContent).toBe("suggestion withheld: random audit item (checks the model without bias)");
    // nothing anchors the human: no suggestion on the card, the buttons or the list row
    expect(w.q(".hitl-card .hitl-suggestion")).toBeNull();
    expect(w.qa(".hitl-suggested")).toHaveLength(0);
    expect(w.q(".hitl-card .hitl-audit-badge").textContent).toBe("audit");
    const ev = key(w.root, "Enter");
    expect(ev.defaultPrevented).toBe(false);
    expect(model.sent).toHaveLength(0);
    key(w.root, "2");
    expect(sentOfKind(model, "label")[0]).toMatchObject({ id: "au", class_index: 1, suggestion_shown: false });
    // the next card has a suggestion: Accept is back, the explanation gone
    expect(w.cardId()).toBe("b");
    expect(accept.disabled).toBe(false);
    expect(accept.hasAttribute("aria-label")).toBe(false);
    expect(why.hidden).toBe(true);
    w.cleanup();
  });

  it("says when there is simply no suggestion yet, and nothing when blind", () => {
    const model = fakeModel(defaultState({ items: [textItem("a"), ...items] }));
    const w = mount(model);
    expect(w.q(".hitl-accept").disabled).toBe(true);
    expect(w.q(".hitl-accept-why").textContent).toBe("no suggestion yet");
    model.py("blind", true);
    expect(w.q(".hitl-accept").hidden).toBe(true);
    expect(w.q(".hitl-accept-why").hidden).toBe(true);
    w.cleanup();
  });

  it("the Up next row of an audit item shows no suggestion", () => {
    const model = fakeModel(defaultState({ items: [items[1], items[0]] }));
    const w = mount(model);
    const row = w.q('.hitl-queue-item[data-id="au"]');
    expect(row.querySelector(".hitl-suggestion")).toBeNull();
    expect(row.textContent).toContain("audit");
    w.cleanup();
  });
});

describe("Up next: what comes after the card, in queue order", () => {
  it("an audit card 7th in Python's list is not listed after its own predecessors", () => {
    const ids = ["i1", "i2", "i3", "i4", "i5", "i6", "au7", "i8"];
    const items = ids.map((id) => textItem(id, undefined, { audit: id === "au7" }));
    const model = fakeModel(defaultState({ items, current: "au7" }));
    const w = mount(model);
    expect(w.cardId()).toBe("au7");
    const next = queueIds(w);
    expect(next).toEqual(["i1", "i2", "i3", "i4", "i5", "i6", "i8"]);
    expect(next).not.toContain(w.cardId());
    key(w.root, "1");
    expect(w.cardId()).toBe(next[0]); // the list said what came next
    expect(queueIds(w)).toEqual(next.slice(1));
    w.cleanup();
  });

  it("follows every re-rank and never lists the card", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    for (const order of [["d", "a", "c", "b"], ["b", "c", "a"], ["e", "a", "f"]]) {
      model.py("items", order.map((id) => textItem(id)));
      expect(queueIds(w)).toEqual(order.filter((id) => id !== w.cardId()));
    }
    w.cleanup();
  });
});

describe("saved notebooks and exports: read-only without a kernel", () => {
  it("shows the item it had, says it is read-only, takes no labels and leaves keys alone", () => {
    const model = fakeModel(defaultState({ current: "c" }));
    const w = mount(model, { elClass: [DISCONNECTED_CLASS] });
    expect(w.cardId()).toBe("c");
    const note = w.q(".hitl-readonly");
    expect(note.hidden).toBe(false);
    expect(note.textContent).toContain("read-only");
    expect(note.textContent).toContain("not connected to a running kernel");
    expect(w.root.classList.contains("hitl-read-only")).toBe(true);
    for (const btn of w.qa(".hitl-class-btn, .hitl-skip, .hitl-undo, .hitl-accept")) {
      expect(btn.disabled, btn.className).toBe(true);
    }
    expect(w.q(".hitl-blind").disabled).toBe(true);
    expect(w.q(".hitl-accept").title).toBe(READ_ONLY_WHY);
    for (const k of ["1", "2", "Enter", "s", "z", "ArrowRight"]) {
      expect(key(w.root, k).defaultPrevented, k).toBe(false);
    }
    click(w.q(".hitl-class-btn"));
    click(w.q('.hitl-queue-item[data-id="a"]'));
    expect(w.cardId()).toBe("c");
    expect(model.sent).toHaveLength(0);
    expect(model.saves).toBe(0);
    expect(w.q(".hitl-saved-state").textContent).toBe("");
    expect(w.q(".hitl-hint").classList.contains("hitl-hint-hidden")).toBe(true);
    w.cleanup();
  });

  it("a live widget whose kernel goes away turns read-only, and back when it returns", async () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    expect(w.q(".hitl-readonly").hidden).toBe(true);
    expect(w.q(".hitl-class-btn").disabled).toBe(false);
    w.el.classList.add(DISCONNECTED_CLASS); // what @jupyter-widgets/base does on a kernel loss
    model.emit("comm_live_update");
    await flush();
    expect(w.q(".hitl-readonly").hidden).toBe(false);
    expect(w.q(".hitl-class-btn").disabled).toBe(true);
    key(w.root, "1");
    expect(model.sent).toHaveLength(0);
    w.el.classList.remove(DISCONNECTED_CLASS);
    await flush();
    expect(w.q(".hitl-readonly").hidden).toBe(true);
    key(w.root, "1");
    expect(sentOfKind(model, "label")).toHaveLength(1);
    w.cleanup();
    expect(model.listenerCount()).toBe(0);
  });
});

describe("a kernel that does not answer", () => {
  it("says so when a label waits longer than SLOW_ACK_MS, and stops once it is saved", () => {
    vi.useFakeTimers();
    try {
      const model = fakeModel(defaultState());
      const w = mount(model);
      key(w.root, "1");
      const state = () => w.q(".hitl-saved-state").textContent;
      expect(state()).toBe("saving\u2026 \u00b7 1 unsaved");
      vi.advanceTimersByTime(SLOW_ACK_MS - 1000);
      expect(state()).not.toContain(SLOW_ACK_TEXT);
      vi.advanceTimersByTime(2000);
      expect(state()).toContain(SLOW_ACK_TEXT);
      model.emitMsg({ kind: "ack", client_id: sentOfKind(model, "label")[0].client_id, ok: true });
      expect(state()).toBe("saved");
      w.cleanup();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
