"""Where labeling has looked: labels per class and per subgroup."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ._style import ACCENT, ROW_STEP, WIDTH, empty_title, inline, subgroup_bars, title


def balance_chart(table: pd.DataFrame) -> alt.Chart:
    """Draw `metrics.label_balance`: labels per class (every declared class)."""
    return (
        alt.Chart(inline(table))
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("n:Q", title="labels"),
            y=alt.Y("label:N", title=None, sort=None),
            tooltip=["label:N", "n:Q"],
        )
        .properties(
            width=WIDTH,
            height=alt.Step(ROW_STEP),
            title=title("Labels per class", "current labels (balance)"),
        )
    )


def coverage_chart(table: pd.DataFrame) -> alt.FacetChart | alt.Chart:
    """Draw `metrics.coverage_by_subgroup`: share of each subgroup labeled so far."""
    heading = title("Labels per subgroup", "share of each subgroup labeled (coverage)")
    tooltip = [
        "column:N",
        "subgroup:N",
        "labeled:Q",
        "total:Q",
        alt.Tooltip("share:Q", format=".1%"),
    ]
    return subgroup_bars(
        table,
        alt.X("share:Q", title="labeled share", axis=alt.Axis(format=".1%")),
        tooltip,
        heading,
        empty_title("coverage", "pass subgroups=[...] to the Session"),
    )
