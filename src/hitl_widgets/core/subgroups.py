"""Subgroup labels: the slices audits and charts group by.

Categorical columns are used as they are; numeric columns with many values are cut into
quantile bins so that each slice holds a comparable number of items. One function, used
by metrics, charts and the queue filter alike, so a slice means the same thing everywhere.
"""

from __future__ import annotations

import pandas as pd

MISSING = "(missing)"
MAX_CATEGORIES_BEFORE_BINNING = 10


def subgroup_labels(values: pd.Series, bins: int = 4) -> pd.Series:
    """A string label per row: the category, or the quantile bin of a numeric column."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique(dropna=True) > MAX_CATEGORIES_BEFORE_BINNING:
        labels = pd.qcut(values, q=bins, duplicates="drop").astype(str)
        return labels.where(values.notna(), MISSING).astype(object)
    labels = values.astype(object).where(values.notna(), MISSING)
    return labels.map(str)
