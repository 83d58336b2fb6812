"""The worst slices `Session.find_slices` found: error rates on random audit labels.

Each bar is one slice (a conjunction of column values, in words), its error rate on
the audit labels that are unbiased for it, and the 1 - alpha Wilson interval. Bars of
slices the evidence cannot judge yet are grey and come last, whatever their rate: a
high rate on six labels is a reason to look, not a finding. A click reports the
slice's `where` (as JSON text: a vega datum holds plain values) and the dashboard
focuses the session, so the labeler asks inside it until it can be judged.
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import pandas as pd

from ._slices import rate_bars
from ._style import WARN, Datasets, Rows, fitted, note_rows, with_datasets

NAME = "worst_slices"
SELECT = ["where"]
EMPTY = (
    "no slice found yet: slices are judged on random audit labels once a model exists "
    "(more audit labels: a larger audit_share or explore, or focus on a slice)"
)
NOT_JUDGED = "not enough labels to judge"
PENDING = "the worst slices are searched once this tab is opened (live kernel)"


def worst_slices_data(
    table: pd.DataFrame | None, focused: dict[str, str] | None = None
) -> Datasets:
    """Rows of `find_slices` (judged slices by rank, then unjudged ones; the focused
    slice bright, the others dimmed while a focus is on)."""
    rows: Rows = []
    if table is not None:
        for order, row in enumerate(table.to_dict("records")):
            where = {str(c): str(v) for c, v in row["where"].items()}
            rows.append(
                {
                    "slice": str(row["slice"]),
                    "order": order,
                    "rate": _number(row["error_rate"]),
                    "low": _number(row["low"]),
                    "high": _number(row["high"]),
                    "n": int(row["n_audit"]),
                    "small": row["verdict"] == NOT_JUDGED,
                    "verdict": str(row["verdict"]),
                    "gap": _number(row["gap"]),
                    "p_adjusted": _number(row["p_adjusted"]),
                    "focus_labels": _number(row["focus_labels"]),
                    "where": json.dumps(where, sort_keys=True),
                    "dimmed": focused is not None and where != focused,
                }
            )
    # no note over drawn bars: it would hide them and catch their clicks
    note = None if rows else (EMPTY if table is not None else PENDING)
    return {NAME: rows, f"{NAME}_note": note_rows(note)}


def worst_slices_spec() -> alt.LayerChart:
    extra = [
        alt.Tooltip("verdict:N"),
        alt.Tooltip("gap:Q", format="+.1%", title="gap to the rest"),
        alt.Tooltip("p_adjusted:Q", format=".3f", title="p (Holm)"),
        alt.Tooltip("focus_labels:Q", format=".0f", title="labels a focus takes to judge it"),
    ]
    return fitted(
        rate_bars(NAME, "error rate (random audit labels)", WARN, clickable=True, tooltip=extra),
        ("Worst slices", "found, not guessed; click a bar to label inside it"),
        "Conjunctions of up to two column values where the current model errs most, "
        "judged on the random audit labels unbiased for each slice (never on "
        "uncertainty-picked items). Lines: 95% Wilson intervals; the p-values are "
        "Holm-corrected over every slice tried. Grey: not enough audit labels to judge.",
        select=SELECT,
    )


def worst_slices_chart(table: pd.DataFrame, focused: dict[str, str] | None = None) -> Any:
    """Draw a `Session.find_slices()` table."""
    return with_datasets(worst_slices_spec(), worst_slices_data(table, focused))


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else round(float(value), 4)
