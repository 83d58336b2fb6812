"""Model accuracy vs number of labels, one line and band per source of evidence.

The sources differ in honesty, and the chart says so: held-out truth and the random
audit items are unbiased samples; cross-validation on the labeled items is biased,
because uncertainty sampling chose those items as hard. Colours are fixed per source so
the legend does not reshuffle between redraws.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from ..core.metrics import SOURCE_AUDIT, SOURCE_BASELINE, SOURCE_CV, SOURCE_TRUTH
from ._style import WIDTH, empty_title, inline, title

SOURCES = [SOURCE_TRUTH, SOURCE_AUDIT, SOURCE_CV, SOURCE_BASELINE]
SOURCE_COLORS = ["#4c78a8", "#54a24b", "#f58518", "#9d9d9d"]
SOURCE_DASHES = [[1, 0], [1, 0], [6, 3], [2, 2]]
COLUMNS = ["source", "n_labels", "estimate", "low", "high", "n", "sample"]
TITLE = "Model accuracy vs labels"
SUBTITLE = (
    "held-out truth and random audit: unbiased samples of the pool",
    "cross-validated on labels: biased, the query strategy chose those items as hard",
    "bands: 95% Wilson intervals (baseline band: range over random draws)",
)
EMPTY_WHY = "needs a fitted model and some evidence"
EMPTY_DETAILS = (
    "a truth column, labels on random audit items,",
    "or two labels per class (for cross-validation)",
)


def accuracy_chart(accuracy: pd.DataFrame, baseline: pd.DataFrame | None = None) -> alt.LayerChart:
    """Draw `metrics.accuracy_estimates` (and `metrics.random_baseline`) as lines + bands."""
    tables = [t for t in (accuracy, baseline) if t is not None and len(t)]
    table = pd.concat([t[COLUMNS] for t in tables], ignore_index=True) if tables else None
    if table is None:
        table = pd.DataFrame(columns=COLUMNS)
    source = alt.Color(
        "source:N",
        scale=alt.Scale(domain=SOURCES, range=SOURCE_COLORS),
        legend=alt.Legend(title=None, orient="bottom", direction="vertical", labelLimit=400),
    )
    dash = alt.StrokeDash(
        "source:N", scale=alt.Scale(domain=SOURCES, range=SOURCE_DASHES), legend=None
    )
    x = alt.X("n_labels:Q", title="labels")
    tooltip = [
        alt.Tooltip("source:N"),
        alt.Tooltip("n_labels:Q", title="labels"),
        alt.Tooltip("estimate:Q", format=".3f"),
        alt.Tooltip("low:Q", format=".3f"),
        alt.Tooltip("high:Q", format=".3f"),
        alt.Tooltip("n:Q", title="n (evaluated)"),
        alt.Tooltip("sample:N"),
    ]
    band = (
        alt.Chart()
        .mark_area(opacity=0.15)
        .encode(x=x, y=alt.Y("low:Q"), y2="high:Q", color=source, tooltip=tooltip)
    )
    line = (
        alt.Chart()
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("estimate:Q", title="accuracy", scale=alt.Scale(domain=[0, 1])),
            color=source,
            strokeDash=dash,
            tooltip=tooltip,
        )
    )
    heading = (
        title(TITLE, *SUBTITLE)
        if len(table)
        else empty_title("accuracy estimate", EMPTY_WHY, *EMPTY_DETAILS)
    )
    return alt.layer(band, line, data=inline(table)).properties(
        title=heading, width=WIDTH, height=200
    )
