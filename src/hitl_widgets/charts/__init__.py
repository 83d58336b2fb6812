"""Charts: pure functions from the core's metric tables to Altair charts (no Session, no widget).

Every chart family offers `*_spec` (the chart reading named datasets, no rows),
`*_data` (the rows, as plain JSON, no Altair) and `*_chart` (both joined: a complete
chart to show or save). The dashboard builds the specs once and afterwards only the data.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from ._style import Datasets, with_datasets
from .accuracy import accuracy_chart, accuracy_data, accuracy_spec
from .coverage import (
    balance_chart,
    balance_data,
    balance_spec,
    coverage_chart,
    coverage_data,
    coverage_spec,
)
from .disagreement import (
    accuracy_by_subgroup_chart,
    accuracy_by_subgroup_data,
    accuracy_by_subgroup_spec,
    annotator_disagreement_chart,
    annotator_disagreement_data,
    annotator_disagreement_spec,
    disagreement_chart,
    disagreement_data,
    disagreement_spec,
)
from .routing import routing_chart, routing_data, routing_spec
from .uncertainty import (
    need_human_chart,
    need_human_data,
    need_human_spec,
    uncertainty_data,
    uncertainty_histogram,
    uncertainty_spec,
    uncertainty_trend_chart,
    uncertainty_trend_data,
    uncertainty_trend_spec,
)
from .worst_slices import worst_slices_chart, worst_slices_data, worst_slices_spec

MAIN = ("accuracy", "disagreement", "uncertainty")  # what the project exists for: on top
MORE = (  # one click away, in this order
    "worst_slices",
    "accuracy_by_subgroup",
    "routing",
    "need_human",
    "uncertainty_trend",
    "balance",
    "coverage",
    "annotator_disagreement",
)
Tables = Mapping[str, pd.DataFrame]


def dashboard_specs(strategy: str) -> dict[str, alt.TopLevelMixin]:
    """Every dashboard chart without rows: built (and validated) once per dashboard."""
    return {
        "accuracy": accuracy_spec(),
        "disagreement": disagreement_spec(),
        "uncertainty": uncertainty_spec(strategy),
        "worst_slices": worst_slices_spec(),
        "accuracy_by_subgroup": accuracy_by_subgroup_spec(),
        "routing": routing_spec(),
        "need_human": need_human_spec(),
        "uncertainty_trend": uncertainty_trend_spec(),
        "balance": balance_spec(),
        "coverage": coverage_spec(),
        "annotator_disagreement": annotator_disagreement_spec(),
    }


def dashboard_data(
    tables: Tables,
    focused: dict[str, str] | None = None,
    curve: pd.DataFrame | None = None,
    threshold: float = 0.9,
    slices: pd.DataFrame | None = None,
) -> dict[str, Datasets]:
    """Chart name -> the rows of its named datasets, from `Session.metrics()` tables,
    the focused slice, the routing curve at `threshold` and a `find_slices` table
    (None: not searched yet). Cheap: every redraw."""
    subgroups = not tables["coverage_by_subgroup"].empty  # listed whenever there are any
    return {
        "accuracy": accuracy_data(tables["accuracy"], tables.get("random_baseline")),
        "disagreement": disagreement_data(tables["disagreement_by_subgroup"], focused, subgroups),
        "uncertainty": uncertainty_data(tables["uncertainty_distribution"]),
        "accuracy_by_subgroup": accuracy_by_subgroup_data(
            tables["accuracy_by_subgroup"], subgroups
        ),
        "routing": routing_data(curve, threshold),
        "need_human": need_human_data(tables["uncertainty_by_subgroup"], subgroups),
        "uncertainty_trend": uncertainty_trend_data(tables["uncertainty_trend"]),
        "balance": balance_data(tables["label_balance"]),
        "coverage": coverage_data(tables["coverage_by_subgroup"]),
        "annotator_disagreement": annotator_disagreement_data(
            tables["annotator_disagreement_by_subgroup"], subgroups
        ),
        "worst_slices": worst_slices_data(slices, focused),
    }


def dashboard_charts(
    tables: Tables,
    focused: dict[str, str] | None = None,
    strategy: str = "margin",
    curve: pd.DataFrame | None = None,
    threshold: float = 0.9,
    slices: pd.DataFrame | None = None,
) -> dict[str, alt.TopLevelMixin]:
    """Every dashboard chart, complete (spec + rows), main charts first."""
    data = dashboard_data(tables, focused, curve, threshold, slices)
    return {
        name: with_datasets(spec, data[name]) for name, spec in dashboard_specs(strategy).items()
    }


__all__ = [
    "MAIN",
    "MORE",
    "accuracy_by_subgroup_chart",
    "accuracy_chart",
    "annotator_disagreement_chart",
    "balance_chart",
    "coverage_chart",
    "dashboard_charts",
    "dashboard_data",
    "dashboard_specs",
    "disagreement_chart",
    "need_human_chart",
    "routing_chart",
    "uncertainty_histogram",
    "uncertainty_trend_chart",
    "worst_slices_chart",
]
