"""Confidence routing: automation rate against the accuracy of what the model labels."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ._style import WIDTH, empty_title, inline, title

COLORS = {
    "automation rate": "#333333",
    "accuracy (audit)": "#4c78a8",
    "accuracy (calibrated)": "#f58518",
    "accuracy (truth)": "#54a24b",
}


def routing_chart(curve: pd.DataFrame, threshold: float | None = None) -> alt.LayerChart:
    """From `Session.routing_curve()`: x = threshold; automation rate and three accuracy
    estimates of the auto-accepted part (audit with Wilson band, calibration, truth)."""
    heading = title(
        "Routing: how much the model could label alone, and how well",
        "automation = share of unlabeled items at or above the threshold",
        "audit = random audit labels above the threshold (unbiased; 95% Wilson band)",
        "calibrated = mean confidence (right only if calibrated); truth = held-out answer key",
    )
    if curve.empty:
        heading = empty_title("routing estimate", "the model needs two labeled classes")
    long = curve.melt(
        id_vars=["threshold", "audit_low", "audit_high", "audit_n", "auto_n"],
        value_vars=[
            c
            for c in ("automation_rate", "audit_accuracy", "calibrated_accuracy", "truth_accuracy")
            if c in curve.columns
        ],
        var_name="measure",
        value_name="value",
    ).dropna(subset=["value"])
    names = {
        "automation_rate": "automation rate",
        "audit_accuracy": "accuracy (audit)",
        "calibrated_accuracy": "accuracy (calibrated)",
        "truth_accuracy": "accuracy (truth)",
    }
    long["measure"] = long["measure"].map(names)
    base = alt.Chart(inline(long)).encode(
        x=alt.X("threshold:Q", title="auto-accept threshold", scale=alt.Scale(zero=False))
    )
    band = (
        alt.Chart(inline(curve.dropna(subset=["audit_accuracy"])))
        .mark_area(opacity=0.15, color=COLORS["accuracy (audit)"])
        .encode(x="threshold:Q", y="audit_low:Q", y2="audit_high:Q")
    )
    lines = base.mark_line().encode(
        y=alt.Y("value:Q", title="rate", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(
            "measure:N",
            title=None,
            scale=alt.Scale(domain=list(COLORS), range=list(COLORS.values())),
        ),
        tooltip=[
            "measure:N",
            alt.Tooltip("threshold:Q", format=".2f"),
            alt.Tooltip("value:Q", format=".3f"),
            "audit_n:Q",
            "auto_n:Q",
        ],
    )
    layers = [band, lines]
    if threshold is not None:
        rule = (
            alt.Chart(inline(pd.DataFrame({"threshold": [threshold]})))
            .mark_rule(strokeDash=[4, 4], color="#333333")
            .encode(x="threshold:Q")
        )
        layers.append(rule)
    return alt.layer(*layers).properties(width=WIDTH, height=220, title=heading)
