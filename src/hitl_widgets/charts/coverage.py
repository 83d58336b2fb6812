"""Where labeling has looked: labels per class and the labeled share of each subgroup."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ._slices import count_bars, slice_rows, slices_note
from ._style import (
    ACCENT,
    ROW_STEP,
    Datasets,
    count_axis,
    fitted,
    note_rows,
    records,
    with_datasets,
)


def balance_data(table: pd.DataFrame) -> Datasets:
    """Rows of `metrics.label_balance`: every declared class, zeros included."""
    return {"balance": records(table, ["label", "n"])}


def balance_spec() -> alt.Chart:
    bars = (
        alt.Chart(alt.NamedData("balance"))
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("n:Q", axis=count_axis("labels")),
            y=alt.Y("label:N", title=None, sort=None, axis=alt.Axis(labelLimit=150)),
            tooltip=[alt.Tooltip("label:N", title="class"), alt.Tooltip("n:Q", title="labels")],
        )
    )
    return fitted(
        bars,
        ("Labels per class", "current labels"),
        "How many items carry each class now (after undos and relabels). A class with "
        "few labels is one the model knows little about.",
        height=alt.Step(ROW_STEP),
    )


def balance_chart(table: pd.DataFrame) -> alt.Chart:
    """Draw `metrics.label_balance`."""
    return with_datasets(balance_spec(), balance_data(table))


def coverage_data(table: pd.DataFrame) -> Datasets:
    """Rows of `metrics.coverage_by_subgroup` (listed whenever there are subgroups)."""
    rows, dropped = slice_rows(table, ["column", "subgroup", "labeled", "total", "share"])
    note = slices_note("", has_subgroups=bool(rows), dropped=dropped, drawn=bool(rows))
    return {"coverage": rows, "coverage_note": note_rows(note)}


def coverage_spec() -> alt.LayerChart:
    bars = count_bars(
        "coverage",
        alt.X("share:Q", title="labeled share", axis=alt.Axis(format=".1%")),
        ACCENT,
        [
            alt.Tooltip("labeled:Q", title="labeled"),
            alt.Tooltip("total:Q", title="items"),
            alt.Tooltip("share:Q", format=".1%", title="share"),
        ],
    )
    return fitted(
        bars,
        ("Coverage by subgroup", "share of each subgroup labeled"),
        "The labeled share of each subgroup. Uncertainty sampling goes where the model is "
        "unsure, so some slices get few labels: their estimates are the least certain.",
    )


def coverage_chart(table: pd.DataFrame) -> alt.LayerChart:
    """Draw `metrics.coverage_by_subgroup`."""
    return with_datasets(coverage_spec(), coverage_data(table))
