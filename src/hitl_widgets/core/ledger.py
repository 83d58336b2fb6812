"""The ledger: events replayed into per-item state the queue and the model read fast.

`LabelState` (events.py) knows the current label and opinions of each item by its
stored id; the ledger adds boolean masks over the pool's rows (decided, mine, resolved,
opinion counts) so that ranking 1M rows never touches a Python dict per row, and it
derives the training set. It is plain data: the Session's lock guards it, and readers
get copies through a Snapshot.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from .events import LabelEvent, LabelState
from .pool import Pool
from .training import TrainingSet


class Ledger:
    """Per-item state of one annotator's session, folded from events in commit order."""

    def __init__(self, pool: Pool, annotator: str):
        n = len(pool)
        self.pool = pool
        self.annotator = annotator
        self.state = LabelState()
        self.decided = np.zeros(n, dtype=bool)  # has a training label (majority or resolved)
        self.mine = np.zeros(n, dtype=bool)  # this annotator gave an opinion
        self.opinions = np.zeros(n, dtype=np.int16)  # opinions per item (capped: see apply)
        self.resolved = np.zeros(n, dtype=bool)  # a reviewer decided it
        self.label_version = 0  # bumps on every event that can change a label
        self.n_label_events = 0  # "label" events applied: drives the audit schedule
        self.synced = 0  # store position read so far

    def apply(self, event: LabelEvent) -> bool:
        """Fold one event in; False if it was already applied (replays are idempotent)."""
        if not self.state.apply(event):
            return False
        key = event.item_id
        if event.action == "undo":
            target = self.state.get(event.target_event_id or "")
            key = target.item_id if target is not None else key
        position = self.pool.position(self.pool.codec.decode(key))
        decided = self.state.label_of(key)
        opinions = self.state.opinions(key)
        self.decided[position] = decided is not None
        self.resolved[position] = decided is not None and decided.action == "resolve"
        self.mine[position] = self.annotator in opinions
        # only compared with `overlap` (a handful): a cap keeps 2 bytes a row exact there
        self.opinions[position] = min(len(opinions), np.iinfo(np.int16).max)
        if event.action != "skip":
            self.label_version += 1
        if event.action == "label":
            self.n_label_events += 1
        return True

    def open_for_me(self, overlap: int, positions: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Items this annotator may still be asked (of `positions`; default all): no
        opinion of hers, opinions wanted."""
        return (
            ~self.mine[positions] & (self.opinions[positions] < overlap) & ~self.resolved[positions]
        )

    def done_for_me(self, positions: np.ndarray, overlap: int) -> bool:
        """Whether none of these items is fresh for this annotator any more: each has
        her opinion, enough opinions or a resolution, or she skipped it."""
        open_now = positions[self.open_for_me(overlap, positions)]
        if len(open_now) == 0:
            return True
        skipped = self.state.skipped(self.annotator)
        return all(self.pool.codec.encode(self.pool.ids[p]) in skipped for p in open_now)

    def skipped_mask(self) -> np.ndarray:
        mask = np.zeros(len(self.pool), dtype=bool)
        skipped = self.state.skipped(self.annotator)
        if skipped:
            mask[self.pool.positions(self.pool.codec.decode_all(skipped))] = True
        return mask

    def trainable(self) -> bool:
        """Two distinct classes among the decided labels: a model can be fitted."""
        return len({e.label for e in self.state.current().values()}) >= 2

    def training_set(self, classes: Sequence[Hashable], training: str, overlap: int) -> TrainingSet:
        """The decided labels to learn from ("resolved": only settled items)."""
        current = self.state.current()
        if training == "resolved":
            current = {k: e for k, e in current.items() if self._settled(k, e, overlap)}
        by_text = {str(c): c for c in classes}
        positions = self.pool.positions(self.pool.codec.decode_all(current))
        y = np.array([by_text[e.label or ""] for e in current.values()], dtype=object)
        if all(isinstance(c, int) for c in classes):
            y = y.astype(np.int64)
        return TrainingSet(positions, y, self.label_version, ~self.decided)

    def _settled(self, key: str, decided: LabelEvent, overlap: int) -> bool:
        """Resolved by a reviewer, or `overlap` opinions that all agree."""
        if decided.action == "resolve":
            return True
        opinions = self.state.opinions(key)
        return len(opinions) >= overlap and len({e.label for e in opinions.values()}) == 1
