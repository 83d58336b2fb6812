"""The labeling session: pool + model + strategy + store, and the loop that joins them.

`submit` writes the event durably and returns; the refit, the rescoring and anything
drawn from them happen afterwards in the background, so they can never lose or delay
a label. Everything a widget shows is read from here.
"""

from __future__ import annotations

import getpass
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ._refit import Refitter
from .events import LabelEvent, LabelState, check_text, item_key, new_event_id, utc_now
from .models import default_model
from .pool import FeatureSpec, build_pool
from .ranking import top_k
from .scoring import PoolScores, score_pool
from .store import LabelStore, events_frame, open_store
from .strategies import QueryStrategy, checked_scores, resolve_strategy
from .subgroups import subgroup_labels

COLD_START_REASON = "cold start: random order (fewer than two classes labeled)"
AUDIT_REASON = "random audit: a uniform sample that checks the model without bias"
AUDIT_DRAWS = 4096  # the seeded schedule of which queue slots are audits, repeated


@dataclass(frozen=True)
class FitResult:
    """A fitted model and its view of the pool, tagged with what it was fitted on."""

    version: int
    model: Any
    pool: PoolScores
    n_labels: int
    label_version: int
    seconds: float


@dataclass(frozen=True)
class FitSummary:
    """What one refit knew: recorded for the trend charts (cheap to keep, one per fit)."""

    version: int
    n_labels: int
    seconds: float
    mean_uncertainty: float  # mean query score over the unlabeled pool
    truth_accuracy: float | None  # on unlabeled items with a truth value, if truth is given
    truth_n: int


@dataclass(frozen=True)
class SessionStatus:
    """What a status line needs, read in one consistent snapshot."""

    n_items: int
    n_labeled: int
    n_skipped: int
    fit_state: str  # "cold" (no model yet), "fitting", "ready" or "failed"
    fit_error: str | None
    model_version: int
    store: str
    durable: bool
    warnings: dict[str, int] = field(default_factory=dict)

    @property
    def n_remaining(self) -> int:
        return self.n_items - self.n_labeled


class Session:
    """Active-learning labeling over a pandas DataFrame.

    Parameters
    ----------
    data : DataFrame whose index holds the item ids (unique strings or integers).
    classes : the label set, at least two distinct values.
    features : None (every numeric column), a list of numeric columns, the name of
        one text column, or a callable ``df -> X``.
    model : a scikit-learn classifier with ``predict_proba``; it is cloned, never
        fitted in place. Default: scaler + logistic regression, or TF-IDF + logistic
        regression for a text column.
    strategy : "margin" (default), "entropy", "least_confidence", "random", a
        ``QueryStrategy`` or a function ``f(model, X) -> scores``.
    subgroups, truth : column names kept for audits and charts (``truth`` holds known
        labels for evaluation and simulation; it is never used for training).
    store : None (an SQLite file in the working directory, named after the pool),
        ":memory:" (not durable, on purpose), a path, a ``sqlite:///`` URL or a store.
    annotator : who is labeling; default: the login name.
    random_state : seeds the cold-start order, the audit sample and every tie-break.
    allow_nan : let NaN features through (for models that impute); inf never passes.
    audit_share : share of queue slots given to uniformly random items once a model
        exists. Their labels, compared with the model's prediction made before the
        label, estimate the model's accuracy without the bias of uncertainty picks.
    overlap : independent opinions wanted per item (1 by default). With several
        annotators on one store, `claim` hands each item to at most `overlap` people.
    role : "annotator" or "reviewer" (a reviewer may `resolve` disagreements).
    training : "majority" (resolved label, else the majority of opinions) or
        "resolved" (only resolved items and items whose `overlap` opinions agree).
    claim_ttl : seconds after which an unanswered claim (a closed notebook) expires.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        classes: Sequence[Hashable],
        features: FeatureSpec = None,
        model: Any = None,
        strategy: str | QueryStrategy | Callable[[Any, Any], Any] = "margin",
        subgroups: str | Sequence[str] | None = None,
        truth: str | None = None,
        store: str | os.PathLike | LabelStore | None = None,
        annotator: str | None = None,
        random_state: int | None = None,
        allow_nan: bool = False,
        audit_share: float = 0.1,
        overlap: int = 1,
        role: str = "annotator",
        training: str = "majority",
        claim_ttl: float = 900.0,
    ):
        self.classes = _check_classes(classes)
        self._class_by_text = {str(c): c for c in self.classes}
        self._class_index = {c: i for i, c in enumerate(self.classes)}
        self.pool = build_pool(data, features, allow_nan=allow_nan)
        self.data = self.pool.data
        self.subgroups = _check_columns(data, subgroups, "subgroups")
        self.truth = _check_columns(data, truth, "truth")[0] if truth is not None else None
        self.model = model if model is not None else default_model(self.pool.kind)
        if not hasattr(self.model, "fit") or not hasattr(self.model, "predict_proba"):
            raise TypeError(
                f"model {type(self.model).__name__} needs fit() and predict_proba() "
                "(for SVC pass probability=True)"
            )
        self.strategy = resolve_strategy(strategy)
        self.annotator = check_text(annotator or _login_name(), "annotator")
        self.random_state = random_state
        self.session_id = str(uuid.uuid4())
        if not 0.0 <= audit_share <= 1.0:
            raise ValueError(f"audit_share must be between 0 and 1, got {audit_share!r}")
        self.audit_share = float(audit_share)
        if not isinstance(overlap, int) or overlap < 1:
            raise ValueError(f"overlap must be a positive integer, got {overlap!r}")
        if role not in ("annotator", "reviewer"):
            raise ValueError(f"role must be 'annotator' or 'reviewer', got {role!r}")
        if training not in ("majority", "resolved"):
            raise ValueError(f"training must be 'majority' or 'resolved', got {training!r}")
        self.overlap, self.role, self.training = overlap, role, training
        self.claim_ttl = float(claim_ttl)
        rng = np.random.default_rng(random_state)
        self._tiebreak = rng.permutation(len(self.pool))  # seeded order for ties and cold start
        audit_rng = np.random.default_rng(rng.integers(2**63))
        self._audit_order = audit_rng.permutation(len(self.pool))
        self._audit_slots = audit_rng.random(AUDIT_DRAWS) < self.audit_share
        self._audit_issued: set[int] = set()
        self._zeros = np.zeros(len(self.pool))
        self._free_scores: np.ndarray | None = None
        self._truth_codes = self._encode_truth()
        self._subgroup_cache: dict[str, pd.Series] = {}
        self._subgroup_code_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._focus: dict[str, str] | None = None
        self._focus_mask: np.ndarray | None = None
        self._routing_cut: np.ndarray | None = None
        self.history_: list[FitSummary] = []

        self._lock = threading.RLock()
        self._seq = 0
        self._state = LabelState()
        self._labeled = np.zeros(len(self.pool), dtype=bool)  # decided: has a training label
        self._mine = np.zeros(len(self.pool), dtype=bool)  # this annotator gave an opinion
        self._opinions = np.zeros(len(self.pool), dtype=np.int32)  # opinions per item
        self._resolved = np.zeros(len(self.pool), dtype=bool)
        self._synced = 0  # store position read so far
        self._label_version = 0
        self._n_label_events = 0
        self._fit: FitResult | None = None
        self._fit_state = "cold"
        self._fit_error: str | None = None
        self._observers: list[Callable[[str], None]] = []
        self._early_warnings: Counter[str] = Counter()

        self.store = open_store(store, self.pool.fingerprint)
        self.store.bind(self.pool.fingerprint, [str(c) for c in self.classes], len(self.pool))
        self.sync()
        self._refitter = Refitter(
            self._fit_now, self._publish, self._fail, self._started, self._notify
        )
        if self._trainable():
            self._refitter.request()  # resume: refit at once on the stored labels

    # ------------------------------------------------------------------ reading
    @property
    def model_(self) -> Any:
        """The fitted clone of the user's model, or None before the first fit."""
        fit = self._fit
        return fit.model if fit else None

    @property
    def model_version_(self) -> int:
        fit = self._fit
        return fit.version if fit else 0

    @property
    def store_path(self) -> str:
        return self.store.location

    @property
    def labels(self) -> pd.DataFrame:
        """Current label per labeled item (latest surviving event), indexed by item id."""
        with self._lock:
            current = self._state.current()
        ids = self.pool.ids[self.pool.positions(self._decode_ids(list(current)))]
        events = list(current.values())
        frame = pd.DataFrame(
            {
                "label": [self._class_by_text[e.label] for e in events],
                "annotator": [e.annotator for e in events],
                "labeled_at": pd.to_datetime([e.created_at for e in events], utc=True),
                "event_id": [e.event_id for e in events],
            },
            index=pd.Index(ids, name=self.data.index.name or "item_id"),
        )
        return frame

    @property
    def events(self) -> pd.DataFrame:
        """The whole append-only audit trail, as stored, in commit order."""
        return events_frame(self.store.read_events())

    def current_label_events(self) -> list[LabelEvent]:
        """The surviving label event of every labeled item (in-memory, no store read)."""
        with self._lock:
            return list(self._state.current().values())

    def event_log(self) -> list[LabelEvent]:
        """Every event this session knows, in commit order (in-memory, no store read)."""
        with self._lock:
            return self._state.log()

    def metrics(self) -> dict[str, pd.DataFrame]:
        """The tidy tables behind every chart; see `hitl_widgets.core.metrics`."""
        from .metrics import all_metrics

        return all_metrics(self)

    @property
    def fit_state(self) -> str:
        return self.status.fit_state

    @property
    def fit_error(self) -> str | None:
        return self._fit_error

    @property
    def status(self) -> SessionStatus:
        with self._lock:
            fitting = self._refitter.busy
            state = "fitting" if fitting else self._fit_state
            return SessionStatus(
                n_items=len(self.pool),
                n_labeled=int(self._labeled.sum()),
                n_skipped=len(self._state.skipped(self.annotator)),
                fit_state=state,
                fit_error=self._fit_error,
                model_version=self.model_version_,
                store=self.store.location,
                durable=self.store.durable,
                warnings=dict(self._refitter.warnings),
            )

    def queue(self, k: int = 10) -> pd.DataFrame:
        """The next k items to label, best first.

        Columns: score (higher = more useful to ask), suggestion and confidence (the
        current model's guess, NaN/None before the first fit), reason (why it is here),
        audit (a uniformly random item: see `audit_share`) and skipped (skipped items
        come after every unskipped one). A `focus` restricts the queue to one slice.
        """
        with self._lock:
            fit = self._fit
            eligible = self._open_for_me()
            if self._focus_mask is not None:
                eligible &= self._focus_mask
            if self._routing_cut is not None and fit is not None:
                eligible &= fit.pool.confidence < self._routing_cut  # humans get the rest
            skipped = self._skipped_mask()
            n_labels = self._n_label_events
        if fit is not None:
            scores, reason = fit.pool.scores, f"uncertainty ({self.strategy.name})"
        elif not self.strategy.needs_model:
            scores, reason = self._model_free_scores(), f"{self.strategy.name} (needs no model)"
        else:
            scores, reason = self._zeros, COLD_START_REASON
        if self.strategy.name == "random":
            reason = "random order (strategy='random')"
        fresh = eligible & ~skipped
        chosen = self._select(fit, scores, fresh, k)
        audit = np.zeros(len(chosen), dtype=bool)
        if fit is not None and self.audit_share > 0 and len(chosen):
            chosen, audit = self._mix_audit(chosen, fresh, n_labels, k)
        if len(chosen) < k:
            extra = self._select(fit, scores, eligible & skipped, k - len(chosen))
            chosen = np.concatenate([chosen, extra])
            audit = np.concatenate([audit, np.zeros(len(extra), dtype=bool)])
        return self._queue_frame(chosen, fit, scores, reason, skipped, audit)

    def _model_free_scores(self) -> np.ndarray:
        """Scores of a strategy that needs no model (computed once: they cannot change)."""
        if self._free_scores is None:
            raw = self.strategy.score(None, self.pool.X)
            self._free_scores = checked_scores(raw, len(self.pool), self.strategy.name)
        return self._free_scores

    def _mix_audit(
        self, ranked: np.ndarray, fresh: np.ndarray, n_labels: int, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Give the seeded audit slots to the next items of a fixed random permutation.

        The permutation is independent of the model, so the first unlabeled item in it
        is a uniform draw from the unlabeled pool: its label is an unbiased check.
        """
        slots = self._audit_slots[(n_labels + np.arange(len(ranked))) % AUDIT_DRAWS]
        wanted = int(slots.sum())
        if wanted == 0:
            return ranked, np.zeros(len(ranked), dtype=bool)
        picks: list[int] = []
        for start in range(0, len(self._audit_order), AUDIT_DRAWS):
            window = self._audit_order[start : start + AUDIT_DRAWS]
            picks.extend(window[fresh[window]][: wanted - len(picks)].tolist())
            if len(picks) >= wanted:
                break
        audit_set = set(picks)
        rest = iter([p for p in ranked.tolist() if p not in audit_set])
        audit_iter = iter(picks)
        chosen, flags = [], []
        for is_audit in slots:
            position = next(audit_iter, None) if is_audit else None
            if position is None:
                position = next(rest, None)
                is_audit = False
            if position is None:
                break
            chosen.append(position)
            flags.append(bool(is_audit))
        with self._lock:
            self._audit_issued.update(p for p, f in zip(chosen, flags, strict=True) if f)
        return np.asarray(chosen, dtype=np.intp), np.asarray(flags, dtype=bool)

    def _select(
        self, fit: FitResult | None, scores: np.ndarray, eligible: np.ndarray, k: int
    ) -> np.ndarray:
        select = getattr(self.strategy, "select", None)
        if fit is None or select is None:
            return top_k(scores, self._tiebreak, eligible, k)
        candidates = top_k(scores, self._tiebreak, eligible, max(k * 10, 100))
        chosen = np.asarray(select(fit.model, self.pool.X, candidates, k), dtype=np.intp)
        return chosen[:k]

    def _queue_frame(
        self,
        chosen: np.ndarray,
        fit: FitResult | None,
        scores: np.ndarray,
        reason: str,
        skipped: np.ndarray,
        audit: np.ndarray,
    ) -> pd.DataFrame:
        index = pd.Index(self.pool.ids[chosen], name=self.data.index.name or "item_id")
        if fit is None:
            suggestion = [None] * len(chosen)
            confidence = np.full(len(chosen), np.nan)
            score = np.full(len(chosen), np.nan)
        else:
            suggestion = [self.classes[i] for i in fit.pool.suggestion[chosen]]
            confidence = fit.pool.confidence[chosen]
            score = scores[chosen]
        return pd.DataFrame(
            {
                "score": score,
                "suggestion": pd.Series(suggestion, index=index, dtype=object),
                "confidence": confidence,
                "reason": np.where(audit, AUDIT_REASON, reason),
                "audit": audit,
                "skipped": skipped[chosen],
            },
            index=index,
        )

    def focus(self, where: dict[str, Any] | None = None) -> None:
        """Restrict the queue to one slice, e.g. {"region": "north"}; None clears it.

        Values are subgroup labels as the charts show them (numeric columns are binned).
        """
        if not where:
            with self._lock:
                self._focus, self._focus_mask = None, None
            self._notify("focus")
            return
        mask = np.ones(len(self.pool), dtype=bool)
        for column, value in where.items():
            labels = self.subgroup_labels(column)
            if str(value) not in set(labels):
                raise ValueError(f"{column!r} has no subgroup {value!r}")
            mask &= (labels == str(value)).to_numpy()
        with self._lock:
            self._focus = {str(c): str(v) for c, v in where.items()}
            self._focus_mask = mask
        self._notify("focus")

    def route(
        self,
        threshold: float,
        *,
        escalate_below: float | None = None,
        per_class: dict[Any, float] | None = None,
        per_subgroup: dict[str, dict[str, float]] | None = None,
        impact: str | None = None,
        impact_limit: float | None = None,
        feed_queue: bool = True,
        export: str | os.PathLike | None = None,
    ) -> pd.DataFrame:
        """Route every item: auto-accept at or above `threshold`, people get the rest.

        Returns one row per item with route, label, provenance (human / model / None
        while pending), suggestion, confidence and the threshold that applied; see
        `hitl_widgets.core.routing.route`. With `feed_queue` the labeler's queue then
        holds only the items routed to people (re-evaluated after every refit);
        `clear_routing()` undoes that. `export` writes the table (.csv/.parquet/.jsonl).
        """
        from .routing import route, thresholds_per_item

        table = route(
            self,
            threshold,
            escalate_below=escalate_below,
            per_class=per_class,
            per_subgroup=per_subgroup,
            impact=impact,
            impact_limit=impact_limit,
        )
        if feed_queue:
            cut = thresholds_per_item(self, threshold, per_class, per_subgroup)
            if impact is not None:
                cut[(self.data[impact] >= impact_limit).to_numpy()] = np.inf
            with self._lock:
                self._routing_cut = cut
            self._notify("focus")
        if export is not None:
            _write_table(table.reset_index(), Path(export))
        return table

    def clear_routing(self) -> None:
        with self._lock:
            self._routing_cut = None
        self._notify("focus")

    def routing_curve(
        self, thresholds: Sequence[float] | None = None, by: str | None = None
    ) -> pd.DataFrame:
        """Automation rate vs expected accuracy per threshold; see `core.routing`."""
        from .routing import routing_curve

        return routing_curve(self, thresholds, by)

    def simulate(self, n: int, oracle: Any = None, **kwargs: Any) -> pd.DataFrame:
        """Label n items as a simulated annotator would; see `core.simulate.simulate`."""
        from .simulate import simulate

        return simulate(self, n, oracle, **kwargs)

    @property
    def focused(self) -> dict[str, str] | None:
        return dict(self._focus) if self._focus else None

    def subgroup_codes(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(code per pool row, sorted subgroup names): for counting slices with bincount."""
        cached = self._subgroup_code_cache.get(column)
        if cached is None:
            codes, names = pd.factorize(self.subgroup_labels(column), sort=True)
            cached = (codes.astype(np.intp), np.asarray(names, dtype=object))
            self._subgroup_code_cache[column] = cached
        return cached

    def subgroup_labels(self, column: str) -> pd.Series:
        """The slice label of every pool row for one column (binned if numeric)."""
        if column not in self.data.columns:
            raise ValueError(f"subgroup column {column!r} is not in the pool")
        labels = self._subgroup_cache.get(column)
        if labels is None:
            labels = subgroup_labels(self.data[column])
            self._subgroup_cache[column] = labels
        return labels

    def is_labeled(self, item_id: Hashable) -> bool:
        return bool(self._labeled[self.pool.position(item_id)])

    def suggestion_for(self, item_id: Hashable) -> tuple[Any, float | None, float | None]:
        """(suggested class, its confidence, query score) for one item; Nones before a fit."""
        position = self.pool.position(item_id)
        fit = self._fit
        if fit is None:
            return None, None, None
        return (
            self.classes[int(fit.pool.suggestion[position])],
            float(fit.pool.confidence[position]),
            float(fit.pool.scores[position]),
        )

    # ------------------------------------------------------------------ writing
    def submit(
        self,
        item_id: Hashable,
        label: Hashable,
        *,
        suggestion_shown: bool = False,
        time_spent_ms: float | None = None,
        event_id: str | None = None,
    ) -> LabelEvent:
        """Label one item. Returns once the event is durable in the store.

        A refit is requested afterwards and runs in the background. Relabeling an item
        is allowed: it appends a correction, the earlier event stays in the trail.
        `event_id` makes a retried submission idempotent.
        """
        label = self._check_label(label)
        return self._record(
            "label",
            item_id,
            label=str(label),
            suggestion_shown=suggestion_shown,
            time_spent_ms=time_spent_ms,
            event_id=event_id,
        )

    def _check_label(self, label: Hashable) -> Hashable:
        try:
            known = not isinstance(label, bool) and label in self._class_index
        except TypeError:  # unhashable
            known = False
        if not known:
            raise ValueError(f"label {label!r} is not one of the classes {self.classes!r}")
        return self.classes[self._class_index[label]]

    def skip(self, item_id: Hashable, *, event_id: str | None = None) -> LabelEvent:
        """Put an item aside: it goes behind every unskipped item in the queue."""
        position = self.pool.position(item_id)
        if self._mine[position]:
            raise ValueError(f"item {item_id!r} is already labeled; undo or relabel it instead")
        return self._record("skip", item_id, event_id=event_id)

    def undo(self, *, event_id: str | None = None) -> Hashable | None:
        """Cancel this annotator's latest label or skip; returns that item's id.

        The undo is itself an event (nothing is deleted). Returns None when there is
        nothing left to undo.
        """
        with self._lock:
            target = self._state.last_undoable(self.annotator)
            if target is None:
                return None
            item_id = self._decode_ids([target.item_id])[0]
            self._record("undo", item_id, target_event_id=target.event_id, event_id=event_id)
        return item_id

    def _record(
        self,
        action: str,
        item_id: Hashable,
        *,
        label: str | None = None,
        target_event_id: str | None = None,
        basis: str | None = None,
        suggestion_shown: bool | None = None,
        time_spent_ms: float | None = None,
        event_id: str | None = None,
    ) -> LabelEvent:
        position = self.pool.position(item_id)
        key = item_key(self.pool.ids[position])
        if event_id is not None:
            check_text(event_id, "event_id")
        with self._lock:
            fit = self._fit
            suggestion = confidence = score = None
            if fit is not None and action != "undo":
                suggestion = str(self.classes[int(fit.pool.suggestion[position])])
                confidence = float(fit.pool.confidence[position])
                score = float(fit.pool.scores[position])
            self._seq += 1
            event = LabelEvent(
                event_id=event_id or new_event_id(),
                item_id=key,
                item_hash=self.pool.item_hash(position),
                annotator=self.annotator,
                session_id=self.session_id,
                seq=self._seq,
                created_at=utc_now(),
                action=action,  # type: ignore[arg-type]
                label=label,
                target_event_id=target_event_id,
                suggestion=suggestion,
                suggestion_shown=bool(suggestion_shown) if suggestion is not None else False,
                suggestion_confidence=confidence,
                model_version=fit.version if fit else None,
                strategy=self.strategy.name,
                query_score=score,
                time_spent_ms=None if time_spent_ms is None else float(time_spent_ms),
                # an audit observation is the first label of a randomly drawn item,
                # compared with a model that has not seen it; corrections are not
                audit=(
                    action == "label"
                    and position in self._audit_issued
                    and fit is not None
                    and not self._state.opinions(key)
                ),
                basis=basis,
            )
            known = self._state.get(event.event_id)
            if known is not None:
                return self._retried(known, event)
            if self.store.append([event]) == 0:  # durable on return; raises StoreError otherwise
                stored = self.store.get_event(event.event_id)
                event = self._retried(stored, event) if stored else event
            self._apply(event)
        self._notify("labels")
        if action != "skip":
            self._refitter.request()
        return event

    @staticmethod
    def _retried(stored: LabelEvent, attempt: LabelEvent) -> LabelEvent:
        """A repeated event id: the stored event if it is the same act, else an error."""
        if not stored.same_decision(attempt):
            raise ValueError(
                f"event id {attempt.event_id!r} is already used by a different event "
                f"({stored.action} {stored.label!r} on item {stored.item_id!r}); nothing was saved"
            )
        return stored

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every refit requested so far is done (scripts, tests, benchmarks)."""
        return self._refitter.wait(timeout)

    def observe(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback(kind)` on "labels", "fit_started", "fit_done", "fit_failed", "focus".

        Fit callbacks run on the refit thread. Returns a function that unsubscribes.
        """
        self._observers.append(callback)
        return lambda: self._observers.remove(callback) if callback in self._observers else None

    def export(self, path: str | os.PathLike, what: str = "labels") -> Path:
        """Write the current labels (or, with what="events", the audit trail).

        The format follows the suffix: .parquet, .csv or .jsonl.
        """
        frame = {"labels": lambda: self.labels, "events": lambda: self.events}.get(what)
        if frame is None:
            raise ValueError(f"what must be 'labels' or 'events', got {what!r}")
        table = frame().reset_index() if what == "labels" else frame()
        return _write_table(table, Path(path))

    def close(self) -> None:
        """Stop the refit thread and close the store."""
        self._refitter.stop()
        self.store.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self.status
        return (
            f"<hitl_widgets.Session {s.n_labeled}/{s.n_items} labeled, "
            f"strategy={self.strategy.name}, model {s.fit_state}, store={s.store!r}>"
        )

    # ---------------------------------------------------------------- internals
    def _open_for_me(self) -> np.ndarray:
        """Items this annotator may still be asked: no opinion of hers, opinions wanted."""
        return ~self._mine & (self._opinions < self.overlap) & ~self._resolved

    def _apply(self, event: LabelEvent) -> bool:
        if not self._state.apply(event):
            return False
        item = event.item_id
        if event.action == "undo":
            target = self._state.get(event.target_event_id or "")
            item = target.item_id if target is not None else item
        position = self.pool.position(self._decode_ids([item])[0])
        decided = self._state.label_of(item)
        opinions = self._state.opinions(item)
        self._labeled[position] = decided is not None
        self._resolved[position] = decided is not None and decided.action == "resolve"
        self._mine[position] = self.annotator in opinions
        self._opinions[position] = len(opinions)
        if event.action != "skip":
            self._label_version += 1
        if event.action == "label":
            self._n_label_events += 1
        return True

    def sync(self) -> int:
        """Read events other sessions committed to the store; returns how many were new.

        A team's sessions share one store: sync before ranking so nobody is asked an
        item the others have finished, and refit when their labels arrive.
        """
        with self._lock:
            rows = self.store.read_since(self._synced)
            new = 0
            for position, event in rows:
                new += self._apply(event)
                self._synced = max(self._synced, position)
        if new and self._trainable() and hasattr(self, "_refitter"):
            self._refitter.request()
        return new

    def claim(self, k: int = 10) -> pd.DataFrame:
        """Like `queue`, but atomically reserve the items for this annotator.

        Two annotators are never handed the same item unless `overlap` asks for it; a
        claim expires after `claim_ttl` seconds (a notebook closed mid-way), and the
        item returns to the pool.
        """
        self.sync()
        window = max(4 * k, k + 20)
        while True:
            ranked = self.queue(window)
            keys = [item_key(i) for i in ranked.index]
            won = set(self.store.claim(self.annotator, keys, k, self.overlap, self.claim_ttl))
            if len(won) >= k or len(ranked) < window:  # filled, or nothing more to try
                return ranked[[key in won for key in keys]]
            window *= 4  # the best items are held by others: look further down

    def resolve(
        self, item_id: Hashable, label: Hashable, *, event_id: str | None = None
    ) -> LabelEvent:
        """A reviewer's final label for an item, recording the opinions it decided between."""
        if self.role != "reviewer":
            raise PermissionError(
                f"annotator {self.annotator!r} has role {self.role!r}: only a reviewer resolves"
            )
        label = self._check_label(label)
        key = item_key(self.pool.ids[self.pool.position(item_id)])
        basis = ",".join(e.event_id for e in self._state.opinions(key).values())
        return self._record(
            "resolve", item_id, label=str(label), basis=basis or None, event_id=event_id
        )

    def adjudication_queue(self) -> pd.DataFrame:
        """Items whose opinions disagree and that no reviewer has resolved yet.

        Columns: opinions (annotator -> label), n_opinions, majority (None on a tie).
        """
        self.sync()
        rows = []
        with self._lock:
            for item in self._state.items_with_opinions():
                opinions = self._state.opinions(item)
                labels = {e.label for e in opinions.values()}
                decided = self._state.label_of(item)
                if len(labels) > 1 and not (decided is not None and decided.action == "resolve"):
                    rows.append(
                        (
                            item,
                            {a: e.label for a, e in opinions.items()},
                            len(opinions),
                            decided.label if decided is not None else None,
                        )
                    )
        ids = self._decode_ids([r[0] for r in rows])
        frame = pd.DataFrame(
            {
                "opinions": [r[1] for r in rows],
                "n_opinions": [r[2] for r in rows],
                "majority": [r[3] for r in rows],
            },
            index=pd.Index(ids, name=self.data.index.name or "item_id"),
        )
        return frame

    def agreement(self, by: str | None = None) -> pd.DataFrame:
        """Inter-annotator agreement (pairwise Cohen's kappa, Fleiss' kappa, Krippendorff's
        alpha), overall and per subgroup of column `by`; see `core.agreement`."""
        from .agreement import agreement_table

        self.sync()
        opinions = self.opinions
        groups = None
        if by is not None:
            groups = self.subgroup_labels(by).set_axis(self.pool.ids)
        return agreement_table(opinions[["item_id", "annotator", "label"]], groups)

    def annotator_report(self) -> pd.DataFrame:
        """Per annotator: agreement with consensus, and accepting shown suggestions vs
        agreeing with the model when blind (a rubber-stamp signal); see `core.agreement`."""
        from .agreement import annotator_report, consensus

        self.sync()
        opinions = self.opinions
        agreed = consensus(opinions[["item_id", "annotator", "label"]]).set_index("item_id")
        return annotator_report(opinions, agreed["label"])

    def label_issues(self, cv: int = 5) -> pd.DataFrame:
        """Labeled items whose label is probably wrong (confident learning over
        cross-validated probabilities), most suspicious first, indexed by item id.

        Review them with `Labeler(session, mode="review")`: a correction is a new event.
        """
        from .label_errors import find_label_issues

        with self._lock:
            current = self._state.current()
        ids = self._decode_ids(list(current))
        positions = self.pool.positions(ids)
        labels = [self._class_by_text[e.label] for e in current.values()]
        table = find_label_issues(
            self.pool.X[positions],
            labels,
            self.model,
            self.classes,
            cv=cv,
            random_state=self.random_state,
        )
        table.index = pd.Index(
            [ids[p] for p in table["position"]], name=self.data.index.name or "item_id"
        )
        return table.drop(columns="position")

    @property
    def opinions(self) -> pd.DataFrame:
        """Every annotator's current label per item (one row per item and annotator)."""
        with self._lock:
            rows = [
                (
                    item,
                    annotator,
                    e.label,
                    e.event_id,
                    e.created_at,
                    e.suggestion,
                    e.suggestion_shown,
                )
                for item in self._state.items_with_opinions()
                for annotator, e in self._state.opinions(item).items()
            ]
        frame = pd.DataFrame(
            rows,
            columns=[
                "item_id",
                "annotator",
                "label",
                "event_id",
                "labeled_at",
                "suggestion",
                "suggestion_shown",
            ],
        )
        frame["item_id"] = self._decode_ids(frame["item_id"].tolist())
        frame["label"] = [self._class_by_text[v] for v in frame["label"]]
        return frame

    def _skipped_mask(self) -> np.ndarray:
        mask = np.zeros(len(self.pool), dtype=bool)
        skipped = self._state.skipped(self.annotator)
        if skipped:
            mask[self.pool.positions(self._decode_ids(list(skipped)))] = True
        return mask

    def _decode_ids(self, keys: list[str]) -> list[Hashable]:
        return [int(k) for k in keys] if self.pool.int_ids else keys

    def _trainable(self) -> bool:
        labels = {e.label for e in self._state.current().values()}
        return len(labels) >= 2

    def _training_set(self) -> tuple[np.ndarray, np.ndarray, int]:
        with self._lock:
            current = self._state.current()
            if self.training == "resolved":
                current = {item: e for item, e in current.items() if self._settled(item, e)}
            version = self._label_version
        positions = self.pool.positions(self._decode_ids(list(current)))
        y = np.array([self._class_by_text[e.label] for e in current.values()], dtype=object)
        if all(isinstance(c, (int, np.integer)) for c in self.classes):
            y = y.astype(np.int64)
        return positions, y, version

    def _settled(self, item: str, decided: LabelEvent) -> bool:
        """Resolved by a reviewer, or `overlap` opinions that all agree."""
        if decided.action == "resolve":
            return True
        opinions = self._state.opinions(item)
        return len(opinions) >= self.overlap and len({e.label for e in opinions.values()}) == 1

    def _fit_now(self) -> FitResult | None:
        positions, y, label_version = self._training_set()
        if len(set(y.tolist())) < 2:
            return None  # cold start: nothing to fit yet
        started = time.perf_counter()
        model = clone(self.model)
        model.fit(self.pool.X[positions], y)
        pool = score_pool(model, self.pool.X, self.strategy, self._class_index)
        return FitResult(
            version=self.model_version_ + 1,
            model=model,
            pool=pool,
            n_labels=len(y),
            label_version=label_version,
            seconds=time.perf_counter() - started,
        )

    def _refitter_warnings(self) -> Counter[str]:
        refitter = getattr(self, "_refitter", None)
        return refitter.warnings if refitter is not None else self._early_warnings

    def _started(self, generation: int) -> None:
        self._notify("fit_started")

    def _publish(self, generation: int, result: FitResult | None) -> None:
        with self._lock:
            current = self._fit
            if result is None:
                self._fit = None
                self._fit_state = "cold"
            elif current is None or result.label_version >= current.label_version:
                self._fit = result
                self._fit_state = "ready"
                self.history_.append(self._summarize(result))
            self._fit_error = None

    def _summarize(self, result: FitResult) -> FitSummary:
        unlabeled = ~self._labeled
        scores = result.pool.scores[unlabeled]
        truth_accuracy, truth_n = None, 0
        if self._truth_codes is not None:
            known = unlabeled & (self._truth_codes >= 0)
            truth_n = int(known.sum())
            if truth_n:
                hits = result.pool.suggestion[known] == self._truth_codes[known]
                truth_accuracy = float(hits.mean())
        return FitSummary(
            version=result.version,
            n_labels=result.n_labels,
            seconds=result.seconds,
            mean_uncertainty=float(scores.mean()) if scores.size else float("nan"),
            truth_accuracy=truth_accuracy,
            truth_n=truth_n,
        )

    def _encode_truth(self) -> np.ndarray | None:
        """Truth as class indices (-1 where unknown or not a class), for fast evaluation."""
        if self.truth is None:
            return None
        codes = self.data[self.truth].map(
            lambda v: self._class_index.get(v, -1) if pd.notna(v) else -1
        )
        return codes.to_numpy(dtype=np.int16)

    def _fail(self, generation: int, error: BaseException, trace: str) -> None:
        with self._lock:
            self._fit_state = "failed"
            self._fit_error = f"{type(error).__name__}: {error}"
            self.fit_traceback = trace

    def _notify(self, kind: str) -> None:
        """Tell observers; a failing observer is recorded, never allowed to break the
        refit thread or turn a saved label into an exception."""
        for callback in list(self._observers):
            try:
                callback(kind)
            except Exception as exc:
                self._refitter_warnings()[f"observer failed: {type(exc).__name__}: {exc}"] += 1


def _write_table(table: pd.DataFrame, path: Path) -> Path:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        table.to_parquet(path, index=False)
    elif suffix == ".csv":
        table.to_csv(path, index=False)
    elif suffix == ".jsonl":
        table.to_json(path, orient="records", lines=True, date_format="iso")
    else:
        raise ValueError(f"unknown export format {suffix!r}: use .parquet, .csv or .jsonl")
    return path


def _check_classes(classes: Sequence[Hashable]) -> list[Hashable]:
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence | np.ndarray):
        raise TypeError("classes must be a list of labels, e.g. ['neg', 'pos']")
    classes = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if len(classes) < 2:
        raise ValueError(f"declare at least two classes, got {classes!r}")
    for c in classes:
        if not isinstance(c, (str, int)) or isinstance(c, bool):
            raise TypeError(f"classes must be strings or integers, got {c!r}")
        if isinstance(c, str):
            check_text(c, "class label")
            if not c:
                raise ValueError("class labels must not be empty strings")
    texts = [str(c) for c in classes]
    if len(set(texts)) != len(texts):
        raise ValueError(f"classes must be distinct (as text too), got {classes!r}")
    return classes


def _check_columns(data: pd.DataFrame, columns: str | Sequence[str] | None, what: str) -> list[str]:
    if columns is None:
        return []
    names = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in names if c not in data.columns]
    if missing:
        raise ValueError(f"{what} columns not in the pool: {missing!r}")
    return names


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "annotator"
