"""The strategy race: learning curves with intervals over repetitions."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ._style import WIDTH, records, title, with_datasets


def race_chart(summary: pd.DataFrame, auc: pd.DataFrame | None = None) -> alt.LayerChart:
    """Mean held-out accuracy vs labels per strategy, band = 95% t interval over repeats.

    `summary` is `core.race.race_summary(curves)`; `auc` (optional) is
    `core.race.area_under_curve(curves)`, whose ranking goes into the subtitle.
    """
    repeats = int(summary["repeats"].max()) if len(summary) else 0
    ranking = ""
    if auc is not None and len(auc):
        ranking = "area under the curve: " + ", ".join(
            f"{r.strategy} {r.aulc:.3f} [{r.low:.3f}, {r.high:.3f}]" for r in auc.itertuples()
        )
    heading = title(
        "Strategy race: accuracy vs labels",
        f"held-out test accuracy, mean over {repeats} repetitions; band = 95% t interval",
        *([ranking] if ranking else []),
    )
    if summary.empty:
        heading = title("no race yet: run core.race.race() first")
    base = alt.Chart(alt.NamedData("race")).encode(
        x=alt.X("n_labels:Q", title="labels", axis=alt.Axis(format="d", tickMinStep=1)),
        color=alt.Color("strategy:N", title="strategy"),
    )
    band = base.mark_area(opacity=0.2).encode(y="low:Q", y2="high:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", title="accuracy", scale=alt.Scale(zero=False)),
        tooltip=[
            "strategy:N",
            "n_labels:Q",
            alt.Tooltip("mean:Q", format=".3f"),
            alt.Tooltip("low:Q", format=".3f"),
            alt.Tooltip("high:Q", format=".3f"),
            "repeats:Q",
        ],
    )
    chart = alt.layer(band, line).properties(width=WIDTH, height=220, title=heading)
    return with_datasets(chart, {"race": records(summary)})
