// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from "vitest";
import { h, isSafeImageSrc } from "../lib/dom.js";
import { previewText, renderView, BLOCKED_IMAGE_TEXT } from "../lib/views.js";
import { CLASSES, defaultState, fakeModel, mount, textItem } from "./helpers.js";

const PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

afterEach(() => {
  document.body.textContent = "";
});

function itemWithView(id, view, extra = {}) {
  return { ...textItem(id), view, ...extra };
}

describe("text view", () => {
  it("renders text verbatim with case-insensitive highlights as <mark>", () => {
    const text = "The Cat sat on the cat-mat. CATS!";
    const model = fakeModel(
      defaultState({
        items: [itemWithView("t1", { kind: "text", text, truncated: false, highlight: ["cat", "MAT"] })],
      }),
    );
    const w = mount(model);
    const box = w.q(".hitl-card .hitl-view .hitl-text");
    expect(box.textContent).toBe(text);
    expect(box.getAttribute("dir")).toBe("auto");
    const marks = Array.from(box.querySelectorAll("mark")).map((m) => m.textContent);
    expect(marks).toEqual(["Cat", "cat", "mat", "CAT"]);
    expect(w.q(".hitl-truncated")).toBeNull();
    w.cleanup();
  });

  it("treats highlight terms literally (no regex injection)", () => {
    const view = renderView({ kind: "text", text: "a.b a+b (x) axb", truncated: false, highlight: ["a.b", "(x)", ""] });
    const marks = Array.from(view.querySelectorAll("mark")).map((m) => m.textContent);
    expect(marks).toEqual(["a.b", "(x)"]);
    expect(view.textContent).toBe("a.b a+b (x) axb");
  });

  it("shows a visible truncated marker", () => {
    const model = fakeModel(
      defaultState({ items: [itemWithView("t1", { kind: "text", text: "abc", truncated: true, highlight: [] })] }),
    );
    const w = mount(model);
    const marker = w.q(".hitl-card .hitl-truncated");
    expect(marker).not.toBeNull();
    expect(marker.textContent).toContain("(truncated)");
    w.cleanup();
  });
});

describe("image view", () => {
  it("accepts a base64 data URL image", () => {
    const model = fakeModel(
      defaultState({ items: [itemWithView("i1", { kind: "image", src: PNG, alt: "a pixel", truncated: false })] }),
    );
    const w = mount(model);
    const img = w.q(".hitl-card img");
    expect(img).not.toBeNull();
    expect(img.getAttribute("src")).toBe(PNG);
    expect(img.getAttribute("alt")).toBe("a pixel");
    expect(w.q(".hitl-image-blocked")).toBeNull();
    w.cleanup();
  });

  it.each([
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "http://example.com/a.png",
    "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    " https://example.com/a.png",
    "//example.com/a.png",
    "",
  ])("rejects %j", (src) => {
    const model = fakeModel(
      defaultState({ items: [itemWithView("i1", { kind: "image", src, alt: "x", truncated: false })] }),
    );
    const w = mount(model);
    expect(w.qa("img")).toHaveLength(0);
    expect(w.q(".hitl-card .hitl-image-blocked").textContent).toBe(BLOCKED_IMAGE_TEXT);
    w.cleanup();
  });

  it("accepts https: and blob: sources and the allowed data types only", () => {
    expect(isSafeImageSrc("https://example.com/x.png")).toBe(true);
    expect(isSafeImageSrc("HTTPS://example.com/x.png")).toBe(true);
    expect(isSafeImageSrc("blob:https://host/1234")).toBe(true);
    for (const t of ["png", "jpeg", "gif", "webp", "PNG"]) {
      expect(isSafeImageSrc(`data:image/${t};base64,AAAA`)).toBe(true);
    }
    expect(isSafeImageSrc("data:image/png,AAAA")).toBe(false);
    expect(isSafeImageSrc("data:image/bmp;base64,AAAA")).toBe(false);
    expect(isSafeImageSrc(null)).toBe(false);
    expect(isSafeImageSrc({ toString: () => "https://x" })).toBe(false);
  });

  it("marks truncated images", () => {
    const view = renderView({ kind: "image", src: PNG, alt: "", truncated: true });
    expect(view.querySelector(".hitl-truncated")).not.toBeNull();
  });
});

describe("row view", () => {
  it("renders a two-column key/value table", () => {
    const fields = [
      ["name", "Ada"],
      ["age", "36"],
      ["note", "likes <b>math</b>"],
    ];
    const model = fakeModel(
      defaultState({ items: [itemWithView("r1", { kind: "row", fields, truncated: true })] }),
    );
    const w = mount(model);
    const rows = w.qa(".hitl-card .hitl-view tr");
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => [r.querySelector("th").textContent, r.querySelector("td").textContent])).toEqual(fields);
    expect(w.qa(".hitl-card b")).toHaveLength(0);
    expect(w.q(".hitl-card .hitl-truncated")).not.toBeNull();
    w.cleanup();
  });

  it("tolerates malformed fields", () => {
    const view = renderView({ kind: "row", fields: [["a"], "junk", null, ["b", 2, 3]], truncated: false });
    const cells = Array.from(view.querySelectorAll("td")).map((td) => td.textContent);
    expect(cells).toEqual(["", "2"]);
  });
});

describe("unknown views and previews", () => {
  it("renders an inert placeholder for unknown kinds", () => {
    const view = renderView({ kind: "<script>", text: "x" });
    expect(view.textContent).toBe("[unsupported view]");
    expect(view.className).toContain("hitl-view-unknown");
    expect(renderView(null).textContent).toBe("[unsupported view]");
  });

  it("makes short previews", () => {
    expect(previewText({ kind: "text", text: "hello\n\n  world" })).toBe("hello world");
    expect(previewText({ kind: "text", text: "x".repeat(1000) }).length).toBeLessThanOrEqual(140);
    expect(previewText({ kind: "image", src: "", alt: "" })).toBe("image");
    expect(previewText({ kind: "row", fields: [["a", "1"], ["b", "2"], ["c", "3"], ["d", "4"]] })).toBe(
      "a: 1 \u00b7 b: 2 \u00b7 c: 3",
    );
  });

  it("queue shows previews for each kind", () => {
    const items = [
      itemWithView("card", { kind: "text", text: "the card itself", truncated: false, highlight: [] }),
      itemWithView("t", { kind: "text", text: "first text", truncated: false, highlight: [] }),
      itemWithView("i", { kind: "image", src: PNG, alt: "", truncated: false }),
      itemWithView("r", { kind: "row", fields: [["col", "val"]], truncated: false }),
    ];
    const w = mount(fakeModel(defaultState({ items })));
    const previews = w.qa(".hitl-queue .hitl-queue-item .hitl-queue-preview").map((e) => e.textContent);
    expect(previews).toEqual(["first text", "image", "col: val"]);
    // queue never renders images
    expect(w.qa(".hitl-queue img")).toHaveLength(0);
    w.cleanup();
  });
});

describe("h()", () => {
  it("sets text and attributes, refuses event handlers and URL attributes", () => {
    const el = h("div", { class: ["a", false, "b"], text: "<b>x</b>", title: "t", dataset: { id: "q" } });
    expect(el.className).toBe("a b");
    expect(el.textContent).toBe("<b>x</b>");
    expect(el.children).toHaveLength(0);
    expect(el.dataset.id).toBe("q");
    expect(() => h("div", { onclick: "alert(1)" })).toThrow();
    expect(() => h("div", { OnMouseOver: "alert(1)" })).toThrow();
    expect(() => h("img", { src: "javascript:alert(1)" })).toThrow();
    expect(() => h("a", { href: "javascript:alert(1)" })).toThrow();
    expect(() => h("div", { style: "x" })).toThrow();
  });

  it("turns string children into text nodes", () => {
    const el = h("p", null, "<i>a</i>", 1, null, false, ["b", h("span", { text: "c" })]);
    expect(el.textContent).toBe("<i>a</i>1bc");
    expect(el.querySelectorAll("i")).toHaveLength(0);
  });
});

describe("class buttons", () => {
  it("shows key and label for each class, with data-index", () => {
    const w = mount(fakeModel(defaultState()));
    const btns = w.qa(".hitl-class-btn");
    expect(btns.map((b) => b.dataset.index)).toEqual(["0", "1", "2"]);
    expect(btns.map((b) => b.querySelector(".hitl-key").textContent)).toEqual(["1", "2", "3"]);
    expect(btns.map((b) => b.querySelector(".hitl-class-label").textContent)).toEqual(CLASSES.map((c) => c.label));
    w.cleanup();
  });
});
