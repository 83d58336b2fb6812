"""Confidence routing: automation rate against the accuracy of what the model labels."""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import pandas as pd

from ._style import (
    PERCENT,
    Datasets,
    fitted,
    note_layer,
    note_rows,
    records,
    with_datasets,
)

# curve column -> the measure's name in the legend, and its colour
MEASURES = {
    "automation_rate": ("automation rate", "#333333"),
    "audit_accuracy": ("accuracy (random audit)", "#4c78a8"),
    "calibrated_accuracy": ("accuracy (calibrated)", "#f58518"),
    "truth_accuracy": ("accuracy (truth)", "#54a24b"),
}
BAND = ["audit_low", "audit_high", "audit_n", "auto_n"]
TICKS = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
EMPTY = "no routing estimate yet: needs a fitted model"


def routing_data(curve: pd.DataFrame | None, threshold: float) -> Datasets:
    """Rows of `Session.routing_curve()` (one per threshold) and the chosen threshold."""
    if curve is None or curve.empty:
        rows = []
    else:
        named = curve.rename(columns={column: name for column, (name, _) in MEASURES.items()})
        rows = records(named, ["threshold", *(n for n, _ in MEASURES.values()), *BAND])
    return {
        "routing": rows,
        "routing_rule": [{"threshold": round(float(threshold), 4)}],
        "routing_note": note_rows(None if rows else EMPTY),
    }


def routing_spec() -> alt.LayerChart:
    names: list[Any] = [name for name, _ in MEASURES.values()]
    colors = json.dumps({name: color for name, color in MEASURES.values()})
    x = alt.X(
        "threshold:Q",
        title="auto-accept at confidence",
        scale=alt.Scale(domain=[0.5, 1]),
        axis=alt.Axis(values=TICKS, format=".1f"),
    )
    y = alt.Y(
        "value:Q", title="rate", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=PERCENT)
    )
    band = (
        alt.Chart()
        .mark_area(opacity=0.15, color=MEASURES["audit_accuracy"][1])
        .encode(x=x, y="audit_low:Q", y2="audit_high:Q")
    )
    lines = (
        alt.Chart()
        .transform_fold(names, as_=["measure", "value"])
        .transform_filter("isValid(datum.value)")
        .transform_calculate(color=f"({colors})[datum.measure]")
        .mark_line()
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "measure:N",
                scale=alt.Scale(range=alt.FieldRange("color")),
                # titled: an empty untitled legend grows to an infinite height (vega 6)
                legend=alt.Legend(title="measure", orient="bottom", direction="vertical"),
            ),
            tooltip=[
                alt.Tooltip("measure:N"),
                alt.Tooltip("threshold:Q", format=".2f"),
                alt.Tooltip("value:Q", format=".1%"),
                alt.Tooltip("auto_n:Q", title="items auto-accepted"),
                alt.Tooltip("audit_n:Q", title="audit labels above"),
            ],
        )
    )
    rule = (
        alt.Chart(alt.NamedData("routing_rule"))
        .mark_rule(strokeDash=[4, 4], color="#333333")
        .encode(x=alt.X("threshold:Q", scale=alt.Scale(domain=[0.5, 1])))
    )
    return fitted(
        alt.LayerChart(
            layer=[
                alt.layer(band, lines, data=alt.NamedData("routing")),
                rule,
                note_layer("routing_note"),
            ]
        ),
        ("Routing: what the model could label alone", "auto-accept at or above a confidence"),
        "Automation: share of the unlabeled items at or above the threshold. Random audit: "
        "accuracy on random audit labels above it (unbiased; band: 95% Wilson interval). "
        "Calibrated: mean confidence, right only if the model is calibrated. Truth: the "
        "held-out answer key.",
        height=220,
    )


def routing_chart(curve: pd.DataFrame | None, threshold: float = 0.9) -> alt.LayerChart:
    """Draw `Session.routing_curve()` with a rule at `threshold`."""
    return with_datasets(routing_spec(), routing_data(curve, threshold))
