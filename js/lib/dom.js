// Minimal, safe DOM construction helpers.
//
// Everything that comes from Python is treated as hostile data: it only ever
// reaches the DOM as text nodes (textContent) or as the value of a fixed,
// code-chosen attribute. Tag names and attribute names are always constants
// chosen by this code, never data.

// Attributes that can load or execute content. They are refused by h(); the
// one legitimate URL sink (an image source) goes through setImageSrc().
const FORBIDDEN_ATTRS = new Set([
  "src",
  "srcset",
  "srcdoc",
  "href",
  "xlink:href",
  "action",
  "formaction",
  "style",
]);

/**
 * Create an element.
 *
 * attrs:
 *   class / className : string or array of strings (falsy entries dropped)
 *   text              : textContent
 *   dataset           : { key: value } -> data-* attributes
 *   any other key     : setAttribute(key, String(value)); null/undefined/false skip it,
 *                       true sets an empty attribute.
 * children: Nodes, strings/numbers (become text nodes), arrays, null/undefined/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (/^on/i.test(name)) {
        throw new Error("h(): event handler attributes are not allowed");
      }
      if (FORBIDDEN_ATTRS.has(name.toLowerCase())) {
        throw new Error(`h(): attribute "${name}" is not allowed`);
      }
      if (name === "class" || name === "className") {
        el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : String(value);
      } else if (name === "text") {
        el.textContent = String(value);
      } else if (name === "dataset") {
        for (const [key, v] of Object.entries(value)) {
          if (v !== null && v !== undefined) el.dataset[key] = String(v);
        }
      } else {
        el.setAttribute(name, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

/** Append children (see h) to a parent node. */
export function append(parent, children) {
  if (children === null || children === undefined || children === false) return parent;
  if (Array.isArray(children)) {
    for (const child of children) append(parent, child);
  } else if (typeof children === "object" && typeof children.nodeType === "number") {
    parent.appendChild(children);
  } else {
    parent.appendChild(document.createTextNode(String(children)));
  }
  return parent;
}

/** Remove all children of a node. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replace all children of a node. */
export function replaceChildren(el, ...children) {
  clear(el);
  return append(el, children);
}

const DATA_IMAGE_RE = /^data:image\/(png|jpeg|gif|webp);base64,/i;

/** True if `src` is an image source we are willing to load. */
export function isSafeImageSrc(src) {
  if (typeof src !== "string") return false;
  if (DATA_IMAGE_RE.test(src)) return true;
  const scheme = src.slice(0, 6).toLowerCase();
  return scheme.startsWith("blob:") || scheme === "https:";
}

/** Set an <img> source after validation. Returns false (and sets nothing) if refused. */
export function setImageSrc(img, src) {
  if (!isSafeImageSrc(src)) return false;
  img.setAttribute("src", src);
  return true;
}

/** Coerce an arbitrary (JSON) value to display text. */
export function str(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : String(value);
}
