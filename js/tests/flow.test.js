// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from "vitest";
import { baseStatus, click, defaultState, fakeModel, key, mount, sentOfKind, textItem } from "./helpers.js";

afterEach(() => {
  document.body.textContent = "";
});

const ids = (...xs) => xs.map((id) => textItem(id));
const savedState = (w) => w.q(".hitl-saved-state").textContent;

describe("layout", () => {
  it("has the stable structure", () => {
    const w = mount(fakeModel(defaultState()));
    expect(w.el.children).toHaveLength(1);
    expect(w.root.className).toBe("hitl-labeler");
    for (const sel of [".hitl-card", ".hitl-view", ".hitl-skip", ".hitl-undo", ".hitl-accept", ".hitl-queue", ".hitl-status", ".hitl-saved-state", ".hitl-progress", ".hitl-blind"]) {
      expect(w.q(sel), sel).not.toBeNull();
    }
    expect(w.q(".hitl-blind").type).toBe("checkbox");
    expect(w.cardId()).toBe("a");
    // "Up next" is what comes after the card: the card itself is not in it
    expect(w.qa(".hitl-queue .hitl-queue-item").map((li) => li.dataset.id)).toEqual(["b", "c", "d"]);
    expect(w.q(".hitl-skip").textContent).toBe("Skip (S)");
    expect(w.q(".hitl-undo").textContent).toBe("Undo (Z)");
    expect(w.q(".hitl-accept").textContent).toBe("Accept suggestion (Enter)");
    w.cleanup();
  });

  it("shows score, suggestion, confidence and reason on the card", () => {
    const items = [
      textItem("a", "hi", { score: 0.123456, suggestion: 1, confidence: 0.876, reason: "uncertainty (margin)" }),
      textItem("b", "ho", { suggestion: 1, confidence: 0.876 }),
    ];
    const w = mount(fakeModel(defaultState({ items })));
    expect(w.q(".hitl-card .hitl-score").textContent).toBe("score 0.123");
    expect(w.q(".hitl-card .hitl-suggestion").textContent).toBe("suggestion: negative (88%)");
    expect(w.q(".hitl-card .hitl-reason").textContent).toBe("uncertainty (margin)");
    expect(w.q(".hitl-queue .hitl-suggestion").textContent).toBe("negative 88%");
    expect(w.q('.hitl-class-btn[data-index="1"]').classList.contains("hitl-suggested")).toBe(true);
    expect(w.q(".hitl-accept").disabled).toBe(false);
    w.cleanup();
  });

  it("sets the current trait to the shown card", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    expect(model.get("current")).toBe("a");
    expect(model.saves).toBeGreaterThan(0);
    w.cleanup();
  });

  it("starts from the current trait when it is still queued", () => {
    const model = fakeModel(defaultState({ current: "c" }));
    const w = mount(model);
    expect(w.cardId()).toBe("c");
    w.cleanup();
  });

  it("shows 'Nothing left to label' when items is empty", () => {
    const model = fakeModel(defaultState({ items: [] }));
    const w = mount(model);
    expect(w.q(".hitl-empty").textContent).toBe("Nothing left to label");
    expect(w.cardId()).toBeNull();
    expect(model.get("current")).toBeNull();
    expect(w.q(".hitl-class-btn").disabled).toBe(true);
    expect(w.q(".hitl-skip").disabled).toBe(true);
    key(w.root, "1");
    key(w.root, "s");
    expect(model.sent).toHaveLength(0);
    w.cleanup();
  });

  it("tolerates missing traits while the kernel starts", () => {
    const model = fakeModel({});
    const w = mount(model);
    expect(w.q(".hitl-empty").textContent).toBe("Nothing left to label");
    expect(w.q(".hitl-status").textContent).toContain("0 labeled");
    model.py("classes", defaultState().classes);
    model.py("items", ids("x"));
    expect(w.cardId()).toBe("x");
    w.cleanup();
  });

  it("clicking a queue item makes it current", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    click(w.q('.hitl-queue-item[data-id="c"]'));
    expect(w.cardId()).toBe("c");
    expect(w.qa(".hitl-queue-item").map((li) => li.dataset.id)).toEqual(["a", "b", "d"]);
    expect(model.get("current")).toBe("c");
    expect(document.activeElement).toBe(w.root);
    w.cleanup();
  });

  it("class, skip, accept and undo buttons work", () => {
    const items = [textItem("a", "x", { suggestion: 0, confidence: 0.9 }), ...ids("b", "c")];
    const model = fakeModel(defaultState({ items }));
    const w = mount(model);
    click(w.q(".hitl-accept"));
    click(w.q('.hitl-class-btn[data-index="2"]'));
    click(w.q(".hitl-skip"));
    click(w.q(".hitl-undo"));
    expect(model.sent.map((m) => [m.kind, m.id, m.class_index])).toEqual([
      ["label", "a", 0],
      ["label", "b", 2],
      ["skip", "c", undefined],
      ["undo", undefined, undefined],
    ]);
    w.cleanup();
  });

  it("shows the focus hint only when the widget is not focused", () => {
    const w = mount(fakeModel(defaultState()));
    const hint = w.q(".hitl-hint");
    expect(hint.textContent).toBe("click here, then use the keys");
    const hidden = () => hint.classList.contains("hitl-hint-hidden");
    expect(hidden()).toBe(false);
    click(w.q(".hitl-card"));
    expect(document.activeElement).toBe(w.root);
    expect(hidden()).toBe(true);
    expect(hint.hidden).toBe(false); // still laid out: focusing must not move the buttons
    w.root.blur();
    expect(hidden()).toBe(false);
    w.cleanup();
  });
});

describe("status line", () => {
  it("shows counts, progress, fitting, errors, message, warnings and store", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    expect(w.q(".hitl-status").textContent).toContain("12 labeled \u00b7 988 remaining");
    expect(w.q(".hitl-progress-fill").style.width).toBe("1.2%");
    expect(w.q(".hitl-store").textContent).toContain("/tmp/labels.jsonl");
    expect(w.q(".hitl-fitting")).toBeNull();
    model.py(
      "status",
      baseStatus({ fitting: true, fit_error: "singular matrix", message: "hello", warnings: ["w1", "w2"], labeled: 500 }),
    );
    expect(w.q(".hitl-fitting").textContent).toBe("model refitting\u2026");
    expect(w.q(".hitl-fit-error").textContent).toContain("singular matrix");
    expect(w.q(".hitl-message").textContent).toBe("hello");
    expect(w.qa(".hitl-warning").map((e) => e.textContent)).toEqual(["w1", "w2"]);
    expect(w.q(".hitl-progress-fill").style.width).toBe("50%");
    w.cleanup();
  });

  it("shows long work (vectorizing a large pool) while cold-start cards can be labeled", () => {
    const cold = ["a", "b", "c"].map((id) => textItem(id, undefined, { reason: "cold start: random order" }));
    const vectorizing = (progress) => baseStatus({ labeled: 0, model_version: 0, fitting: false, progress });
    const model = fakeModel(defaultState({ items: cold, status: vectorizing("vectorizing 0%") }));
    const w = mount(model);
    expect(w.q(".hitl-work").textContent).toBe("vectorizing 0% \u2026");
    model.py("status", vectorizing("vectorizing 40%"));
    expect(w.q(".hitl-work").textContent).toBe("vectorizing 40% \u2026");
    // the card needs no model: a label goes out and is acknowledged meanwhile
    expect(w.cardId()).toBe("a");
    key(w.root, "1");
    const [sent] = sentOfKind(model, "label");
    expect(sent.id).toBe("a");
    expect(w.cardId()).toBe("b");
    model.emitMsg({ kind: "ack", client_id: sent.client_id, ok: true });
    expect(savedState(w)).toBe("saved");
    expect(w.q(".hitl-work").textContent).toBe("vectorizing 40% \u2026");
    // a refit waiting for the features says what it waits for, not "refitting"
    model.py("status", { ...vectorizing("vectorizing 80%"), fitting: true });
    expect(w.q(".hitl-work").textContent).toBe("vectorizing 80% \u2026");
    expect(w.q(".hitl-status").textContent).not.toContain("model refitting");
    // done: the status line is as before
    model.py("status", { ...vectorizing(null), fitting: true });
    expect(w.q(".hitl-work")).toBeNull();
    expect(w.q(".hitl-fitting").textContent).toBe("model refitting\u2026");
    model.py("status", vectorizing(null));
    expect(w.q(".hitl-fitting")).toBeNull();
    w.cleanup();
  });
});

describe("blind mode", () => {
  const items = [
    textItem("a", "x", { suggestion: 1, confidence: 0.75 }),
    textItem("b", "y", { suggestion: 0, confidence: 0.66 }),
  ];

  it("hides suggestions and confidence everywhere and disables Enter", () => {
    const model = fakeModel(defaultState({ items, blind: true }));
    const w = mount(model);
    expect(w.qa(".hitl-suggestion")).toHaveLength(0);
    expect(w.qa(".hitl-suggested")).toHaveLength(0);
    expect(w.q(".hitl-card").textContent).not.toContain("%");
    expect(w.q(".hitl-queue").textContent).not.toContain("%");
    expect(w.q(".hitl-accept").hidden).toBe(true);
    expect(w.q(".hitl-blind").checked).toBe(true);
    const ev = key(w.root, "Enter");
    expect(ev.defaultPrevented).toBe(false);
    expect(model.sent).toHaveLength(0);
    key(w.root, "1");
    expect(sentOfKind(model, "label")[0]).toMatchObject({ id: "a", class_index: 0, suggestion_shown: false });
    w.cleanup();
  });

  it("the checkbox sets the blind trait and the UI follows", () => {
    const model = fakeModel(defaultState({ items }));
    const w = mount(model);
    expect(w.qa(".hitl-suggestion").length).toBeGreaterThan(0);
    const box = w.q(".hitl-blind");
    box.checked = true;
    box.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("blind")).toBe(true);
    expect(w.qa(".hitl-suggestion")).toHaveLength(0);
    model.py("blind", false);
    expect(w.qa(".hitl-suggestion").length).toBeGreaterThan(0);
    expect(w.q(".hitl-blind").checked).toBe(false);
    expect(w.q(".hitl-accept").hidden).toBe(false);
    w.cleanup();
  });
});

describe("optimistic labeling and acks", () => {
  it("advances to the next item immediately, before any ack", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "1");
    expect(w.cardId()).toBe("b");
    expect(model.get("current")).toBe("b");
    expect(w.qa(".hitl-queue-item").map((li) => li.dataset.id)).toEqual(["c", "d"]);
    expect(savedState(w)).toBe("saving\u2026 \u00b7 1 unsaved");
    key(w.root, "2");
    expect(w.cardId()).toBe("c");
    expect(savedState(w)).toBe("saving\u2026 \u00b7 2 unsaved");
    w.cleanup();
  });

  it("holds the card being looked at when a re-ranked items list leaves it out", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "ArrowRight"); // looking at "b"
    expect(w.cardId()).toBe("b");
    // a refit's queue, computed before Python heard that "b" is shown
    model.py("status", baseStatus({ current_seen: "a" }));
    model.py("items", ids("d", "c", "a"));
    expect(w.cardId()).toBe("b");
    key(w.root, "1");
    expect(sentOfKind(model, "label").map((m) => m.id)).toEqual(["b"]);
    expect(w.cardId()).toBe("d");
    w.cleanup();
  });

  it("never revives a labeled item from a stale items list (a refresh computed before the label)", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "1"); // label "a"
    const [m1] = sentOfKind(model, "label");
    model.emitMsg({ kind: "ack", client_id: m1.client_id, ok: true });
    model.py("items", ids("b", "c", "d")); // Python's fresh queue: "a" is gone
    model.py("items", ids("a", "b", "c", "d")); // a stale queue from the refit thread
    expect(w.cardId()).toBe("b");
    expect(w.qa(".hitl-queue-item").map((li) => li.dataset.id)).not.toContain("a");
    model.emitMsg({ kind: "undone", id: "a" }); // only an undo brings it back
    model.py("items", ids("a", "b", "c", "d"));
    expect(w.cardId()).toBe("a");
    w.cleanup();
  });

  it("shows 'saved' only after ok acks for the sent client_ids", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    expect(savedState(w)).toBe("");
    key(w.root, "1");
    key(w.root, "2");
    const [m1, m2] = sentOfKind(model, "label");
    model.emitMsg({ kind: "ack", client_id: "someone-else", ok: true });
    expect(savedState(w)).toBe("saving\u2026 \u00b7 2 unsaved");
    model.emitMsg({ kind: "ack", client_id: m1.client_id, ok: true });
    expect(savedState(w)).toBe("saving\u2026 \u00b7 1 unsaved");
    model.emitMsg({ kind: "ack", client_id: m2.client_id, ok: true });
    expect(savedState(w)).toBe("saved");
    w.cleanup();
  });

  it("counts failed acks as unsaved, shows the error and re-queues the item", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "1");
    key(w.root, "1");
    const [m1, m2] = sentOfKind(model, "label");
    model.emitMsg({ kind: "ack", client_id: m1.client_id, ok: false, error: "disk full" });
    model.emitMsg({ kind: "ack", client_id: m2.client_id, ok: true });
    expect(savedState(w)).toBe("1 unsaved");
    expect(w.q(".hitl-saved-state").classList.contains("hitl-error")).toBe(true);
    expect(w.q(".hitl-status").textContent).toContain("disk full");
    // the current card is not stolen, but "a" is back in the queue
    expect(w.cardId()).toBe("c");
    expect(w.qa(".hitl-queue-item").map((li) => li.dataset.id)).toContain("a");
    // labeling it again successfully clears the failure
    click(w.q('.hitl-queue-item[data-id="a"]'));
    key(w.root, "2");
    const m3 = sentOfKind(model, "label")[2];
    expect(m3).toMatchObject({ id: "a", class_index: 1 });
    model.emitMsg({ kind: "ack", client_id: m3.client_id, ok: true });
    expect(savedState(w)).toBe("saved");
    expect(w.q(".hitl-status").textContent).not.toContain("disk full");
    w.cleanup();
  });

  it("a failing model.send is reported like a failed ack", () => {
    const model = fakeModel(defaultState());
    model.send = () => {
      throw new Error("comm closed");
    };
    const w = mount(model);
    key(w.root, "1");
    expect(savedState(w)).toBe("1 unsaved");
    expect(w.q(".hitl-status").textContent).toContain("comm closed");
    w.cleanup();
  });

  it("records time_spent_ms from when the card was shown", async () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    await new Promise((r) => setTimeout(r, 30));
    key(w.root, "1");
    expect(sentOfKind(model, "label")[0].time_spent_ms).toBeGreaterThanOrEqual(20);
    key(w.root, "1");
    expect(sentOfKind(model, "label")[1].time_spent_ms).toBeLessThan(20);
    w.cleanup();
  });

  it("labeling the last open item shows a waiting state, then new items", () => {
    const model = fakeModel(defaultState({ items: ids("a") }));
    const w = mount(model);
    key(w.root, "1");
    expect(w.cardId()).toBeNull();
    expect(w.q(".hitl-empty")).not.toBeNull();
    model.py("items", ids("b", "c"));
    expect(w.cardId()).toBe("b");
    model.py("status", baseStatus({ current_seen: "b" }));
    model.py("items", []);
    expect(w.q(".hitl-empty").textContent).toBe("Nothing left to label");
    w.cleanup();
  });

  it("labeling an item picked from the middle moves on to the first of Up next", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    click(w.q('.hitl-queue-item[data-id="c"]'));
    expect(w.qa(".hitl-queue-item").map((li) => li.dataset.id)).toEqual(["a", "b", "d"]);
    key(w.root, "1");
    expect(w.cardId()).toBe("a"); // the list said a came next, and it does
    expect(w.qa(".hitl-queue-item").map((li) => li.dataset.id)).toEqual(["b", "d"]);
    key(w.root, "ArrowRight");
    key(w.root, "ArrowRight");
    expect(w.cardId()).toBe("d");
    key(w.root, "s");
    expect(w.cardId()).toBe("a");
    w.cleanup();
  });
});

describe("re-ranking", () => {
  it("a label names the queue its card was shown from, through a re-rank", () => {
    const listed = (plan, ...xs) => xs.map((id) => textItem(id, undefined, { plan }));
    const model = fakeModel(defaultState({ items: listed(7, "a", "b", "c") }));
    const w = mount(model);
    key(w.root, "1"); // a, from queue 7; the card is now b, also from queue 7
    model.py("items", listed(8, "d", "b", "c")); // a re-rank keeps b on screen
    expect(w.cardId()).toBe("b");
    key(w.root, "1"); // b still answers queue 7; then d, the first of queue 8
    key(w.root, "1");
    const sent = sentOfKind(model, "label").map((m) => [m.id, m.plan]);
    expect(sent).toEqual([["a", 7], ["b", 7], ["d", 8]]);
    w.cleanup();
  });

  it("keeps the current card when it is still present", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "ArrowRight");
    expect(w.cardId()).toBe("b");
    const viewNode = w.q(".hitl-card .hitl-view");
    model.py("items", ids("d", "c", "b", "e"));
    expect(w.cardId()).toBe("b");
    // the (possibly scrolled) view is not rebuilt for the same item
    expect(w.q(".hitl-card .hitl-view")).toBe(viewNode);
    expect(w.qa(".hitl-queue-item").map((li) => li.dataset.id)).toEqual(["d", "c", "e"]);
    expect(model.get("current")).toBe("b");
    w.cleanup();
  });

  it("updates card metadata without stealing the card", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    model.py("items", [textItem("z"), textItem("a", undefined, { suggestion: 2, confidence: 0.4, reason: "uncertainty (margin)" })]);
    expect(w.cardId()).toBe("a");
    expect(w.q(".hitl-card .hitl-suggestion").textContent).toBe("suggestion: neutral (40%)");
    expect(w.q(".hitl-card .hitl-reason").textContent).toBe("uncertainty (margin)");
    w.cleanup();
  });

  it("shows the first open item when the current one disappears", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    model.py("status", baseStatus({ current_seen: "a" })); // Python knew "a" was shown
    model.py("items", ids("x", "y"));
    expect(w.cardId()).toBe("x");
    w.cleanup();
  });

  it("skips over ids done locally that are still in a stale items list", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "1"); // a
    key(w.root, "s"); // b
    expect(w.cardId()).toBe("c");
    model.py("items", ids("a", "b", "e", "c"));
    expect(w.cardId()).toBe("c");
    expect(w.qa(".hitl-queue-item").map((li) => li.dataset.id)).toEqual(["e"]);
    key(w.root, "1"); // c
    expect(w.cardId()).toBe("e");
    model.py("items", ids("a", "b", "e"));
    expect(w.cardId()).toBe("e");
    w.cleanup();
  });

  it("a skipped item comes back when Python re-queues it", () => {
    const model = fakeModel(defaultState({ items: ids("a", "b") }));
    const w = mount(model);
    key(w.root, "s");
    expect(w.cardId()).toBe("b");
    model.py("items", [textItem("b"), textItem("a", undefined, { skipped: true })]);
    expect(w.cardId()).toBe("b");
    expect(w.qa(".hitl-queue-item").map((li) => li.dataset.id)).toEqual(["a"]);
    expect(w.q('.hitl-queue-item[data-id="a"]').textContent).toContain("skipped");
    w.cleanup();
  });
});

describe("undo", () => {
  it("'undone' restores the item and makes it current", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "1");
    expect(w.cardId()).toBe("b");
    key(w.root, "z");
    expect(sentOfKind(model, "undo")).toHaveLength(1);
    model.emitMsg({ kind: "undone", id: "a" });
    expect(w.cardId()).toBe("a");
    expect(model.get("current")).toBe("a");
    expect(w.qa(".hitl-queue-item").map((li) => li.dataset.id)).toEqual(["b", "c", "d"]);
    w.cleanup();
  });

  it("waits for the undone item to arrive in items", () => {
    const model = fakeModel(defaultState({ items: ids("a", "b") }));
    const w = mount(model);
    key(w.root, "1");
    model.py("items", ids("b", "c"));
    expect(w.cardId()).toBe("b");
    model.emitMsg({ kind: "undone", id: "a" });
    expect(w.cardId()).toBe("b");
    model.py("items", ids("a", "b", "c"));
    expect(w.cardId()).toBe("a");
    // and only once: a later re-rank does not steal the card again
    key(w.root, "ArrowRight");
    model.py("items", ids("a", "c", "b"));
    expect(w.cardId()).toBe("b");
    w.cleanup();
  });

  it("'undone' with null changes nothing", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "z");
    model.emitMsg({ kind: "undone", id: null });
    expect(w.cardId()).toBe("a");
    expect(w.q(".hitl-status").textContent).toContain("Nothing to undo");
    w.cleanup();
  });

  it("ignores malformed messages", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    for (const msg of [null, undefined, 42, "ack", {}, { kind: "ack" }, { kind: "undone" }, { kind: "??" }]) {
      model.emitMsg(msg);
    }
    expect(w.cardId()).toBe("a");
    w.cleanup();
  });
});
