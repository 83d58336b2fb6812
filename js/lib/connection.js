// Is there a live kernel behind this view?
//
// A widget rendered from saved state (a notebook reopened without re-running it, an
// nbconvert HTML export, a docs page) has a model with no comm: `model.send` and
// `save_changes` do nothing there, so a label would wait for an answer forever.
//
// The signal: @jupyter-widgets/base (ipywidgets 7 and 8, in JupyterLab, Notebook 7, the
// HTML manager of exports and VS Code) keeps the class `jupyter-widgets-disconnected` on
// every view element whose model has no live comm (`model.comm_live === false`), from the
// view's construction on, and updates it when the comm comes or goes (a kernel restart,
// a reconnect). anywidget renders into that view element. anywidget's model proxy does
// not expose `comm_live` itself, so the class is what the front end can read.

export const DISCONNECTED_CLASS = "jupyter-widgets-disconnected";

/** True when `el` (or a widget view around it) is marked as having no live comm. */
export function isDisconnected(el) {
  if (!el || !el.classList) return false;
  if (el.classList.contains(DISCONNECTED_CLASS)) return true;
  return typeof el.closest === "function" && el.closest(`.${DISCONNECTED_CLASS}`) !== null;
}

/**
 * Call `onChange(disconnected)` whenever the state flips; returns a cleanup function.
 * Watches the class on `el` and its ancestors (MutationObserver) and the model's
 * "comm_live_update" event (fired by @jupyter-widgets/base).
 */
export function watchConnection(el, model, onChange) {
  let last = isDisconnected(el);
  let stopped = false;
  const check = () => {
    if (stopped) return;
    const now = isDisconnected(el);
    if (now !== last) {
      last = now;
      onChange(now);
    }
  };
  let observer = null;
  const Observer = globalThis.MutationObserver;
  if (typeof Observer === "function") {
    observer = new Observer(check);
    for (let node = el; node && node.nodeType === 1; node = node.parentNode) {
      observer.observe(node, { attributes: true, attributeFilter: ["class"] });
    }
  }
  // the view toggles the class in its own listener for this event; read it afterwards
  const onLive = () => Promise.resolve().then(check);
  model.on("comm_live_update", onLive);
  return () => {
    stopped = true;
    if (observer) observer.disconnect();
    model.off("comm_live_update", onLive);
  };
}
