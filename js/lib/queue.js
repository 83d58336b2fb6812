// Pure helpers for the local view of the queue window.

/** Valid items of the `items` trait (objects with a string id; first occurrence of an id wins). */
export function validItems(items) {
  if (!Array.isArray(items)) return [];
  const seen = new Set();
  const out = [];
  for (const it of items) {
    if (!it || typeof it !== "object" || typeof it.id !== "string" || seen.has(it.id)) continue;
    seen.add(it.id);
    out.push(it);
  }
  return out;
}

/** Structural equality for JSON-like values (used to avoid needless re-renders). */
export function sameJson(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !sameJson(a[k], b[k])) return false;
  }
  return true;
}

/** Items not marked done locally, in `items` order. */
export function openItems(items, done) {
  return validItems(items).filter((it) => !done.has(it.id));
}

/** The ids of a list trait (strings only), as a Set. */
export function idSet(value) {
  return new Set(Array.isArray(value) ? value.filter((id) => typeof id === "string") : []);
}

/**
 * What comes after the card, in the order it will be shown: the open items in queue
 * (`items`) order, without the card itself. Labeling or skipping the card shows the
 * first of them (see `nextOpen`), so the list and the next card always agree.
 */
export function upNext(items, done, currentId) {
  return openItems(items, done).filter((it) => it.id !== currentId);
}

/** The id shown after `id` is labeled or skipped: the best open item other than it. */
export function nextOpen(items, done, id) {
  const rest = upNext(items, done, id);
  return rest.length > 0 ? rest[0].id : null;
}

/**
 * Which id to show: keep `currentId` if it is still open, otherwise the first
 * open item, otherwise null.
 */
export function pickCurrent(items, done, currentId) {
  const open = openItems(items, done);
  if (currentId !== null && open.some((it) => it.id === currentId)) return currentId;
  return open.length > 0 ? open[0].id : null;
}

/** The open item `step` positions away from `currentId` (clamped), or null. */
export function neighbour(items, done, currentId, step) {
  const open = openItems(items, done);
  if (open.length === 0) return null;
  const idx = open.findIndex((it) => it.id === currentId);
  if (idx < 0) return open[0].id;
  const next = Math.max(0, Math.min(open.length - 1, idx + step));
  return open[next].id;
}

/** Find an item by id. */
export function findItem(items, id) {
  if (id === null || id === undefined) return null;
  return validItems(items).find((it) => it.id === id) || null;
}

let counter = 0;

/** A client-unique message id. */
export function newClientId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") {
    try {
      return c.randomUUID();
    } catch {
      // fall through (e.g. insecure context)
    }
  }
  counter += 1;
  return `c${Date.now().toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Monotonic-ish clock in ms. */
export function now() {
  const p = globalThis.performance;
  return p && typeof p.now === "function" ? p.now() : Date.now();
}
