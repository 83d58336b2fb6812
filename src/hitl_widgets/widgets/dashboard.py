"""The dashboard: a session's charts in one widget, updated in place after every refit.

Thin on purpose: the numbers come from the Session's public API (`metrics()`,
`routing_curve()`, `status`, `focused`), the pictures from `charts` (pure functions),
and this widget only moves rows to the browser and clicks back to the session.

Bytes: the specs are built and validated once; every named dataset lives in a `Rows`
widget of its own, so a redraw syncs only the datasets whose rows changed (a few KB,
whatever the pool size), a second view and a saved notebook read the same current rows,
and the browser applies a change in place through the vega View API (js/dashboard.js).
Vega itself comes from the kernel's shared runtime widget (see `chart.py`).

Threads: session observers only request a redraw; redraws run on one coalescing
`Worker`. A failed redraw is shown in the dashboard, and the next one clears it.

The routing curve (a pass over the pool per threshold: the costliest number here after
the core's metrics) is computed only once some view has opened the Routing tab, and
the worst slices (`find_slices` over every column: a lattice of conjunctions) only once
some view has opened theirs; after that, both follow every fit.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from typing import Any

import anywidget
import ipywidgets
import numpy as np
import pandas as pd
import traitlets

from ..charts import MAIN, MORE, dashboard_data, dashboard_specs
from ..charts._style import WIDTH, Datasets, note_rows
from ..core.session import Session
from ..core.worker import Failure, Worker
from .chart import static_file, vega_runtime, with_svg

ROUTING_THRESHOLD = 0.9
GUARANTEE = (0.05, 0.1)  # max_error, delta: the guarantee the Routing tab reports
# The stopping meter compares models this many labels apart (analysis.stopping.STEP), so
# reading it after every fit repeats the same verdict at the cost of a dozen small refits.
METER_STEP = 10
ROUTING_GRID = np.round(np.linspace(0.5, 0.99, 22), 3)  # coarse: the curve, not the slider
TABS = {
    "worst_slices": "Worst slices",
    "accuracy_by_subgroup": "Accuracy by subgroup",
    "routing": "Routing",
    "need_human": "Left for people",
    "uncertainty_trend": "Uncertainty trend",
    "balance": "Labels per class",
    "coverage": "Coverage",
    "annotator_disagreement": "Annotator disagreement",
}
FOCUS_CHART = "disagreement"  # a click on its bars focuses the session
SLICES_CHART = "worst_slices"  # ...and so does a click on a found slice
ROUTING_PENDING = "the routing curve is computed once the Routing tab is opened (live kernel)"
TOP_LEVEL_ONLY = ("$schema", "config", "autosize", "usermeta", "datasets")


@functools.lru_cache(maxsize=8)
def _validated_specs(strategy: str) -> dict[str, dict[str, Any]]:
    """The dashboard's Vega-Lite specs without rows, validated once per process and
    strategy name (Altair's schema validation takes a second or more)."""
    specs = {name: spec.to_dict() for name, spec in dashboard_specs(strategy).items()}
    for spec in specs.values():
        spec.pop("datasets", None)
    return specs


def _refs(value: dict[str, ipywidgets.Widget], _widget: Any) -> dict[str, str]:
    return {name: f"anywidget:{rows.model_id}" for name, rows in value.items()}


class Rows(ipywidgets.Widget):
    """The rows of one named dataset: a model of its own, so it syncs only when it changes."""

    rows: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)


class Dashboard(anywidget.AnyWidget):
    """Live charts of a Session: accuracy, disagreement and uncertainty on top, the rest
    in tabs. Clicking a disagreement bar focuses the session (and the labeler's queue)
    on that subgroup; "show all items" clears the focus.

    Traits: `specs` {chart: Vega-Lite spec, no rows}, `data` {dataset: Rows widget},
    `sections` {main, more}, `status` (header: counts, model version, fit state, focus,
    last redraw error, routing summary), `threshold` (the routing slider).
    """

    _esm = static_file("dashboard.js")
    _css = static_file("dashboard.css")

    runtime = anywidget.WidgetTrait().tag(sync=True)
    specs = traitlets.Dict().tag(sync=True)
    data = traitlets.Dict().tag(sync=True, to_json=_refs)
    sections = traitlets.Dict().tag(sync=True)
    status = traitlets.Dict().tag(sync=True)
    threshold = traitlets.Float(ROUTING_THRESHOLD).tag(sync=True)

    def __init__(self, session: Session, **kwargs: Any):
        self.session = session
        self._worker = Worker(self.redraw, name="hitl-dashboard", on_failure=self._show_failure)
        self._unsubscribe: Callable[[], None] = lambda: None  # until subscribed
        self.redraws = 0
        self._fits = 0  # fits finished, counted by the observer
        self._fits_drawn = 0  # ...and the count the cached tables reflect
        self._routing_wanted = False  # a view opened the Routing tab
        self._slices_wanted = False  # ...or the Worst slices tab
        self._slices: pd.DataFrame | None = None
        self._guarantee: pd.Series | None = None
        self._meter: dict[str, str] | None = None
        self._meter_step = -1  # the meter is read again every METER_STEP labels
        self._tables = session.metrics()
        self._curve: pd.DataFrame | None = None
        self._drawn_from: tuple[Any, ...] = (0, session.focused, self.threshold, False, False)
        rows = self._rows(session.focused)
        super().__init__(
            runtime=vega_runtime(),
            specs=copy.deepcopy(_validated_specs(session.strategy.name)),
            data={name: Rows(rows=r) for chart in rows.values() for name, r in chart.items()},
            sections={"main": list(MAIN), "more": [[name, TABS[name]] for name in MORE]},
            status=self._status(),
            **kwargs,
        )
        self._unsubscribe = session.observe(self._on_session)
        self.observe(lambda _: self._want_routing(), names="threshold")
        self.on_msg(self._on_message)

    def request_redraw(self) -> None:
        """Ask for a redraw; returns at once (requests during a redraw coalesce)."""
        self._worker.request()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every redraw requested so far is done (tests, scripts)."""
        return self._worker.wait(timeout)

    @property
    def failure(self) -> Failure | None:
        """The last redraw's failure, or None after a redraw that succeeded."""
        return self._worker.failure

    def redraw(self) -> None:
        """Recompute the charts' rows from the session now and send those that changed.

        Two sends after a fit: first what a fit changes cheaply (the main charts from
        `metrics(estimate=False)`, the header), at once; then the slower numbers (the
        estimate's new point, a cross-fit; the stopping meter every METER_STEP labels;
        the routing curve and the worst slices once their tabs were opened). The
        routing curve is also recomputed when the slider left its grid; a label or a fit
        starting only updates the header.
        """
        fits, focused, threshold = self._fits, self.session.focused, self.threshold
        new_fit = fits != self._fits_drawn
        if new_fit:
            self._tables = self.session.metrics(estimate=False)
        inputs = (fits, focused, threshold, self._routing_wanted, self._slices_wanted)
        if inputs != self._drawn_from:
            self._send_rows(focused)
        self.status = self._status()
        slow = False
        if new_fit:
            self._tables = {**self._tables, "accuracy": self.session.accuracy()}
            step = self.session.status.n_labeled // METER_STEP
            if step != self._meter_step:
                self._meter, self._meter_step = self._stopping_meter(), step
            slow = True
        if self._routing_wanted and (new_fit or self._routing_row() is None):
            self._curve = self._routing_curve()
            self._guarantee = self._guaranteed()
            slow = True
        if self._slices_wanted and (new_fit or self._slices is None):
            self._slices = self._worst_slices()
            slow = True
        self._fits_drawn = fits
        if slow or inputs != self._drawn_from:
            self._send_rows(focused)
            self.status = self._status()
        self._drawn_from = inputs
        self.redraws += 1

    def _send_rows(self, focused: dict[str, str] | None) -> None:
        """Send every dataset whose rows differ from what the browser has."""
        for chart in self._rows(focused).values():
            for name, rows in chart.items():
                if self.data[name].rows != rows:
                    self.data[name].rows = rows

    def _rows(self, focused: dict[str, str] | None) -> dict[str, Datasets]:
        rows = dashboard_data(self._tables, focused, self._curve, self.threshold, self._slices)
        if not self._routing_wanted and self.session.status.model_version:
            rows["routing"]["routing_note"] = note_rows(ROUTING_PENDING)
        return rows

    def _want_routing(self) -> None:
        self._routing_wanted = True
        self.request_redraw()

    def _want_slices(self) -> None:
        self._slices_wanted = True
        self.request_redraw()

    def _worst_slices(self) -> pd.DataFrame:
        """Every column of the pool, conjunctions of two: the slices nobody named."""
        if self.session.status.model_version == 0:
            return pd.DataFrame()  # no model yet: nothing errs (the chart says so)
        return self.session.find_slices(columns="all")

    def _stopping_meter(self) -> dict[str, str] | None:
        """The header's stopping meter: recommendation and its reasons, or None."""
        try:
            row = self.session.stopping().iloc[0]
        except ValueError:  # no model yet
            return None
        return {"recommendation": str(row["recommendation"]), "note": str(row["note"])}

    def _guaranteed(self) -> pd.Series | None:
        """The Routing tab's guaranteed threshold (at GUARANTEE), or None without a model."""
        if self.session.status.model_version == 0:
            return None
        return self.session.guarantee(*GUARANTEE).iloc[0]

    def _routing_curve(self) -> pd.DataFrame | None:
        """The curve on a coarse grid plus the slider's threshold (one pass over the pool)."""
        if self.session.status.model_version == 0:
            return None  # no model yet: nothing to route
        grid = sorted({*ROUTING_GRID.tolist(), round(float(self.threshold), 3)})
        return self.session.routing_curve(grid)

    def _routing_row(self) -> Any:
        """The routing curve's row at the slider's threshold (None: not computed there)."""
        if self._curve is None:
            return None
        here = self._curve[np.isclose(self._curve["threshold"], round(float(self.threshold), 3))]
        return None if here.empty else here.iloc[0]

    def _routing_summary(self) -> str:
        row = self._routing_row()
        if row is None:
            fitted = self.session.status.model_version > 0
            return "computing the routing curve…" if fitted else "routing needs a fitted model"
        audit = (
            f"random audit accuracy above it {row.audit_accuracy:.0%} "
            f"[{row.audit_low:.0%}, {row.audit_high:.0%}] (n={int(row.audit_n)})"
            if row.audit_n
            else "no random audit labels above it yet"
        )
        return (
            f"At {row.threshold:.2f} the model would label {row.automation_rate:.0%} of the "
            f"unlabeled items ({int(row.auto_n)}); {audit}. {self._guarantee_text()}"
        )

    def _guarantee_text(self) -> str:
        g = self._guarantee
        max_error, delta = GUARANTEE
        if g is None:
            return ""
        if pd.isna(g["threshold"]):
            return (
                f"No threshold can be guaranteed to keep the error under {max_error:.0%} "
                f"(with probability {1 - delta:.0%}) yet: about {int(g['labels_needed'])} "
                "more random audit labels needed."
            )
        return (
            f"Guaranteed: at {g['threshold']:.2f} or above, the auto-accepted error is at "
            f"most {max_error:.0%} with probability {1 - delta:.0%} (bound "
            f"{g['error_bound']:.1%}); that would auto-accept {g['automation_rate']:.0%}."
        )

    def _status(self) -> dict[str, Any]:
        s = self.session.status
        focused = self.session.focused
        return {
            "labeled": s.n_labeled,
            "total": s.n_items,
            "model_version": s.model_version,
            "fit_state": s.fit_state,
            "fit_error": s.fit_error,
            "focused": [[str(c), str(v)] for c, v in focused.items()] if focused else None,
            "routing": self._routing_summary(),
            "stopping": self._meter,
            "error": None,
        }

    def _show_failure(self, failure: Failure) -> None:
        self.status = {**self.status, "error": f"charts not redrawn: {failure.error}"}

    def _on_session(self, kind: str) -> None:
        if kind in ("fit_done", "fit_failed"):
            self._fits += 1
        self.request_redraw()

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Browser -> session: a clicked disagreement bar or slice, "show all items", a tab
        opened. Anything else, or a malformed value, is ignored: the browser is not trusted."""
        if not isinstance(content, dict):
            return
        kind, chart, values = content.get("kind"), content.get("chart"), content.get("values")
        if kind == "clear_focus":
            self.session.focus(None)
        elif kind == "opened" and chart == "routing":
            self._want_routing()
        elif kind == "opened" and chart == SLICES_CHART:
            self._want_slices()
        elif kind == "select" and isinstance(values, dict):
            where = _clicked_slice(chart, values)
            if where:
                try:
                    self.session.focus(where)
                except ValueError as exc:  # a subgroup the session does not know
                    self.status = {**self.status, "error": f"could not focus: {exc}"}

    def snapshot_spec(self) -> dict[str, Any]:
        """The main charts side by side with their current rows: one static spec (the
        SVG a saved notebook shows where no widget can run)."""
        parts, datasets = [], {}
        for name in MAIN:
            spec = {k: v for k, v in self.specs[name].items() if k not in TOP_LEVEL_ONLY}
            parts.append({**spec, "width": WIDTH})
            for dataset in _dataset_names(spec):
                datasets[dataset] = self.data[dataset].rows
        first = self.specs[MAIN[0]]
        return {"$schema": first.get("$schema"), "hconcat": parts, "datasets": datasets}

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return with_svg(super()._repr_mimebundle_(**kwargs), self.snapshot_spec())

    def close(self) -> None:
        self._unsubscribe()
        self._worker.stop()
        for rows in self.data.values():
            rows.close()
        super().close()


def _clicked_slice(chart: Any, values: dict[str, Any]) -> dict[str, str] | None:
    """The {column: subgroup} a click selected, or None for anything malformed."""
    if chart == FOCUS_CHART:
        column, subgroup = values.get("column"), values.get("subgroup")
        if isinstance(column, str) and isinstance(subgroup, str):
            return {column: subgroup}
    elif chart == SLICES_CHART and isinstance(values.get("where"), str):
        try:
            where = json.loads(values["where"])
        except ValueError:
            return None
        if isinstance(where, dict) and all(
            isinstance(c, str) and isinstance(v, str) for c, v in where.items()
        ):
            return where
    return None


def _dataset_names(spec: Any) -> set[str]:
    """Every {"data": {"name": ...}} a spec reads."""
    if isinstance(spec, list):
        return set().union(*map(_dataset_names, spec)) if spec else set()
    if not isinstance(spec, dict):
        return set()
    names = set()
    for key, value in spec.items():
        if key == "data" and isinstance(value, dict) and isinstance(value.get("name"), str):
            names.add(value["name"])
        else:
            names |= _dataset_names(value)
    return names
