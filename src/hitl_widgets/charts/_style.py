"""What every chart shares: inline JSON-safe data, titles that name the sample, facets.

Data goes in as `alt.Data(values=...)` built here rather than as a DataFrame: Altair's
DataFrame path refuses tables over 5,000 rows (the accuracy table grows with labels), and
building the records ourselves makes "the chart draws exactly this table" checkable.
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from ..core.metrics import SMALL_GROUP

WIDTH = 300
ROW_STEP = 18  # pixels per subgroup bar
EMPTY_COLOR = "#777777"
ACCENT = "#4c78a8"
WARN = "#e45756"
MUTED = "#c7c7c7"
SMALL_NOTE = f"n < {SMALL_GROUP}: not ranked (grey)"
PERCENT = ".0%"


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The table's rows as plain JSON values (NaN/inf -> None, numpy scalars -> Python)."""
    return [{str(k): _plain(v) for k, v in row.items()} for row in table.to_dict("records")]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT or value is None:
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def inline(table: pd.DataFrame) -> alt.Data:
    """Aggregated table -> inline data (never raw pool rows: the payload must not grow)."""
    return alt.Data(values=records(table))


def title(text: str, *subtitle: str) -> alt.TitleParams:
    return alt.TitleParams(
        text=text, subtitle=list(subtitle), anchor="start", subtitleColor="#555555"
    )


def empty_title(what: str, why: str, *details: str) -> alt.TitleParams:
    """An honest 'nothing yet' title: the chart renders and says what it is waiting for."""
    return title(f"no {what} yet: {why}", *details)


def by_column(layer: alt.LayerChart, data: alt.Data, heading: alt.TitleParams) -> alt.FacetChart:
    """One row of bars per subgroup column, each with its own subgroups on the y axis."""
    return (
        layer.facet(
            row=alt.Row("column:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
            data=data,
        )
        .resolve_scale(y="independent")
        .properties(title=heading)
    )


def subgroup_bars(
    table: pd.DataFrame,
    x: alt.X,
    tooltip: list,
    heading: alt.TitleParams,
    empty: alt.TitleParams,
) -> alt.FacetChart | alt.Chart:
    """Plain bars per subgroup, one facet row per subgroup column (or an empty chart)."""
    if table.empty:
        return alt.Chart(inline(table)).mark_bar().properties(title=empty)
    bars = (
        alt.Chart()
        .mark_bar(color=ACCENT)
        .encode(x=x, y=alt.Y("subgroup:N", title=None), tooltip=tooltip)
    )
    layer = alt.layer(bars).properties(width=WIDTH, height=alt.Step(ROW_STEP))
    return by_column(layer, inline(table), heading)
