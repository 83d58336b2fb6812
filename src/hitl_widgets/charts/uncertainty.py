"""Remaining uncertainty: how unsure the model still is about the unlabeled pool."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ._slices import count_bars, slice_rows, slices_note
from ._style import (
    ACCENT,
    WARN,
    Datasets,
    count_axis,
    fitted,
    note_layer,
    note_rows,
    records,
    thin,
    with_datasets,
)

NO_MODEL = "no scores yet: the model needs labels of two classes"


def uncertainty_data(table: pd.DataFrame) -> Datasets:
    """Rows of `metrics.uncertainty_distribution` (binned in the core: bounded)."""
    rows = records(table, ["bin_start", "bin_end", "count"])
    return {"uncertainty": rows, "uncertainty_note": note_rows(None if rows else NO_MODEL)}


def uncertainty_spec(strategy: str) -> alt.LayerChart:
    bars = (
        alt.Chart(alt.NamedData("uncertainty"))
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("bin_start:Q", title=f"query score ({strategy})", bin="binned"),
            x2="bin_end:Q",
            y=alt.Y("count:Q", axis=count_axis("unlabeled items")),
            tooltip=[
                alt.Tooltip("bin_start:Q", format=".2f", title="score from"),
                alt.Tooltip("bin_end:Q", format=".2f", title="to"),
                alt.Tooltip("count:Q", title="items"),
            ],
        )
    )
    return fitted(
        alt.LayerChart(layer=[bars, note_layer("uncertainty_note")]),
        ("Remaining uncertainty", "unlabeled items by query score; right = less sure"),
        f"The {strategy} score of every unlabeled item under the current model. The next "
        "questions come from the right-hand end; as labels teach the model, the mass "
        "should move left.",
        height=160,
    )


def uncertainty_histogram(table: pd.DataFrame, strategy: str) -> alt.LayerChart:
    """Draw `metrics.uncertainty_distribution`: query scores over the unlabeled pool."""
    return with_datasets(uncertainty_spec(strategy), uncertainty_data(table))


def uncertainty_trend_data(table: pd.DataFrame) -> Datasets:
    """Rows of `metrics.uncertainty_trend` (one per refit), thinned."""
    rows = records(thin(table), ["model_version", "n_labels", "mean_uncertainty"])
    note = None if rows else "no refit yet"
    return {"uncertainty_trend": rows, "uncertainty_trend_note": note_rows(note)}


def uncertainty_trend_spec() -> alt.LayerChart:
    line = (
        alt.Chart(alt.NamedData("uncertainty_trend"))
        .mark_line(point=alt.OverlayMarkDef(color=WARN, size=12), color=WARN)
        .encode(
            x=alt.X("n_labels:Q", axis=count_axis("labels")),
            y=alt.Y("mean_uncertainty:Q", title="mean query score", scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("model_version:Q", title="model version"),
                alt.Tooltip("n_labels:Q", title="labels"),
                alt.Tooltip("mean_uncertainty:Q", format=".3f", title="mean score"),
            ],
        )
    )
    return fitted(
        alt.LayerChart(layer=[line, note_layer("uncertainty_trend_note")]),
        ("Uncertainty across refits", "mean query score of the unlabeled items"),
        "After each refit: the mean query score over the items still unlabeled. A curve "
        "that stops falling says the model learns little from more labels of this kind.",
        height=160,
    )


def uncertainty_trend_chart(table: pd.DataFrame) -> alt.LayerChart:
    """Draw `metrics.uncertainty_trend`: mean query score after each refit."""
    return with_datasets(uncertainty_trend_spec(), uncertainty_trend_data(table))


NEED_HUMAN_COLUMNS = ["column", "subgroup", "unlabeled", "need_human", "mean_score", "threshold"]


def need_human_data(table: pd.DataFrame, has_subgroups: bool = True) -> Datasets:
    """Rows of `metrics.uncertainty_by_subgroup`: unlabeled items a person would get."""
    rows, dropped = slice_rows(table, NEED_HUMAN_COLUMNS)
    note = slices_note("no estimate yet: needs a fitted model", has_subgroups, dropped, bool(rows))
    return {"need_human": rows, "need_human_note": note_rows(note)}


def need_human_spec() -> alt.LayerChart:
    bars = count_bars(
        "need_human",
        alt.X("need_human:Q", axis=count_axis("items a person would label")),
        ACCENT,
        [
            alt.Tooltip("need_human:Q", title="below the threshold"),
            alt.Tooltip("unlabeled:Q", title="unlabeled"),
            alt.Tooltip("threshold:Q", format=".2f", title="threshold"),
            alt.Tooltip("mean_score:Q", format=".3f", title="mean query score"),
        ],
    )
    return fitted(
        bars,
        ("Items a person would get, by subgroup", "confidence below the routing threshold"),
        "Unlabeled items whose model confidence is under the routing threshold (see the "
        "tooltip): with confidence routing, people label these and the model the rest.",
    )


def need_human_chart(table: pd.DataFrame, has_subgroups: bool = True) -> alt.LayerChart:
    """Draw `metrics.uncertainty_by_subgroup`."""
    return with_datasets(need_human_spec(), need_human_data(table, has_subgroups))
