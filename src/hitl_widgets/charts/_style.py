"""What every chart shares: named datasets, JSON-safe rows, titles, widths, empty notes.

A chart is two things kept apart on purpose: a spec that reads *named* datasets
(`alt.NamedData`), built and validated once, and the rows of those datasets, rebuilt on
every redraw without touching Altair (its schema validation costs far more than the
numbers). `with_datasets` joins them into one complete chart for `hw.show`, saved
outputs and tests; the dashboard sends the rows alone, and only those that changed.

Rows are bounded whatever the pool size: they are aggregates, long curves are thinned to
`MAX_POINTS`, and floats are rounded to `DIGITS` places.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from typing import Any, TypeVar, cast

import altair as alt
import numpy as np
import pandas as pd

Rows = list[dict[str, Any]]
Datasets = dict[str, Rows]
C = TypeVar("C", bound=alt.TopLevelMixin)

WIDTH = 300  # the drawing width when there is no container to fit (a saved SVG)
ROW_STEP = 20  # pixels per subgroup bar
MAX_POINTS = 80  # points per curve sent to the browser
DIGITS = 4
NOTE_WIDTH = 40  # characters per line of an empty-state note
ACCENT = "#4c78a8"
WARN = "#e45756"
MUTED = "#c7c7c7"
INK = "#333333"
SOFT_INK = "#555555"
PERCENT = ".0%"


def records(table: pd.DataFrame, columns: Iterable[str] | None = None) -> Rows:
    """The table's rows as plain JSON values (NaN/inf -> None, numpy -> Python, rounded)."""
    if columns is not None:
        table = table[[c for c in columns if c in table.columns]]
    return [{str(k): _plain(v) for k, v in row.items()} for row in table.to_dict("records")]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, DIGITS) if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def thin(table: pd.DataFrame, by: str | None = None, limit: int = MAX_POINTS) -> pd.DataFrame:
    """At most `limit` evenly spread rows (per `by` group), always keeping the last one."""
    groups = [g for _, g in table.groupby(by, sort=False)] if by and len(table) else [table]
    kept = []
    for group in groups:
        if len(group) > limit:
            picks = np.unique(np.linspace(0, len(group) - 1, limit).round().astype(int))
            group = group.iloc[picks]
        kept.append(group)
    return pd.concat(kept) if kept else table


def note_rows(text: str | None) -> Rows:
    """The rows of an empty-state note: none when the chart has data to show."""
    if not text:
        return []
    return [{"text": "\n".join(textwrap.wrap(text, NOTE_WIDTH))}]


def note_layer(dataset: str) -> alt.Chart:
    """Draws the note (if any) at the top left of the plot: says what is really missing."""
    return (
        alt.Chart(alt.NamedData(dataset))
        .mark_text(align="left", baseline="top", lineBreak="\n", fontSize=12, color=SOFT_INK)
        .encode(text="text:N", x=alt.value(6), y=alt.value(6))
    )


def title(text: str, *subtitle: str, **extra: Any) -> alt.TitleParams:
    return alt.TitleParams(
        text=text,
        subtitle=list(subtitle) or alt.Undefined,
        anchor="start",
        subtitleColor=SOFT_INK,
        **extra,
    )


def count_axis(name: str) -> alt.Axis:
    """An axis of counts: whole numbers only (no 5.5 labels)."""
    return alt.Axis(title=name, format="d", tickMinStep=1)


def fitted(
    chart: C,
    heading: tuple[str, str],
    caption: str,
    height: Any = None,
    select: list[str] | None = None,
) -> C:
    """A dashboard chart: fills the width of whatever holds it (the dashboard measures
    and resizes); a title and one short subtitle line that fit 300 pixels.

    `caption` says what the chart estimates and on what sample; it travels in
    `usermeta` and the dashboard prints it under the chart, where text can wrap.
    `select`: the fields a click on a mark reports to the dashboard.
    """
    meta: dict[str, Any] = {"caption": caption}
    if select:
        meta["select"] = select
    chart = chart.properties(
        title=title(*heading, subtitleFontSize=11),
        width="container",
        # resize: lay out again after rows change in place, so a legend that gains entries
        # (a source appearing after the first draw) grows the chart instead of being cut off
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding", resize=True),
        usermeta=meta,
    )
    return chart if height is None else cast(C, chart.properties(height=height))


def with_datasets(chart: C, datasets: Datasets) -> C:
    """A complete chart: the spec plus the rows of its named datasets."""
    return cast(C, chart.properties(datasets=datasets))
