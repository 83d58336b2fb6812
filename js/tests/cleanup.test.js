// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import { baseStatus, defaultState, fakeModel, key, mount, textItem } from "./helpers.js";

afterEach(() => {
  document.body.textContent = "";
});

describe("listener hygiene", () => {
  it("does not accumulate model listeners across many updates and re-renders", () => {
    const model = fakeModel(defaultState());
    let w = mount(model);
    const perRender = model.listenerCount();
    expect(perRender).toBeGreaterThan(0);
    for (let i = 0; i < 300; i += 1) {
      model.py("items", [textItem(`x${i}`), textItem(`y${i}`), textItem("a")]);
      model.py("status", baseStatus({ labeled: i }));
      model.py("blind", i % 2 === 0);
      model.py("classes", defaultState().classes);
      key(w.root, "1");
      model.emitMsg({ kind: "ack", client_id: model.lastSent().client_id, ok: i % 7 !== 0, error: "e" });
      model.emitMsg({ kind: "undone", id: `x${i}` });
      if (i % 50 === 0) {
        w.cleanup();
        expect(model.listenerCount()).toBe(0);
        w = mount(model);
      }
      expect(model.listenerCount()).toBe(perRender);
    }
    w.cleanup();
    expect(model.listenerCount()).toBe(0);
  });

  it("cleanup removes DOM listeners and the widget DOM", () => {
    const model = fakeModel(defaultState());
    const w = mount(model);
    const root = w.root;
    const removed = vi.spyOn(root, "removeEventListener");
    w.cleanup();
    expect(removed.mock.calls.length).toBeGreaterThanOrEqual(5);
    expect(w.el.querySelector(".hitl-labeler")).toBeNull();
    // events on the detached root no longer do anything
    key(root, "1");
    expect(model.sent).toHaveLength(0);
    expect(model.listenerCount()).toBe(0);
  });

  it("two views of the same model are independent and clean up separately", () => {
    const model = fakeModel(defaultState());
    const w1 = mount(model);
    const n = model.listenerCount();
    const w2 = mount(model);
    expect(model.listenerCount()).toBe(2 * n);
    w1.cleanup();
    expect(model.listenerCount()).toBe(n);
    model.py("items", [textItem("q")]);
    expect(w2.cardId()).toBe("q");
    w2.cleanup();
    expect(model.listenerCount()).toBe(0);
  });
});
