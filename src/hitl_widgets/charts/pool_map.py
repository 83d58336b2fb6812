"""A 2-D view of the pool colored by uncertainty, with the next queries marked.

For teaching: where in feature space the model is unsure, and that the next questions
sit there. The map draws a fixed-size random sample of the pool (plus every labeled
and queued item), so its payload does not grow with the pool; the subtitle says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import numpy as np
import pandas as pd

from ._style import MUTED, WIDTH, records, title, with_datasets

if TYPE_CHECKING:
    from ..core.session import Session

MAX_POINTS = 1500


def pool_map_table(
    session: Session, x: str, y: str, next_k: int = 5, max_points: int = MAX_POINTS
) -> pd.DataFrame:
    """The rows the map draws: x, y, state (unlabeled / labeled / next query), label, score.

    Reads one `Session.snapshot()` (the pool, what is decided, the fit's score per row),
    `Session.labels` and `Session.queue(next_k)`: the Session has no per-item score
    table of its own, and `queue(len(pool))` is far too slow for a map.
    """
    snap = session.snapshot()
    data = snap.data
    for column in (x, y):
        if column not in data.columns:
            raise ValueError(f"pool map column {column!r} is not in the pool")
    rng = np.random.default_rng(0)
    sample = rng.choice(len(data), size=min(len(data), max_points), replace=False)
    queued = data.index.get_indexer(session.queue(next_k).index)
    positions = np.unique(np.concatenate([sample, np.flatnonzero(snap.decided), queued]))
    state = np.where(snap.decided[positions], "labeled", "unlabeled").astype(object)
    state[np.isin(positions, queued)] = "next query"
    ids = data.index[positions]
    return pd.DataFrame(
        {
            "x": data[x].to_numpy()[positions],
            "y": data[y].to_numpy()[positions],
            "state": state,
            "label": session.labels["label"].reindex(ids).fillna("").astype(str).to_numpy(),
            "score": snap.fit.pool.scores[positions] if snap.fit is not None else np.nan,
        }
    )


def pool_map_chart(table: pd.DataFrame, x: str, y: str, n_pool: int) -> alt.LayerChart:
    shown = int((table["state"] == "unlabeled").sum())
    heading = title(
        f"The pool in ({x}, {y}), colored by uncertainty",
        f"{shown} of the unlabeled items drawn at random (pool: {n_pool}); "
        "every labeled item and the next queries are shown; darker = less sure",
    )
    base = alt.Chart(alt.NamedData("pool_map")).encode(
        x=alt.X("x:Q", title=x, scale=alt.Scale(zero=False)),
        y=alt.Y("y:Q", title=y, scale=alt.Scale(zero=False)),
    )
    pool = (
        base.transform_filter("datum.state == 'unlabeled'")
        .mark_circle(size=18)
        .encode(
            color=alt.condition(
                "isValid(datum.score)",
                alt.Color("score:Q", title="uncertainty", scale=alt.Scale(scheme="purples")),
                alt.value(MUTED),
            ),
            tooltip=[alt.Tooltip("score:Q", format=".3f")],
        )
    )
    labeled = (
        base.transform_filter("datum.state == 'labeled'")
        .mark_point(size=40, filled=True)
        .encode(
            shape=alt.Shape("label:N", title="label"),
            color=alt.value("#222222"),
            tooltip=["label:N"],
        )
    )
    nxt = (
        base.transform_filter("datum.state == 'next query'")
        .mark_point(size=160, shape="diamond", strokeWidth=2, color="#e45756")
        .encode(tooltip=[alt.Tooltip("score:Q", format=".3f")])
    )
    chart = alt.layer(pool, labeled, nxt).properties(width=WIDTH, height=WIDTH, title=heading)
    return with_datasets(chart, {"pool_map": records(table)})
