"""The write path: every event is built, made durable in the store, then applied.

The order is the contract. An event reaches the ledger (and so the queue, the
training set, every reader) only after the store said it is durable, so nothing a
reader saw can be missing from a fresh Session opened on the same store. `Writer`
holds `writing`, the lock that orders commits and syncs: the ledger applies events
in the order the store committed them. The session lock (`state_lock`) is taken only
for the moments that read or change the ledger, never around store I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from .config import SessionConfig
from .events import Action, LabelEvent, check_text, new_event_id, utc_now
from .ledger import Ledger
from .pool import Pool
from .queue import Answer, QueuePlanner
from .store import LabelStore
from .training import FitResult, ItemView, SampleFit, item_view


class Writer:
    """Commits one session's events to its store and its ledger, in commit order."""

    def __init__(
        self,
        *,
        pool: Pool,
        config: SessionConfig,
        store: LabelStore,
        ledger: Ledger,
        state_lock: threading.Lock,
        planner: QueuePlanner,
        serving: Callable[[], tuple[FitResult | None, SampleFit | None]],
        session_id: str,
        strategy_name: str,
    ):
        self.pool, self.config, self.store, self.ledger = pool, config, store, ledger
        self.state_lock = state_lock
        self.planner = planner
        self.serving = serving  # the current fit, and a newer sample fit if any
        self.session_id, self.strategy_name = session_id, strategy_name
        self.writing = threading.Lock()
        self._seq = 0

    def record(self, action: Action, item_id: Hashable, **fields: Any) -> LabelEvent:
        with self.writing:
            return self._commit(action, item_id, **fields)

    def undo(self, event_id: str | None) -> Hashable | None:
        """Cancel this annotator's latest label or skip; the id of its item, or None."""
        with self.writing:
            with self.state_lock:
                target = self.ledger.state.last_undoable(self.config.annotator)
            if target is None:
                return None
            item_id = self.pool.codec.decode(target.item_id)
            self._commit("undo", item_id, target_event_id=target.event_id, event_id=event_id)
        return item_id

    def basis(self, item_id: Hashable) -> str | None:
        """The opinions a reviewer's resolution decides between, as event ids."""
        key = self.pool.codec.encode(self.pool.ids[self.pool.position(item_id)])
        with self.state_lock:
            return ",".join(e.event_id for e in self.ledger.state.opinions(key).values()) or None

    def sync(self) -> tuple[int, bool]:
        """Apply what other sessions committed: (new events, whether labels can train)."""
        with self.writing:
            rows = self.store.read_since(self.ledger.synced)
            with self.state_lock:
                new = sum(self.ledger.apply(event) for _, event in rows)
                if rows:
                    self.ledger.synced = max(self.ledger.synced, rows[-1][0])
                return new, self.ledger.trainable()

    def _done_for_me(self, positions: np.ndarray) -> bool:
        """The items are no longer fresh for this annotator (under the session lock)."""
        return self.ledger.done_for_me(positions, self.config.overlap)

    def _commit(
        self,
        action: Action,
        item_id: Hashable,
        *,
        label: str | None = None,
        target_event_id: str | None = None,
        basis: str | None = None,
        suggestion_shown: bool = False,
        plan: int | None = None,
        time_spent_ms: float | None = None,
        event_id: str | None = None,
    ) -> LabelEvent:
        """Build the event, store it durably, apply it. The caller holds `writing`."""
        position = self.pool.position(item_id)
        key = self.pool.codec.encode(self.pool.ids[position])
        if event_id is not None:
            check_text(event_id, "event_id")
        with self.state_lock:
            fit, sample = self.serving()
            view = item_view(fit, position, self.config.classes, sample)
            if action == "undo":  # an undo shows nothing: it only names the model version
                view = ItemView(model_version=view.model_version)
            # the queue slot this label answers and how likely it was to offer the item
            # (for estimates): none for an item taken while items ahead of it were open
            answer = (
                self.planner.answered(position, self._done_for_me, plan)
                if action == "label"
                else Answer()
            )
            self._seq += 1
            event = LabelEvent(
                event_id=event_id or new_event_id(),
                item_id=key,
                item_hash=self.pool.item_hash(position),
                annotator=self.config.annotator,
                session_id=self.session_id,
                seq=self._seq,
                created_at=utc_now(),
                action=action,
                label=label,
                target_event_id=target_event_id,
                suggestion=view.suggestion,
                suggestion_shown=suggestion_shown and view.suggestion is not None,
                suggestion_confidence=view.confidence,
                model_version=view.model_version,
                strategy=self.strategy_name,
                query_score=view.score,
                time_spent_ms=time_spent_ms,
                # an audit observation is the first label of a randomly drawn item, taken
                # in the queue's order, given without the model's suggestion and compared
                # with a model that has not seen it; corrections, and labels the caller
                # says were shown the suggestion (anchored by the model they check), are not
                audit=(
                    answer.audit
                    and (fit is not None or sample is not None)
                    and not suggestion_shown
                    and not self.ledger.state.opinions(key)
                ),
                basis=basis,
                selection_probability=answer.probability,
                query_policy=answer.policy,
            )
            known = self.ledger.state.get(event.event_id)
        if known is not None:
            return _retried(known, event)
        if self.store.append([event]) == 0:  # durable on return; raises StoreError otherwise
            stored = self.store.get_event(event.event_id)
            event = _retried(stored, event) if stored else event
        with self.state_lock:
            self.ledger.apply(event)
        return event


def _retried(stored: LabelEvent, attempt: LabelEvent) -> LabelEvent:
    """A repeated event id: the stored event if it is the same act, else an error."""
    if not stored.same_decision(attempt):
        raise ValueError(
            f"event id {attempt.event_id!r} is already used by a different event "
            f"({stored.action} {stored.label!r} on item {stored.item_id!r}); nothing was saved"
        )
    return stored
