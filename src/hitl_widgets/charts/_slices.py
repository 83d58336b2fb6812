"""Bars per subgroup ("slice"), shared by every per-subgroup chart.

One plain view, not one facet per subgroup column: a single view can fill the width of
its container, and its y axis simply reads "column = subgroup". Rows come sorted by an
`order` field made here (columns in their given order; within a column the highest
ranked first and small groups last), and at most `MAX_SLICES` per column are sent: a
chart of a thousand bars says nothing, and the payload must stay bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

from ._style import (
    INK,
    MUTED,
    PERCENT,
    ROW_STEP,
    SOFT_INK,
    Rows,
    note_layer,
    records,
)

MAX_SLICES = 25
NO_SUBGROUPS = "no subgroups: pass subgroups=[...] to the Session to audit slices"
SELECT_FIELDS = ["column", "subgroup"]  # what a click on a bar selects
RATE_COLUMNS = ["column", "subgroup", "n", "rate", "low", "high", "small"]
DIMMED = 0.35


def slice_rows(
    table: pd.DataFrame,
    columns: list[str],
    rank: str | None = None,
    focused: dict[str, str] | None = None,
) -> tuple[Rows, int]:
    """The rows to draw, with `slice`, `order` and `dimmed`; and how many were left out.

    `rank`: sort each column's subgroups by this field, highest first, flagged small
    groups (and missing rates) last: their rate is too noisy to rank. `dimmed`: true for
    every slice but the focused one, when the session is focused. Plain Python on the
    records: the tables are small, and pandas' per-call overhead was most of a redraw.
    """
    by_column: dict[str, Rows] = {}
    for row in records(table, columns):
        by_column.setdefault(str(row["column"]), []).append(row)
    shown: Rows = []
    dropped = 0
    for part in by_column.values():
        if rank is not None:
            part.sort(key=lambda r: (bool(r.get("small")), r[rank] is None, -(r[rank] or 0)))
        dropped += max(0, len(part) - MAX_SLICES)
        shown += part[:MAX_SLICES]
    chosen = next(iter(focused.items())) if focused else None
    for order, row in enumerate(shown):
        row["slice"] = f"{row['column']} = {row['subgroup']}"
        row["order"] = order
        row["dimmed"] = chosen is not None and (str(row["column"]), str(row["subgroup"])) != chosen
    return shown, dropped


def slices_note(empty_reason: str, has_subgroups: bool, dropped: int, drawn: bool) -> str | None:
    """What the chart cannot show: no subgroups at all, no data yet, or bars left out."""
    if not has_subgroups:
        return NO_SUBGROUPS
    if not drawn:
        return empty_reason
    if dropped:
        return f"{dropped} more subgroups not drawn (the top {MAX_SLICES} per column are)"
    return None


def _y() -> alt.Y:
    return alt.Y(
        "slice:N",
        title=None,
        sort=alt.EncodingSortField(field="order", op="min", order="ascending"),
        axis=alt.Axis(labelLimit=150),
    )


def rate_bars(
    dataset: str,
    rate_title: str,
    color: str,
    clickable: bool = False,
    tooltip: Sequence[alt.Tooltip] = (),
) -> alt.LayerChart:
    """Rate bars with their 95% Wilson interval and n; grey when the group is small."""
    tooltip = [
        *tooltip,
        alt.Tooltip("slice:N", title="subgroup"),
        alt.Tooltip("rate:Q", format=".1%"),
        alt.Tooltip("low:Q", format=".1%", title="95% low"),
        alt.Tooltip("high:Q", format=".1%", title="95% high"),
        alt.Tooltip("n:Q"),
        alt.Tooltip("small:N", title="too few to rank"),
    ]
    extra: dict[str, Any] = {"cursor": "pointer"} if clickable else {}
    bars = (
        alt.Chart()
        .mark_bar(**extra)
        .encode(
            x=alt.X(
                "rate:Q",
                title=rate_title,
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=PERCENT, tickCount=5),
            ),
            y=_y(),
            color=alt.condition("datum.small", alt.value(MUTED), alt.value(color)),
            opacity=alt.condition("datum.dimmed", alt.value(DIMMED), alt.value(1.0)),
            tooltip=tooltip,
        )
    )
    interval = alt.Chart().mark_rule(color=INK).encode(x="low:Q", x2="high:Q", y=_y())
    counts = (
        alt.Chart()
        .mark_text(align="left", dx=4, fontSize=10, color=SOFT_INK)
        .transform_calculate(n_text="'n=' + datum.n")
        .encode(x="high:Q", y=_y(), text="n_text:N")
    )
    return alt.layer(
        alt.layer(bars, interval, counts, data=alt.NamedData(dataset)),
        note_layer(f"{dataset}_note"),
    ).properties(height=alt.Step(ROW_STEP))


def count_bars(dataset: str, x: alt.X, color: str, tooltip: list) -> alt.LayerChart:
    """Plain bars per subgroup (counts or shares), in the table's own subgroup order."""
    bars = (
        alt.Chart(alt.NamedData(dataset))
        .mark_bar(color=color)
        .encode(x=x, y=_y(), tooltip=[alt.Tooltip("slice:N", title="subgroup"), *tooltip])
    )
    return alt.layer(bars, note_layer(f"{dataset}_note")).properties(height=alt.Step(ROW_STEP))
