"""Remaining uncertainty: how unsure the model still is about the unlabeled pool."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ._style import ACCENT, WARN, WIDTH, empty_title, inline, subgroup_bars, title


def uncertainty_histogram(table: pd.DataFrame, strategy: str) -> alt.Chart:
    """Draw `metrics.uncertainty_distribution`: query scores over the unlabeled pool."""
    heading = title(
        "Remaining uncertainty",
        f"query scores ({strategy}) of every unlabeled item, binned in Python",
        "right = less sure: the items the next questions come from",
    )
    if table.empty:
        heading = empty_title("uncertainty", "the model needs two labeled classes")
    return (
        alt.Chart(inline(table))
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("bin_start:Q", title=f"query score ({strategy})", bin="binned"),
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="unlabeled items"),
            tooltip=[
                alt.Tooltip("bin_start:Q", format=".3f"),
                alt.Tooltip("bin_end:Q", format=".3f"),
                "count:Q",
            ],
        )
        .properties(width=WIDTH, height=140, title=heading)
    )


def uncertainty_trend_chart(table: pd.DataFrame) -> alt.Chart:
    """Draw `metrics.uncertainty_trend`: mean query score after each refit."""
    heading = title(
        "Uncertainty across refits", "mean query score over the unlabeled pool after each refit"
    )
    if table.empty:
        heading = empty_title("trend", "no refit yet")
    return (
        alt.Chart(inline(table))
        .mark_line(point=alt.OverlayMarkDef(color=WARN), color=WARN)
        .encode(
            x=alt.X("n_labels:Q", title="labels"),
            y=alt.Y("mean_uncertainty:Q", title="mean query score", scale=alt.Scale(zero=False)),
            tooltip=[
                "model_version:Q",
                "n_labels:Q",
                alt.Tooltip("mean_uncertainty:Q", format=".3f"),
            ],
        )
        .properties(width=WIDTH, height=140, title=heading)
    )


def need_human_chart(table: pd.DataFrame) -> alt.FacetChart | alt.Chart:
    """Draw `metrics.uncertainty_by_subgroup`: unlabeled items a person would still get."""
    threshold = float(table["threshold"].iloc[0]) if len(table) else 0.9
    heading = title(
        "Items below the routing threshold, per subgroup",
        f"unlabeled items whose model confidence is under {threshold:.2f}: people get these",
    )
    tooltip = [
        "column:N",
        "subgroup:N",
        "unlabeled:Q",
        "need_human:Q",
        alt.Tooltip("mean_score:Q", format=".3f"),
    ]
    return subgroup_bars(
        table,
        alt.X("need_human:Q", title="items a person would label"),
        tooltip,
        heading,
        empty_title("routing estimate", "needs subgroups and a fitted model"),
    )
