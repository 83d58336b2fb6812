"""The dashboard: the session's charts, redrawn after every refit.

Thin on purpose: the numbers come from `session.metrics()` (core), the pictures from
`charts.dashboard_charts` (pure), and this widget only places them and moves the
selection back to the session. Each chart is one `alt.JupyterChart`, created once and
re-pointed at the new chart on every redraw, so nothing piles up over hundreds of
redraws. Vega is bundled by Altair's offline mode: no CDN.
"""

from __future__ import annotations

import threading
from typing import Any

import altair as alt
import ipywidgets as w
import pandas as pd

from ..charts import dashboard_charts
from ..charts.routing import routing_chart
from ..core.session import Session

LAYOUT = [
    ("accuracy", "disagreement"),
    ("accuracy_by_subgroup", "annotator_disagreement"),
    ("uncertainty", "uncertainty_trend"),
    ("need_human", "coverage"),
]
_offline_lock = threading.Lock()
_EMPTY_CURVE = pd.DataFrame(
    columns=[
        "threshold",
        "automation_rate",
        "auto_n",
        "calibrated_accuracy",
        "audit_accuracy",
        "audit_low",
        "audit_high",
        "audit_n",
        "truth_accuracy",
    ]
)


def enable_offline() -> None:
    """Serve vega from the kernel (vl-convert) once per process: charts render offline."""
    with _offline_lock:
        if not getattr(alt.JupyterChart, "_is_offline", False):
            alt.JupyterChart.enable_offline()


class Dashboard(w.VBox):
    """Live charts of a Session: accuracy, disagreement and uncertainty per subgroup.

    Clicking a bar of the disagreement chart focuses the session (and so the labeler's
    queue) on that slice; "show all items" clears it.
    """

    def __init__(self, session: Session, **kwargs: Any):
        enable_offline()
        self.session = session
        self._lock = threading.Lock()
        self.redraws = 0
        charts = dashboard_charts(session)
        self.charts = {name: alt.JupyterChart(chart) for name, chart in charts.items()}
        self._header = w.HTML()
        self._focus_label = w.Label()
        self._clear = w.Button(
            description="show all items", icon="times", layout=w.Layout(width="auto")
        )
        self._clear.on_click(lambda _: session.focus(None))
        # JupyterChart replaces its `selections` object whenever `.chart` changes, so the
        # stable hook is the synced `_vl_selections` trait of the widget itself
        self.charts["disagreement"].observe(self._on_select, names=["_vl_selections"])
        self.threshold = w.FloatSlider(
            value=0.9,
            min=0.5,
            max=0.99,
            step=0.01,
            description="auto-accept at",
            continuous_update=False,
            readout_format=".2f",
            style={"description_width": "auto"},
        )
        self._routing_summary = w.Label()
        self.charts["routing"] = alt.JupyterChart(self._routing_chart())
        self.threshold.observe(lambda _: self._redraw_routing(), names="value")
        rows = [w.HBox([self.charts[a], self.charts[b]]) for a, b in LAYOUT]
        routing = w.HBox(
            [
                self.charts["balance"],
                self.charts["routing"],
                w.VBox([self.threshold, self._routing_summary]),
            ]
        )
        bar = w.HBox([self._header, self._focus_label, self._clear])
        super().__init__([bar, *rows, routing], **kwargs)
        self._update_header()
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._drawer = threading.Thread(target=self._draw_loop, name="hitl-dashboard", daemon=True)
        self._drawer.start()
        self._unsubscribe = session.observe(self._on_session)

    def request_redraw(self) -> None:
        """Ask for a redraw; returns at once. Requests during a redraw coalesce into one.

        Building Altair charts takes a fraction of a second, so it runs on the
        dashboard's own thread: neither the kernel nor the next refit waits for it.
        """
        self._idle.clear()
        self._wanted.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no redraw is pending (tests, scripts)."""
        return self._idle.wait(timeout)

    def _draw_loop(self) -> None:
        while not self._closed:
            self._wanted.wait()
            self._wanted.clear()
            if self._closed:
                return
            try:
                self.redraw()
            finally:
                if not self._wanted.is_set():
                    self._idle.set()

    def redraw(self) -> None:
        """Rebuild every chart from the session's current metrics."""
        with self._lock:
            charts = dashboard_charts(self.session)
            for name, chart in charts.items():
                self.charts[name].chart = chart
            self._curve = None  # a new model: a new routing estimate
            self.charts["routing"].chart = self._routing_chart()
            self.redraws += 1
            self._update_header()

    def _redraw_routing(self) -> None:
        with self._lock:
            self.charts["routing"].chart = self._routing_chart()

    def _routing_chart(self) -> alt.TopLevelMixin:
        """Automation rate vs accuracy of the auto-accepted part, with the slider's rule."""
        t = float(self.threshold.value)
        if getattr(self, "_curve", None) is None:
            self._curve = self.session.routing_curve() if self.session.model_ is not None else None
        curve = self._curve
        if curve is None:
            self._routing_summary.value = "routing estimates need a fitted model"
            return routing_chart(_EMPTY_CURVE, t)
        here = self.session.routing_curve([t]).iloc[0]
        audit = (
            f"audit accuracy {here.audit_accuracy:.2f} [{here.audit_low:.2f}, "
            f"{here.audit_high:.2f}] (n={int(here.audit_n)})"
            if here.audit_n
            else "no audit labels above it yet"
        )
        self._routing_summary.value = (
            f"at {t:.2f} the model would label {here.automation_rate:.0%} of the unlabeled "
            f"items; {audit}"
        )
        return routing_chart(curve, t)

    def _update_header(self) -> None:
        s = self.session.status
        # fixed wording only: no data reaches this HTML
        self._header.value = (
            f"<b>{s.n_labeled}</b> labeled of {s.n_items} &middot; model version "
            f"{s.model_version} &middot; {s.fit_state}"
        )
        focused = self.session.focused
        self._focus_label.value = (
            "queue focused on " + ", ".join(f"{c} = {v}" for c, v in focused.items())
            if focused
            else ""
        )
        self._clear.disabled = not focused

    def _on_session(self, kind: str) -> None:
        if kind in ("fit_done", "fit_failed"):
            self.request_redraw()
        elif kind == "focus":
            self._update_header()

    def _on_select(self, change: dict) -> None:
        """A clicked bar focuses its slice. Empty selections are ignored: every redraw
        resets the chart's selection (in Python at once, in the browser a moment
        later), which must not read as the user clearing it; the button clears."""
        selection = (change["new"] or {}).get("subgroup") or {}
        signal = selection.get("value") or {}
        points = signal.get("vlPoint", {}).get("or", []) if isinstance(signal, dict) else []
        if not points:
            return
        where = {str(points[0]["column"]): str(points[0]["subgroup"])}
        if where != self.session.focused:
            self.session.focus(where)

    def close(self) -> None:
        self._unsubscribe()
        self._closed = True
        self._wanted.set()
        for chart in self.charts.values():
            chart.close()
        super().close()
