// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import { actionForKey, classKeyMap } from "../lib/keys.js";
import { defaultState, fakeModel, key, mount, sentOfKind, textItem } from "./helpers.js";

afterEach(() => {
  document.body.textContent = "";
});

function suggested(ids) {
  return ids.map((id, i) => textItem(id, undefined, { suggestion: i % 3, confidence: 0.87, reason: "uncertainty (margin)" }));
}

describe("keyboard", () => {
  it("root is focusable and suppresses Lumino shortcuts", () => {
    const w = mount(fakeModel(defaultState()));
    expect(w.root.getAttribute("tabindex")).toBe("0");
    expect(w.root.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    w.cleanup();
  });

  it("class keys send a label with the right class_index, preventDefault and stopPropagation", () => {
    const model = fakeModel(defaultState({ items: suggested(["a", "b", "c"]) }));
    const w = mount(model);
    const outer = vi.fn();
    w.el.addEventListener("keydown", outer);
    const ev = key(w.root, "2");
    expect(ev.defaultPrevented).toBe(true);
    expect(outer).not.toHaveBeenCalled();
    const [msg] = sentOfKind(model, "label");
    expect(msg).toMatchObject({ kind: "label", id: "a", class_index: 1, suggestion_shown: true });
    expect(typeof msg.client_id).toBe("string");
    expect(msg.client_id.length).toBeGreaterThan(0);
    expect(msg.time_spent_ms).toBeGreaterThanOrEqual(0);
    w.cleanup();
  });

  it("stopPropagation is called on handled keys", () => {
    const w = mount(fakeModel(defaultState()));
    const ev = new KeyboardEvent("keydown", { key: "1", bubbles: true, cancelable: true });
    const stop = vi.spyOn(ev, "stopPropagation");
    const prevent = vi.spyOn(ev, "preventDefault");
    w.root.dispatchEvent(ev);
    expect(stop).toHaveBeenCalled();
    expect(prevent).toHaveBeenCalled();
    w.cleanup();
  });

  it("class keys are case-insensitive letters", () => {
    const classes = Array.from({ length: 11 }, (_, i) => ({ label: `c${i}`, key: i < 9 ? String(i + 1) : "ab"[i - 9] }));
    const model = fakeModel(defaultState({ classes }));
    const w = mount(model);
    key(w.root, "B");
    key(w.root, "a");
    expect(sentOfKind(model, "label").map((m) => m.class_index)).toEqual([10, 9]);
    w.cleanup();
  });

  it("suggestion_shown is false when there is no suggestion", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "1");
    expect(sentOfKind(model, "label")[0].suggestion_shown).toBe(false);
    w.cleanup();
  });

  it("Enter accepts the suggestion", () => {
    const model = fakeModel(defaultState({ items: [textItem("a", "x", { suggestion: 2, confidence: 0.5 }), textItem("b")] }));
    const w = mount(model);
    const ev = key(w.root, "Enter");
    expect(ev.defaultPrevented).toBe(true);
    expect(sentOfKind(model, "label")).toEqual([
      expect.objectContaining({ id: "a", class_index: 2, suggestion_shown: true }),
    ]);
    w.cleanup();
  });

  it("Enter is ignored when there is no suggestion", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    const ev = key(w.root, "Enter");
    expect(ev.defaultPrevented).toBe(false);
    expect(model.sent).toHaveLength(0);
    w.cleanup();
  });

  it("s skips, z and Backspace undo", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    expect(key(w.root, "s").defaultPrevented).toBe(true);
    expect(model.sent[0]).toMatchObject({ kind: "skip", id: "a" });
    expect(typeof model.sent[0].client_id).toBe("string");
    expect(w.cardId()).toBe("b");
    expect(key(w.root, "z").defaultPrevented).toBe(true);
    expect(key(w.root, "Backspace").defaultPrevented).toBe(true);
    expect(sentOfKind(model, "undo")).toHaveLength(2);
    const ids = model.sent.map((m) => m.client_id);
    expect(new Set(ids).size).toBe(ids.length);
    w.cleanup();
  });

  it("arrows move between items without sending anything", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    expect(w.cardId()).toBe("a");
    expect(key(w.root, "ArrowRight").defaultPrevented).toBe(true);
    expect(w.cardId()).toBe("b");
    key(w.root, "ArrowDown");
    expect(w.cardId()).toBe("c");
    key(w.root, "ArrowLeft");
    expect(w.cardId()).toBe("b");
    key(w.root, "ArrowUp");
    key(w.root, "ArrowUp");
    expect(w.cardId()).toBe("a");
    key(w.root, "ArrowDown");
    key(w.root, "ArrowDown");
    key(w.root, "ArrowDown");
    key(w.root, "ArrowDown");
    expect(w.cardId()).toBe("d");
    expect(model.sent).toHaveLength(0);
    expect(model.get("current")).toBe("d");
    w.cleanup();
  });

  it("keys with ctrl/meta/alt are ignored", () => {
    const model = fakeModel(defaultState({ items: suggested(["a", "b"]) }));
    const w = mount(model);
    for (const mod of ["ctrlKey", "metaKey", "altKey"]) {
      for (const k of ["1", "s", "z", "Enter", "ArrowRight", "Backspace"]) {
        const ev = key(w.root, k, { [mod]: true });
        expect(ev.defaultPrevented).toBe(false);
      }
    }
    expect(model.sent).toHaveLength(0);
    expect(w.cardId()).toBe("a");
    w.cleanup();
  });

  it("keys typed into the blind checkbox are ignored", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    const ev = key(w.q(".hitl-blind"), "1");
    expect(ev.defaultPrevented).toBe(false);
    expect(model.sent).toHaveLength(0);
    w.cleanup();
  });

  it("unknown keys are not handled", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    expect(key(w.root, "q").defaultPrevented).toBe(false);
    expect(key(w.root, "9").defaultPrevented).toBe(false);
    expect(model.sent).toHaveLength(0);
    w.cleanup();
  });

  it("auto-repeated label keys do not label several items", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    key(w.root, "1");
    const ev = key(w.root, "1", { repeat: true });
    expect(ev.defaultPrevented).toBe(true);
    expect(sentOfKind(model, "label")).toHaveLength(1);
    w.cleanup();
  });

  it("keys colliding with reserved keys are not bound to classes", () => {
    const map = classKeyMap([
      { label: "x", key: "1" },
      { label: "y", key: "S" },
      { label: "z", key: "1" },
      { label: "w", key: "" },
    ]);
    expect([...map.entries()]).toEqual([["1", 0]]);
    expect(actionForKey({ key: "s", target: null }, map)).toEqual({ type: "skip" });
  });
});
