"""Model accuracy vs number of labels, one line and band per source of evidence.

Every source drawn is unbiased, and the legend says which is which: held-out truth (the
model on every unlabeled item with a truth value), the random audit items alone (wide),
and every label weighted by its selection probability (`Session.estimate`: narrower,
because the model's confidence carries most of the estimate and the labels correct it).
Accuracy cross-validated on the labeled items is never drawn: uncertainty sampling
chose those items as hard, so it is biased. The
colour and dash of a row are looked up from its source inside the spec (a data-driven
scale range), so the legend lists only the sources drawn and a source keeps its colour
whichever others are present.
"""

from __future__ import annotations

import json

import altair as alt
import pandas as pd

from ._style import (
    PERCENT,
    Datasets,
    count_axis,
    fitted,
    note_layer,
    note_rows,
    records,
    thin,
    with_datasets,
)

DASHES = {"solid": [1, 0], "dashed": [6, 3], "dotted": [2, 2]}
# source (as the core names it, matched by how it starts, so a reworded source keeps its
# style) -> the short key the rows carry, its legend label, colour and dash. The spec
# maps keys to the rest; an unknown source travels under its own name, drawn grey.
STYLES = [
    ("held-out truth", "truth", "held-out truth (unbiased)", "#4c78a8", "solid"),
    ("random audit", "audit", "random audit (unbiased)", "#54a24b", "solid"),
    ("every label", "estimate", "every label, weighted (unbiased)", "#f58518", "solid"),
    ("random-sampling baseline", "baseline", "random-sampling baseline", "#9d9d9d", "dotted"),
]
COLUMNS = ["key", "n_labels", "estimate", "low", "high", "n"]
EMPTY = "no accuracy estimate yet: needs a fitted model plus a truth column or random audit labels"


def _key(source: str) -> str:
    return next((key for prefix, key, *_ in STYLES if source.startswith(prefix)), source)


def _lookup(values: dict[str, object], default: str) -> str:
    """A vega expression: the value for this row's source key (`default`: an expression)."""
    return f"({json.dumps(values)})[datum.key] || {default}"


def accuracy_data(accuracy: pd.DataFrame, baseline: pd.DataFrame | None = None) -> Datasets:
    """Rows of `metrics.accuracy` (and the random baseline), thinned per source."""
    tables = [t for t in (accuracy, baseline) if t is not None and len(t)]
    if not tables:
        return {"accuracy": [], "accuracy_note": note_rows(EMPTY)}
    table = thin(pd.concat(tables, ignore_index=True), by="source")
    table = table.assign(key=[_key(str(s)) for s in table["source"]])
    return {"accuracy": records(table, COLUMNS), "accuracy_note": []}


def accuracy_spec() -> alt.LayerChart:
    source = alt.Color(
        "source:N",
        scale=alt.Scale(range=alt.FieldRange("color")),
        # a legend without a title grows to an infinite height when empty (vega 6)
        legend=alt.Legend(
            title="estimated from",
            orient="bottom",
            direction="vertical",
            symbolType="stroke",
            symbolOpacity=1,
            symbolStrokeWidth=2,
        ),
    )
    dash = alt.StrokeDash(
        "dash:N", scale=alt.Scale(domain=list(DASHES), range=list(DASHES.values())), legend=None
    )
    x = alt.X("n_labels:Q", axis=count_axis("labels"))
    tooltip = [
        alt.Tooltip("source:N"),
        alt.Tooltip("n_labels:Q", title="labels"),
        alt.Tooltip("estimate:Q", format=".1%", title="accuracy"),
        alt.Tooltip("low:Q", format=".1%", title="95% low"),
        alt.Tooltip("high:Q", format=".1%", title="95% high"),
        alt.Tooltip("n:Q", title="items evaluated"),
    ]
    band = (
        alt.Chart()
        .mark_area(opacity=0.15)
        .encode(x=x, y=alt.Y("low:Q"), y2="high:Q", color=source, tooltip=tooltip)
    )
    line = (
        alt.Chart()
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=x,
            y=alt.Y(
                "estimate:Q",
                title="accuracy",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=PERCENT),
            ),
            color=source,
            strokeDash=dash,
            tooltip=tooltip,
        )
    )
    return fitted(
        alt.LayerChart(
            layer=[
                alt.layer(band, line, data=alt.NamedData("accuracy")).transform_calculate(
                    source=_lookup({key: label for _, key, label, *_ in STYLES}, "datum.key"),
                    color=_lookup({key: color for _, key, _, color, _ in STYLES}, "'#7f7f7f'"),
                    dash=_lookup({key: dash for _, key, *_, dash in STYLES}, "'dotted'"),
                ),
                note_layer("accuracy_note"),
            ]
        ),
        ("Accuracy vs labels", "bands: 95% intervals"),
        "Each line estimates the current model's accuracy on the unlabeled items. Held-out "
        "truth and the random audit labels are unbiased samples; 'every label' adds the "
        "model's own confidence, corrected by each randomly drawn label weighted by how "
        "likely the queue was to ask it (unbiased, and narrower). Accuracy measured on the "
        "uncertainty-picked labels is not shown: it is biased. The random-sampling "
        "baseline (band: range over random draws) is what labeling at random would reach.",
        height=200,
    )


def accuracy_chart(accuracy: pd.DataFrame, baseline: pd.DataFrame | None = None) -> alt.LayerChart:
    """Draw `metrics.accuracy` (and `metrics.random_baseline`) as lines and bands."""
    return with_datasets(accuracy_spec(), accuracy_data(accuracy, baseline))
