"""A frozen, consistent read view of a Session: what every analysis and widget reads.

`Session.snapshot()` copies the mutable parts (masks, the event log, the current
labels) under the session lock in one moment; everything else it holds (the pool, the
fit, the fit history entries) is immutable already and shared. Analyses are plain
functions of a Snapshot, so they never see a fit from one moment and labels from
another, never hold the session lock while they compute, and never reach into the
Session's private fields.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .config import SessionConfig
from .events import LabelEvent
from .pool import Pool
from .subgroups import SubgroupIndex
from .training import FitResult, FitSummary


@dataclass(frozen=True)
class SessionStatus:
    """What a status line needs, read in one consistent moment."""

    n_items: int
    n_labeled: int
    n_skipped: int
    fit_state: str  # "cold" (no model yet), "fitting", "ready" or "failed"
    fit_error: str | None
    model_version: int
    store: str
    durable: bool
    warnings: dict[str, int] = field(default_factory=dict)
    progress: str | None = None  # long work under way, e.g. "vectorizing 40%"
    # a newer model than `model_version` whose ranking of a candidate sample serves the
    # queue while the pool is rescored (a Dask pool); `ranking` says so in words
    newest_model: int = 0
    ranking: str | None = None

    @property
    def n_remaining(self) -> int:
        return self.n_items - self.n_labeled


@dataclass(frozen=True)
class Snapshot:
    """The state of one Session at one moment. Treat every array as read-only."""

    pool: Pool
    config: SessionConfig
    model: Any  # the unfitted estimator that is refit on labels: analyses fit clones of it
    X: Any  # what `model` reads: the pool's features, vectorized once for text pools
    strategy_name: str
    fit: FitResult | None
    decided: np.ndarray  # bool per row: has a training label
    skipped: np.ndarray  # bool per row: this annotator skipped it
    current: Mapping[str, LabelEvent]  # deciding event per decided item (stored id)
    opinions: Mapping[str, Mapping[str, LabelEvent]]  # item -> annotator -> latest label
    log: tuple[LabelEvent, ...]  # every event, in commit order
    history: tuple[FitSummary, ...]
    truth_codes: np.ndarray | None  # class index per row, -1 where unknown
    focused: Mapping[str, str] | None
    subgroup_index: SubgroupIndex = field(repr=False)
    memo: dict[str, Any] = field(repr=False, compare=False)  # the session's analysis cache

    # ------------------------------------------------------------ identity
    @property
    def classes(self) -> tuple[Hashable, ...]:
        return self.config.classes

    @property
    def subgroups(self) -> tuple[str, ...]:
        return self.config.subgroups

    @property
    def truth(self) -> str | None:
        return self.config.truth

    @property
    def data(self) -> pd.DataFrame:
        return self.pool.data

    @property
    def index_name(self) -> Hashable:
        return self.pool.data.index.name or "item_id"

    @property
    def n_labeled(self) -> int:
        return int(self.decided.sum())

    # ------------------------------------------------------------ ids and slices
    def ids(self, keys: list[str]) -> list[Hashable]:
        """Pool ids of stored item ids."""
        return self.pool.codec.decode_all(keys)

    def positions(self, keys: list[str]) -> np.ndarray:
        """Pool rows of stored item ids."""
        if not keys:
            return np.empty(0, dtype=np.intp)
        return self.pool.positions(self.ids(keys))

    def subgroup_labels(self, column: str) -> pd.Series:
        return self.subgroup_index.labels(column)

    def subgroup_codes(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        return self.subgroup_index.codes(column)

    # ------------------------------------------------------------ tables
    @cached_property
    def labeled(self) -> pd.DataFrame:
        """One row per decided item: its label and what the model said before it.

        Columns: item_id (stored text), label (stored text), suggestion,
        suggestion_shown, annotator, audit, position, disagree.
        """
        events = list(self.current.values())
        frame = pd.DataFrame(
            {
                "item_id": [e.item_id for e in events],
                "label": [e.label for e in events],
                "suggestion": [e.suggestion for e in events],
                "suggestion_shown": [bool(e.suggestion_shown) for e in events],
                "annotator": [e.annotator for e in events],
                "audit": [e.audit for e in events],
            }
        )
        frame["position"] = self.positions([e.item_id for e in events])
        frame["disagree"] = frame["suggestion"].notna() & (frame["suggestion"] != frame["label"])
        return frame

    @cached_property
    def opinion_table(self) -> pd.DataFrame:
        """Every annotator's current label per item, one row per (item, annotator).

        item_id holds pool ids and label the classes' own values.
        """
        rows = [
            (item, who, e.label, e.event_id, e.created_at, e.suggestion, e.suggestion_shown)
            for item, by in self.opinions.items()
            for who, e in by.items()
        ]
        columns = [
            "item_id",
            "annotator",
            "label",
            "event_id",
            "labeled_at",
            "suggestion",
            "suggestion_shown",
        ]
        frame = pd.DataFrame(rows, columns=columns)
        frame["item_id"] = self.ids(frame["item_id"].tolist())
        frame["label"] = [self.config.class_of(v) for v in frame["label"]]
        return frame
