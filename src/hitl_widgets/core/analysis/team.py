"""A team's view of a session: what needs adjudication, how far people agree.

Functions of a Snapshot, over the opinions (each annotator's current label per item);
the statistics themselves live in `agreement`, which knows nothing of sessions.
"""

from __future__ import annotations

import pandas as pd

from ..snapshot import Snapshot
from .agreement import agreement_table, annotator_report, consensus


def adjudication_queue(snap: Snapshot) -> pd.DataFrame:
    """Items whose opinions disagree and that no reviewer has resolved yet.

    Columns: opinions (annotator -> label), n_opinions, majority (None on a tie).
    """
    rows = []
    for key, by in snap.opinions.items():
        decided = snap.current.get(key)
        if len({e.label for e in by.values()}) > 1 and not (
            decided is not None and decided.action == "resolve"
        ):
            majority = decided.label if decided is not None else None
            rows.append((key, {who: e.label for who, e in by.items()}, len(by), majority))
    return pd.DataFrame(
        {
            "opinions": [r[1] for r in rows],
            "n_opinions": [r[2] for r in rows],
            "majority": [r[3] for r in rows],
        },
        index=pd.Index(snap.ids([r[0] for r in rows]), name=snap.index_name),
    )


def team_agreement(snap: Snapshot, by: str | None = None) -> pd.DataFrame:
    """Cohen, Fleiss and Krippendorff agreement, overall and per subgroup of `by`."""
    groups = None
    if by is not None:
        groups = snap.subgroup_labels(by).set_axis(snap.pool.ids)
    return agreement_table(snap.opinion_table[["item_id", "annotator", "label"]], groups)


def team_report(snap: Snapshot) -> pd.DataFrame:
    """Per annotator: agreement with consensus, and the rubber-stamp signal."""
    opinions = snap.opinion_table
    agreed = consensus(opinions[["item_id", "annotator", "label"]]).set_index("item_id")
    return annotator_report(opinions, agreed["label"])
