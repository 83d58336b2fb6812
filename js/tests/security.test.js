// @vitest-environment happy-dom
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { baseStatus, click, fakeModel, key, mount } from "./helpers.js";

afterEach(() => {
  document.body.textContent = "";
  vi.restoreAllMocks();
});

const HUGE = `${"<script>alert(1)</script>\u202E\u0000 ".repeat(8)}${"A".repeat(10 * 1024 * 1024)}`;

const CORPUS = {
  script: "<script>alert(1)</script>",
  imgOnerror: "<img src=x onerror=alert(1)>",
  jsUrl: "javascript:alert(1)",
  svgOnload: "<svg onload=alert(1)>",
  rtl: "\u202Egnp.exe \u202Dabc",
  nul: "a\u0000b\u0000",
  mixed: "</td></tr><tr><td onmouseover=alert(1)>x</td> \"' & <!-- --> <iframe src=javascript:alert(1)>",
  huge: HUGE,
};

function hostileState(s) {
  return {
    classes: [
      { label: s, key: "1" },
      { label: `2${s}`, key: "2" },
      { label: "other", key: s.slice(0, 30) },
    ],
    items: [
      {
        id: s,
        view: { kind: "text", text: s, truncated: true, highlight: [s, "script", "alert", "\u0000", "<"] },
        score: 0.5,
        suggestion: 0,
        confidence: 0.5,
        reason: s,
        skipped: true,
      },
      {
        id: `row-${s.slice(0, 40)}`,
        view: { kind: "row", fields: [[s, s], ["x", s]], truncated: false },
        score: null,
        suggestion: 1,
        confidence: null,
        reason: s,
        skipped: false,
      },
      {
        id: "img",
        view: { kind: "image", src: s, alt: s, truncated: false },
        score: null,
        suggestion: null,
        confidence: null,
        reason: s,
        skipped: false,
      },
      {
        id: "img-js",
        view: { kind: "image", src: "javascript:alert(1)", alt: s, truncated: false },
        score: null,
        suggestion: null,
        confidence: null,
        reason: "r",
        skipped: false,
      },
      {
        id: "kind",
        view: { kind: s, text: s },
        score: null,
        suggestion: null,
        confidence: null,
        reason: "r",
        skipped: false,
      },
    ],
    blind: false,
    current: null,
    status: baseStatus({ fit_error: s, message: s, warnings: [s, s], store: s, progress: s }),
  };
}

function assertInert(el) {
  expect(el.querySelectorAll("script, svg, iframe, object, embed, style, link, math, frame, base, form")).toHaveLength(0);
  for (const img of el.querySelectorAll("img")) {
    expect(img.getAttribute("src")).toMatch(/^(data:image\/(png|jpeg|gif|webp);base64,|blob:|https:)/i);
  }
  for (const node of el.querySelectorAll("*")) {
    for (const attr of Array.from(node.attributes)) {
      expect(attr.name.toLowerCase().startsWith("on"), `${node.tagName} ${attr.name}`).toBe(false);
    }
    if (node.tagName === "A") expect(node.hasAttribute("href")).toBe(false);
  }
}

describe("hostile data", () => {
  for (const [name, s] of Object.entries(CORPUS)) {
    it(`renders ${name} inertly and verbatim`, () => {
      const alert = vi.fn();
      window.alert = alert;
      const model = fakeModel(hostileState(s));
      const w = mount(model);

      assertInert(w.el);
      // text view: verbatim, even with (hostile) highlight terms
      expect(w.cardId()).toBe(s);
      expect(w.q(".hitl-card .hitl-text").textContent).toBe(s);
      expect(w.q(".hitl-card .hitl-reason").textContent).toBe(s);
      // class labels
      const labels = w.qa(".hitl-class-btn .hitl-class-label").map((e) => e.textContent);
      expect(labels[0]).toBe(s);
      expect(labels[1]).toBe(`2${s}`);
      expect(w.q(".hitl-card .hitl-suggestion-label").textContent).toBe(s);
      // status
      expect(w.q(".hitl-fit-error-text").textContent).toBe(s);
      expect(w.q(".hitl-message").textContent).toBe(s);
      expect(w.qa(".hitl-warning").map((e) => e.textContent)).toEqual([s, s]);
      expect(w.q(".hitl-store-path").textContent).toBe(s);
      expect(w.q(".hitl-work").textContent).toBe(`${s.slice(0, 200)} \u2026`);
      // text containers get dir=auto
      expect(w.q(".hitl-card .hitl-text").getAttribute("dir")).toBe("auto");

      // row view
      key(w.root, "ArrowRight");
      assertInert(w.el);
      const cells = w.qa(".hitl-card tr").map((tr) => [tr.querySelector("th").textContent, tr.querySelector("td").textContent]);
      expect(cells).toEqual([[s, s], ["x", s]]);
      expect(w.q(".hitl-card th").getAttribute("dir")).toBe("auto");
      expect(w.q(".hitl-card .hitl-suggestion-label").textContent).toBe(`2${s}`);

      // image with a hostile src
      key(w.root, "ArrowRight");
      assertInert(w.el);
      expect(w.qa("img")).toHaveLength(0);
      expect(w.q(".hitl-card .hitl-image-blocked").textContent).toBe("[image blocked: unsupported source]");
      expect(w.q(".hitl-card .hitl-image-alt").textContent).toBe(s);

      // image with javascript: src
      key(w.root, "ArrowRight");
      assertInert(w.el);
      expect(w.qa("img")).toHaveLength(0);
      expect(w.q(".hitl-card .hitl-image-blocked")).not.toBeNull();

      // unknown view kind
      key(w.root, "ArrowRight");
      assertInert(w.el);
      expect(w.q(".hitl-card .hitl-view").textContent).toBe("[unsupported view]");

      // hostile ack error text
      key(w.root, "1");
      model.emitMsg({ kind: "ack", client_id: model.lastSent().client_id, ok: false, error: s });
      assertInert(w.el);
      expect(w.q(".hitl-save-error").textContent).toBe(`Save failed: ${s}`);
      expect(w.q(".hitl-saved-state").textContent).toBe("1 unsaved");

      // hostile undone id / queue clicks stay inert
      model.emitMsg({ kind: "undone", id: s });
      expect(w.cardId()).toBe(s);
      for (const li of w.qa(".hitl-queue-item")) click(li);
      assertInert(w.el);

      // blind: the hostile suggestion label must disappear from the card
      model.py("blind", true);
      expect(w.qa(".hitl-suggestion")).toHaveLength(0);
      assertInert(w.el);

      expect(alert).not.toHaveBeenCalled();
      w.cleanup();
    });
  }

  it("never adds nodes outside the widget element", () => {
    const before = document.head.childNodes.length;
    const model = fakeModel(hostileState(CORPUS.script));
    const w = mount(model);
    expect(document.head.childNodes.length).toBe(before);
    expect(document.body.children).toHaveLength(1);
    w.cleanup();
  });
});

describe("source hygiene", () => {
  const jsDir = join(dirname(fileURLToPath(import.meta.url)), "..");
  const FORBIDDEN = ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"];

  function sourceFiles(dir) {
    const out = [];
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (name !== "tests" && name !== "node_modules") out.push(...sourceFiles(p));
      } else if (/\.(m?js|css)$/.test(name)) {
        out.push(p);
      }
    }
    return out;
  }

  it("finds the sources", () => {
    const files = sourceFiles(jsDir).map((f) => relative(jsDir, f).replaceAll("\\", "/"));
    expect(files).toEqual(expect.arrayContaining(["labeler.js", "labeler.css", "lib/dom.js", "lib/views.js"]));
  });

  it("no source file under js/ (excluding tests) uses HTML-string sinks", () => {
    for (const file of sourceFiles(jsDir)) {
      const text = readFileSync(file, "utf8");
      for (const bad of FORBIDDEN) {
        expect(text.includes(bad), `${relative(jsDir, file)} contains ${bad}`).toBe(false);
      }
    }
  });

  it("the built bundle (if present) has no HTML-string sinks either", () => {
    const bundle = join(jsDir, "..", "src", "hitl_widgets", "static", "labeler.js");
    if (!existsSync(bundle)) return;
    const text = readFileSync(bundle, "utf8");
    for (const bad of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"]) {
      expect(text.includes(bad), `bundle contains ${bad}`).toBe(false);
    }
  });
});
