"""Rates per subgroup with Wilson intervals: model-vs-human disagreement, model accuracy.

A slice audit has to show how sure it is: every bar carries its 95% Wilson interval and
its n, and groups under `SMALL_GROUP` items are greyed and sorted last ("not ranked"):
their rate is too noisy to compare. Clicking a disagreement bar selects the slice (the
point selection named "subgroup"); the dashboard turns that into `Session.focus`.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from ..core.metrics import SOURCE_AUDIT, SOURCE_TRUTH
from ._style import (
    ACCENT,
    MUTED,
    PERCENT,
    ROW_STEP,
    SMALL_NOTE,
    WARN,
    WIDTH,
    by_column,
    empty_title,
    inline,
    title,
)

SELECTION = "subgroup"  # the point selection the dashboard listens to
SELECTION_FIELDS = ["column", "subgroup"]
SOURCE_NOTES = {
    SOURCE_TRUTH: "held-out truth: the current model on every unlabeled item with a truth value",
    SOURCE_AUDIT: "random audit: labels of uniformly random items vs the model before the label",
}


def disagreement_chart(
    table: pd.DataFrame, selected: tuple[str, str] | None = None
) -> alt.FacetChart:
    """Draw `metrics.disagreement_by_subgroup`; `selected` = (column, subgroup) shown selected.

    The selection's initial value is the session's current focus, so a redraw after a
    refit keeps the clicked bar highlighted instead of silently dropping it.
    """
    init: Any = [dict(zip(SELECTION_FIELDS, selected, strict=True))] if selected else alt.Undefined
    selection = alt.selection_point(name=SELECTION, fields=SELECTION_FIELDS, value=init)
    heading = (
        title(
            "Model vs human disagreement by subgroup",
            "share of labeled items where the model's prediction (made before the label)",
            "differed from the human's label; lines: 95% Wilson interval",
            f"{SMALL_NOTE}; click a bar to label only that slice",
        )
        if len(table)
        else empty_title(
            "disagreement",
            "needs subgroups and labels given after the first fit",
            "pass subgroups=[...] to the Session; only labels made while a model existed count",
        )
    )
    return rate_bars(table, "disagreement rate", WARN, heading, selection)


def annotator_disagreement_chart(table: pd.DataFrame) -> alt.FacetChart:
    """Draw `metrics.annotator_disagreement_by_subgroup`: people disagreeing with people."""
    heading = (
        title(
            "Annotator vs annotator disagreement by subgroup",
            "share of items with 2+ opinions whose opinions differ; lines: 95% Wilson interval",
            SMALL_NOTE,
        )
        if len(table)
        else empty_title(
            "annotator disagreement",
            "needs items labeled by two or more annotators",
            "pass overlap=2 (or more) to each annotator's Session",
        )
    )
    return rate_bars(table, "annotator disagreement", WARN, heading)


def accuracy_by_subgroup_chart(table: pd.DataFrame) -> alt.FacetChart:
    """Draw `metrics.accuracy_by_subgroup`; its `source` column goes into the subtitle."""
    sources = sorted(set(table["source"])) if "source" in table.columns else []
    notes = [SOURCE_NOTES.get(s, f"source: {s}") for s in sources]
    heading = (
        title(
            "Model accuracy by subgroup",
            *notes,
            f"lines: 95% Wilson interval; {SMALL_NOTE}",
        )
        if len(table)
        else empty_title(
            "accuracy by subgroup",
            "needs subgroups and a fitted model",
            "plus a truth column, or labels on random audit items",
        )
    )
    return rate_bars(table, "accuracy", ACCENT, heading)


def rate_bars(
    table: pd.DataFrame,
    rate_title: str,
    color: str,
    heading: alt.TitleParams,
    selection: alt.Parameter | None = None,
) -> alt.FacetChart:
    """Bars of `rate` with low..high rules and an n label, one facet row per column."""
    y = alt.Y(
        "subgroup:N",
        title=None,
        sort=alt.EncodingSortField(field="rank", op="max", order="descending"),
    )
    tooltip = [
        alt.Tooltip("column:N"),
        alt.Tooltip("subgroup:N"),
        alt.Tooltip("n:Q"),
        alt.Tooltip("successes:Q"),
        alt.Tooltip("rate:Q", format=".3f"),
        alt.Tooltip("low:Q", format=".3f"),
        alt.Tooltip("high:Q", format=".3f"),
        alt.Tooltip("small:N", title="n < 10 (not ranked)"),
    ]
    bars = (
        alt.Chart()
        .mark_bar(cursor="pointer" if selection is not None else alt.Undefined)
        .encode(
            x=alt.X(
                "rate:Q",
                title=rate_title,
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=PERCENT),
            ),
            y=y,
            color=alt.condition("datum.small", alt.value(MUTED), alt.value(color)),
            tooltip=tooltip,
        )
    )
    if selection is not None:
        bars = bars.add_params(selection).encode(
            opacity=alt.condition(selection, alt.value(1.0), alt.value(0.35))
        )
    interval = alt.Chart().mark_rule(color="#333333").encode(x="low:Q", x2="high:Q", y=y)
    counts = (
        alt.Chart()
        .mark_text(align="left", dx=4, fontSize=10, color="#555555")
        .encode(x="high:Q", y=y, text=alt.Text("n_text:N"))
    )
    layer = (
        alt.layer(bars, interval, counts)
        .transform_calculate(rank="datum.small ? -1 : datum.rate", n_text="'n=' + datum.n")
        .properties(width=WIDTH, height=alt.Step(ROW_STEP))
    )
    return by_column(layer, inline(table), heading)
