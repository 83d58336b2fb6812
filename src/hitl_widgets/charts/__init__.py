"""Charts: pure functions from the core's metric tables to Altair charts (no widgets)."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

from ..core.metrics import random_baseline
from .accuracy import accuracy_chart
from .coverage import balance_chart, coverage_chart
from .disagreement import (
    accuracy_by_subgroup_chart,
    annotator_disagreement_chart,
    disagreement_chart,
)
from .uncertainty import need_human_chart, uncertainty_histogram, uncertainty_trend_chart

if TYPE_CHECKING:
    from ..core.session import Session

_baselines: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def baseline_for(session: Session) -> pd.DataFrame | None:
    """The random-sampling baseline, recomputed only when labels cross a new grid size.

    It fits models on random draws, so a redraw after every label must not redo it.
    """
    if session.truth is None:
        return None
    n = len(session.current_label_events())
    key = max([s for s in (10, 20, 40, 80, 160, 320, 640, 1280) if s <= max(n, 10)])
    cached = _baselines.get(session)
    if cached is None or cached[0] != key:
        cached = (key, random_baseline(session))
        _baselines[session] = cached
    return cached[1]


def dashboard_charts(session: Session) -> dict[str, alt.TopLevelMixin]:
    """Every dashboard chart, built from `session.metrics()` (aggregates only)."""
    tables = session.metrics()
    focused = session.focused
    selected = next(iter(focused.items())) if focused else None
    return {
        "accuracy": accuracy_chart(tables["accuracy"], baseline_for(session)),
        "disagreement": disagreement_chart(tables["disagreement_by_subgroup"], selected),
        "accuracy_by_subgroup": accuracy_by_subgroup_chart(tables["accuracy_by_subgroup"]),
        "annotator_disagreement": annotator_disagreement_chart(
            tables["annotator_disagreement_by_subgroup"]
        ),
        "uncertainty": uncertainty_histogram(
            tables["uncertainty_distribution"], session.strategy.name
        ),
        "uncertainty_trend": uncertainty_trend_chart(tables["uncertainty_trend"]),
        "need_human": need_human_chart(tables["uncertainty_by_subgroup"]),
        "balance": balance_chart(tables["label_balance"]),
        "coverage": coverage_chart(tables["coverage_by_subgroup"]),
    }


__all__ = [
    "accuracy_by_subgroup_chart",
    "accuracy_chart",
    "annotator_disagreement_chart",
    "balance_chart",
    "baseline_for",
    "coverage_chart",
    "dashboard_charts",
    "disagreement_chart",
    "need_human_chart",
    "uncertainty_histogram",
    "uncertainty_trend_chart",
]
