"""Rates per subgroup with 95% Wilson intervals: model vs person, person vs person, accuracy.

A slice audit has to show how sure it is: every bar carries its interval and its n, and
groups the core flags as small are grey and ranked last: their rate is too noisy to
compare. A click on a disagreement bar reports its (column, subgroup) to the dashboard,
which focuses the session (and so the labeler) on that slice; the focused slice stays
bright, the others dim.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from ._slices import RATE_COLUMNS, SELECT_FIELDS, rate_bars, slice_rows, slices_note
from ._style import ACCENT, WARN, Datasets, fitted, note_rows, with_datasets

DISAGREEMENT_EMPTY = (
    "no labeled item has a model prediction yet: a label counts once a model existed"
)
ACCURACY_EMPTY = "no estimate yet: needs a fitted model plus a truth column or random audit labels"
ANNOTATORS_EMPTY = "no item has two opinions yet: Session(overlap=2) asks two annotators per item"


def _rates(
    name: str,
    table: pd.DataFrame,
    empty: str,
    has_subgroups: bool,
    focused: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
) -> Datasets:
    rows, dropped = slice_rows(table, [*RATE_COLUMNS, *extra], rank="rate", focused=focused)
    note = slices_note(empty, has_subgroups, dropped, bool(rows))
    return {name: rows, f"{name}_note": note_rows(note)}


def disagreement_data(
    table: pd.DataFrame, focused: dict[str, str] | None = None, has_subgroups: bool = True
) -> Datasets:
    """Rows of `metrics.disagreement_by_subgroup`; slices other than `focused` dimmed."""
    return _rates("disagreement", table, DISAGREEMENT_EMPTY, has_subgroups, focused)


def disagreement_spec() -> alt.LayerChart:
    return fitted(
        rate_bars("disagreement", "disagreement rate", WARN, clickable=True),
        ("Disagreement by subgroup", "model vs person; click a bar to label that slice"),
        "Share of labeled items where the model's prediction, made before the person "
        "labeled the item, differed from the label. Lines: 95% Wilson intervals; grey "
        "bars: too few items to rank.",
        select=SELECT_FIELDS,
    )


def disagreement_chart(
    table: pd.DataFrame, focused: dict[str, str] | None = None, has_subgroups: bool = True
) -> alt.LayerChart:
    """Draw `metrics.disagreement_by_subgroup` (the focused slice highlighted)."""
    return with_datasets(disagreement_spec(), disagreement_data(table, focused, has_subgroups))


def accuracy_by_subgroup_data(table: pd.DataFrame, has_subgroups: bool = True) -> Datasets:
    """Rows of `metrics.accuracy_by_subgroup` (each says its source in the tooltip)."""
    return _rates("accuracy_by_subgroup", table, ACCURACY_EMPTY, has_subgroups, extra=("source",))


def accuracy_by_subgroup_spec() -> alt.LayerChart:
    return fitted(
        rate_bars("accuracy_by_subgroup", "accuracy", ACCENT, tooltip=[alt.Tooltip("source:N")]),
        ("Accuracy by subgroup", "95% intervals; grey: too few to rank"),
        "With a truth column: the current model on every unlabeled item that has a truth "
        "value. Without one: random audit labels against the model's prediction made "
        "before each label. Both are unbiased samples of the slice.",
    )


def accuracy_by_subgroup_chart(table: pd.DataFrame, has_subgroups: bool = True) -> alt.LayerChart:
    """Draw `metrics.accuracy_by_subgroup`."""
    return with_datasets(
        accuracy_by_subgroup_spec(), accuracy_by_subgroup_data(table, has_subgroups)
    )


def annotator_disagreement_data(table: pd.DataFrame, has_subgroups: bool = True) -> Datasets:
    """Rows of `metrics.annotator_disagreement_by_subgroup`: people disagreeing with people."""
    return _rates("annotator_disagreement", table, ANNOTATORS_EMPTY, has_subgroups)


def annotator_disagreement_spec() -> alt.LayerChart:
    return fitted(
        rate_bars("annotator_disagreement", "annotator disagreement", WARN),
        ("Annotator disagreement by subgroup", "items with 2+ opinions that differ"),
        "Share of the items labeled by two or more people whose labels differ. Lines: "
        "95% Wilson intervals; grey bars: too few items to rank.",
    )


def annotator_disagreement_chart(table: pd.DataFrame, has_subgroups: bool = True) -> alt.LayerChart:
    """Draw `metrics.annotator_disagreement_by_subgroup`."""
    return with_datasets(
        annotator_disagreement_spec(), annotator_disagreement_data(table, has_subgroups)
    )
