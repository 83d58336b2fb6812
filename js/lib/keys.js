// Keyboard mapping. Pure functions, no DOM side effects.

// Keys with a fixed meaning. A class whose key collides with one of these is
// not bound (its button stays clickable): pressing "s" must never silently
// record a label when the user meant "skip".
export const RESERVED_KEYS = new Set([
  "s",
  "z",
  "enter",
  "backspace",
  "arrowright",
  "arrowdown",
  "arrowleft",
  "arrowup",
  " ",
  "tab",
  "escape",
]);

const FIXED_ACTIONS = {
  enter: { type: "accept" },
  s: { type: "skip" },
  z: { type: "undo" },
  backspace: { type: "undo" },
  arrowright: { type: "next" },
  arrowdown: { type: "next" },
  arrowleft: { type: "prev" },
  arrowup: { type: "prev" },
};

/** Normalised key of a class entry, or "" if it cannot be bound. */
export function classKey(cls) {
  const key = cls && typeof cls.key === "string" ? cls.key.toLowerCase() : "";
  if (key.length === 0 || RESERVED_KEYS.has(key)) return "";
  return key;
}

/** Map lower-cased key -> class index. The first class wins on duplicate keys. */
export function classKeyMap(classes) {
  const map = new Map();
  if (!Array.isArray(classes)) return map;
  classes.forEach((cls, index) => {
    const key = classKey(cls);
    if (key && !map.has(key)) map.set(key, index);
  });
  return map;
}

/** True for keydown events the widget must leave alone. */
export function shouldIgnoreKeyEvent(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return true;
  const target = event.target;
  if (target && typeof target.closest === "function") {
    if (target.closest("input, textarea, select, [contenteditable='true'], [contenteditable='']")) {
      return true;
    }
  }
  return false;
}

/**
 * Translate a keydown event into an action:
 *   {type: "label", index} | {type: "accept"} | {type: "skip"} | {type: "undo"}
 *   | {type: "next"} | {type: "prev"} | null
 */
export function actionForKey(event, keyMap) {
  if (shouldIgnoreKeyEvent(event)) return null;
  const key = typeof event.key === "string" ? event.key.toLowerCase() : "";
  if (!key) return null;
  if (Object.prototype.hasOwnProperty.call(FIXED_ACTIONS, key)) return FIXED_ACTIONS[key];
  if (keyMap && keyMap.has(key)) return { type: "label", index: keyMap.get(key) };
  return null;
}
