"""The labeling session: composition, the write path, and the reads everything else uses.

`submit` writes the event durably and returns; the refit, the rescoring and anything
drawn from them happen afterwards on the refit worker, so they can never lose or delay
a label. Who owns what, which lock guards what and which thread runs what is written
down in docs/architecture.md; in short:

- the Session owns its copy of the pool (later edits of the caller's DataFrame change
  nothing), its ledger of events, its fit and its focus;
- `_lock` guards that state and is held only for short reads and swaps, never while
  calling a store, a model or an observer; the `Writer` orders the write path and sync
  (store I/O) so events are applied in the order they were committed;
- observers run on the thread that caused the change (a submit: the caller's; a fit:
  the refit worker's), always after every session lock is released.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .analysis.routing import RoutingPolicy, route_pool
from .analysis.slices import frame_text, where_of
from .config import (
    ROLES,
    TRAINING,
    SessionConfig,
    check_choice,
    check_classes,
    check_columns,
    check_count,
    check_nonnegative,
    check_random_state,
    check_share,
    encode_truth,
    login_name,
)
from .events import LabelEvent, check_text
from .export import write_table
from .features import ModelInput, in_background, prepare
from .frames import open_pool
from .ledger import Ledger
from .observers import Observers
from .pool import FeatureSpec
from .progress import Progress
from .queue import Plan, QueuePlanner, QueueState, queue_frame
from .refits import Refits
from .reports import Reports
from .simulate import simulate
from .snapshot import SessionStatus, Snapshot
from .store import LabelStore, events_frame, open_store
from .strategies import QueryStrategy, resolve_strategy
from .subgroups import SubgroupIndex
from .training import (
    FitSummary,
    TrainingSet,
    check_model,
    default_model,
    item_view,
)
from .writing import Writer

__all__ = ["Session", "SessionStatus"]


class Session(Reports):
    """Active-learning labeling over a DataFrame; see the README for a tour.

    The analyses (`metrics`, `estimate`, `find_slices`, `stopping`, `agreement`, ...)
    come from `Reports`: each is a function of one `snapshot()`.

    Parameters
    ----------
    data : DataFrame whose index holds the item ids (unique strings or integers), or a
        polars DataFrame / pyarrow Table (anything narwhals reads) with `ids` naming its
        id column. The Session keeps its own copy: editing `data` afterwards changes
        nothing here. Results are pandas, indexed by id.
    classes : the label set, at least two distinct strings or integers.
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
        ":memory:" (not durable, on purpose), a path, a ``sqlite:///`` or
        ``postgresql://`` URL, or a store object.
    annotator : who is labeling; default: the login name.
    random_state : seeds the cold-start order, the audit sample and every tie-break.
    allow_nan : let NaN features through (for models that impute); inf never passes.
    audit_share : share of queue slots given to uniformly random items once a model
        exists. Their labels, compared with the model's prediction made before the
        label, estimate the model's accuracy without the bias of uncertainty picks.
    overlap : independent opinions wanted per item. With several annotators on one
        store, `claim` hands each item to at most `overlap` people.
    role : "annotator" or "reviewer" (a reviewer may `resolve` disagreements).
    training : "majority" (resolved label, else the majority of opinions) or
        "resolved" (only resolved items and items whose `overlap` opinions agree).
    claim_ttl : seconds after which an unanswered claim (a closed notebook) expires.
    progress : show a progress bar for work over about two seconds (vectorizing a large
        text pool, long simulations); False keeps scripts quiet.
    ids : the column that holds the item ids, instead of the index (required for frames
        without an index, such as polars); it is not a feature.
    client : for a `dask.dataframe.DataFrame` pool, the `distributed.Client` whose
        workers keep the features (default: the active client, else a local cluster
        sized to the machine, closed with the session); see `core.dask_pool`.
    explore : share of queue slots drawn at random (the more uncertain, the likelier)
        instead of taken from the top (default 0: plain top-k). It costs a little label
        efficiency and lets `estimate` use every actively chosen label, weighted by its
        recorded selection probability, not only the audit labels.
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
        progress: bool = True,
        explore: float = 0.0,
        ids: str | None = None,
        client: Any = None,
    ):
        # a Dask pool's features stay on the cluster; `_own_client` is one made here
        self.pool, self._own_client = open_pool(
            data,
            features,
            subgroups=subgroups,
            truth=truth,
            ids=ids,
            allow_nan=bool(allow_nan),
            client=client,
        )
        columns = list(self.pool.data.columns)
        self.config = SessionConfig(
            classes=check_classes(classes),
            subgroups=check_columns(subgroups, columns, "subgroups"),
            truth=(check_columns(truth, columns, "truth") or (None,))[0],
            annotator=check_text(annotator or login_name(), "annotator"),
            random_state=check_random_state(random_state),
            audit_share=check_share(audit_share, "audit_share"),
            overlap=check_count(overlap, "overlap", minimum=1),
            role=check_choice(role, "role", ROLES),
            training=check_choice(training, "training", TRAINING),
            claim_ttl=check_nonnegative(claim_ttl, "claim_ttl"),
        )
        self.model = check_model(model if model is not None else default_model(self.pool.kind))
        self.strategy = resolve_strategy(strategy)
        self.session_id = str(uuid.uuid4())
        self._index = self.pool.ids.rename(self.pool.ids.name or "item_id")
        self._subgroups = SubgroupIndex(self.pool.data)
        self._planner = QueuePlanner(
            self.pool,
            self.strategy,
            self.config.audit_share,
            self.config.random_state,
            explore=check_share(explore, "explore"),
        )
        truth_column = self.config.truth
        self._truth_codes = (
            None
            if truth_column is None
            else encode_truth(self.pool.data[truth_column], self.config.class_index)
        )
        self._lock = threading.Lock()  # guards the state below; never held while calling out
        self._ledger = Ledger(self.pool, self.config.annotator)
        self._focus: dict[str, str] | None = None
        self._focus_mask: np.ndarray | None = None
        self._routing_cut: np.ndarray | None = None
        self._memo: dict[str, Any] = {}
        self._observers = Observers()
        self.store = open_store(store, self.pool.fingerprint)
        self.store.bind(self.pool.fingerprint, [str(c) for c in self.classes], len(self.pool))
        self.progress = Progress(show=bool(progress))
        self.progress.listen(lambda state: self._notify("progress"))
        self._inputs = in_background(self._prepare_inputs)
        self._refits = Refits(
            self._model_input,
            self.strategy,
            self.config.class_index,
            self._truth_codes,
            self._training_set,
            self._notify,
            self._planner.prepare,
        )
        self._writer = Writer(
            pool=self.pool,
            config=self.config,
            store=self.store,
            ledger=self._ledger,
            state_lock=self._lock,
            planner=self._planner,
            serving=self._refits.serving,
            session_id=self.session_id,
            strategy_name=self.strategy.name,
        )
        self.sync()  # resume: replay the store, refit at once if it holds labels

    # ------------------------------------------------------------------ settings
    @property
    def classes(self) -> list[Hashable]:
        return list(self.config.classes)

    @property
    def subgroups(self) -> list[str]:
        return list(self.config.subgroups)

    @property
    def truth(self) -> str | None:
        return self.config.truth

    @property
    def annotator(self) -> str:
        return self.config.annotator

    @property
    def overlap(self) -> int:
        return self.config.overlap

    @property
    def role(self) -> str:
        return self.config.role

    @property
    def random_state(self) -> int | None:
        return self.config.random_state

    @property
    def data(self) -> pd.DataFrame:
        """The Session's own copy of the pool's DataFrame (read it, do not edit it)."""
        return self.pool.data

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> Snapshot:
        """One consistent, frozen view of the state: what analyses and widgets read.

        Waits while a large text pool is still being vectorized (analyses need features).
        """
        inputs = self._model_input()
        with self._lock:
            state = self._ledger.state
            return Snapshot(
                pool=self.pool,
                config=self.config,
                model=inputs.template,
                X=inputs.X,
                strategy_name=self.strategy.name,
                fit=self._refits.current,
                decided=self._ledger.decided.copy(),
                skipped=self._ledger.skipped_mask(),
                current=state.current(),
                opinions={key: state.opinions(key) for key in state.items_with_opinions()},
                log=tuple(state.log()),
                history=tuple(self._refits.history),
                truth_codes=self._truth_codes,
                focused=dict(self._focus) if self._focus else None,
                subgroup_index=self._subgroups,
                memo=self._memo,
            )

    @property
    def model_(self) -> Any:
        """The fitted clone of the user's model, or None before the first fit.

        For a text pipeline whose vectorizer was fitted once on the pool (see
        `core.features`), this is that vectorizer followed by the refit classifier.
        """
        fit = self._refits.current
        return self._model_input().whole(fit.model) if fit else None

    @property
    def model_version_(self) -> int:
        fit = self._refits.current
        return fit.version if fit else 0

    @property
    def history_(self) -> list[FitSummary]:
        """One summary per fit, oldest first (for the trend charts)."""
        return list(self._refits.history)

    @property
    def fit_traceback(self) -> str | None:
        return self._refits.traceback

    @property
    def store_path(self) -> str:
        return self.store.location

    @property
    def status(self) -> SessionStatus:
        refits = self._refits
        sample = refits.serving()[1]
        with self._lock:
            return SessionStatus(
                n_items=len(self.pool),
                n_labeled=int(self._ledger.decided.sum()),
                n_skipped=len(self._ledger.state.skipped(self.annotator)),
                fit_state=refits.state(),
                fit_error=refits.error,
                model_version=self.model_version_,
                store=self.store.location,
                durable=self.store.durable,
                warnings=dict(Counter(refits.warnings) + self._observers.errors()),
                progress=None if self.progress.state is None else str(self.progress.state),
                newest_model=sample.version if sample else self.model_version_,
                ranking=refits.ranking(),
            )

    @property
    def fit_state(self) -> str:
        return self.status.fit_state

    @property
    def fit_error(self) -> str | None:
        return self._refits.error

    @property
    def focused(self) -> dict[str, str] | None:
        focus = self._focus
        return dict(focus) if focus else None

    @property
    def labels(self) -> pd.DataFrame:
        """Current label per labeled item (latest surviving event), indexed by item id."""
        with self._lock:
            current = self._ledger.state.current()
        events = list(current.values())
        return pd.DataFrame(
            {
                "label": [self.config.class_of(e.label) for e in events],
                "annotator": [e.annotator for e in events],
                "labeled_at": pd.to_datetime([e.created_at for e in events], utc=True),
                "event_id": [e.event_id for e in events],
            },
            index=self._index[self.pool.positions(self.pool.codec.decode_all(current))],
        )

    @property
    def events(self) -> pd.DataFrame:
        """The whole append-only audit trail, as stored, in commit order."""
        return events_frame(self.store.read_events())

    @property
    def opinions(self) -> pd.DataFrame:
        """Every annotator's current label per item (one row per item and annotator)."""
        return self.snapshot().opinion_table

    def rows(self, item_ids: Sequence[Hashable]) -> pd.DataFrame:
        """The items as a person sees them; see `Pool.rows`."""
        return self.pool.rows(item_ids)

    def current_label_events(self) -> list[LabelEvent]:
        """The deciding event of every labeled item (in memory, no store read)."""
        with self._lock:
            return list(self._ledger.state.current().values())

    def event_log(self) -> list[LabelEvent]:
        """Every event this session knows, in commit order (in memory, no store read)."""
        with self._lock:
            return self._ledger.state.log()

    def is_labeled(self, item_id: Hashable) -> bool:
        return bool(self._ledger.decided[self.pool.position(item_id)])

    def suggestion_for(self, item_id: Hashable) -> tuple[Any, float | None, float | None]:
        """(suggested class, its confidence, query score) for one item; Nones before a fit."""
        fit, sample = self._refits.serving()
        view = item_view(fit, self.pool.position(item_id), self.classes, sample)
        suggestion = None if view.suggestion is None else self.config.class_of(view.suggestion)
        return suggestion, view.confidence, view.score

    def subgroup_labels(self, column: str) -> pd.Series:
        """The slice label of every pool row for one column (binned if numeric)."""
        return self._subgroups.labels(column)

    # ------------------------------------------------------------------ the queue
    def queue(self, k: int = 10) -> pd.DataFrame:
        """The next k items to label, best first.

        Columns: score (higher = more useful to ask), suggestion and confidence (the
        current model's guess; NaN/None before the first fit and for audit items, whose
        point is to check the model without anchoring anyone on it), reason, audit (a
        uniformly random item: see `audit_share`) and skipped (skipped items come after
        every unskipped one). A `focus` or a `route` restricts the queue. `attrs["plan"]`
        names this queue: labels taken from it in its order are its random draws (see
        `submit`).
        """
        frame, _ = self._plan(check_count(k, "k"))
        return frame

    def _plan(self, k: int) -> tuple[pd.DataFrame, Plan]:
        """The queue's next k rows, and the plan behind them (for `claim`)."""
        with self._lock:
            fit, sample = self._refits.serving()
            eligible = self._ledger.open_for_me(self.overlap)
            if self._focus_mask is not None:
                eligible &= self._focus_mask
            if self._routing_cut is not None and fit is not None:
                eligible &= fit.pool.confidence < self._routing_cut  # humans get the rest
            skipped = self._ledger.skipped_mask()
            routed = self._routing_cut is not None and fit is not None
            state = QueueState(
                fit,
                eligible,
                skipped,
                self._ledger.n_label_events,
                within=frame_text(self._focus, routed),
                sample=sample,
            )
        plan = self._planner.plan(state, k)
        return queue_frame(plan, fit, self.classes, skipped, self._index), plan

    def claim(self, k: int = 10) -> pd.DataFrame:
        """Like `queue`, but atomically reserve the items for this annotator.

        Two annotators are never handed the same item unless `overlap` asks for it; a
        claim expires after `claim_ttl` seconds and the item returns to the pool.
        """
        k = check_count(k, "k")
        self.sync()
        window = max(4 * k, k + 20)
        while True:
            ranked, plan = self._plan(window)
            keys = [self.pool.codec.encode(i) for i in ranked.index]
            won = set(
                self.store.claim(self.annotator, keys, k, self.overlap, self.config.claim_ttl)
            )
            if len(won) >= k or len(ranked) < window:  # filled, or nothing more to try
                mine = ranked[[key in won for key in keys]].copy()
                # her queue is the part she won, in its order: teammates' are not ahead
                mine.attrs["plan"] = self._planner.narrow(plan, self.pool.positions(mine.index))
                return mine
            window *= 4  # the best items are held by others: look further down

    def focus(self, where: dict[str, Any] | pd.Series | pd.DataFrame | None = None) -> None:
        """Restrict the queue to one slice, e.g. {"region": "north"}; None clears it.

        Values are subgroup labels as the charts show them (numeric columns are binned).
        A row of `find_slices` works too (its `where`). The queue's audit share then draws
        from inside the slice, and those audit labels (recorded as drawn from it) narrow
        the slice's interval in the next `find_slices`.
        """
        if isinstance(where, (pd.Series, pd.DataFrame)):
            where = where_of(where)
        mask = self._subgroups.mask(where) if where else None
        with self._lock:
            self._focus = {str(c): str(v) for c, v in where.items()} if where else None
            self._focus_mask = mask
        self._notify("focus")

    def route(
        self,
        threshold: float | None = None,
        *,
        max_error: float | None = None,
        delta: float = 0.1,
        by: str | None = None,
        escalate_below: float | None = None,
        per_class: dict[Any, float] | None = None,
        per_subgroup: dict[str, dict[str, float]] | None = None,
        impact: str | None = None,
        impact_limit: float | None = None,
        feed_queue: bool = True,
        export: str | os.PathLike | None = None,
    ) -> pd.DataFrame:
        """Route every item: auto-accept at or above `threshold`, people get the rest.

        Returns one row per item (route, label, provenance, suggestion, confidence,
        threshold); see `RoutingPolicy` and `analysis.routing.route`. With `feed_queue`
        the queue then holds only the items routed to people (re-evaluated after every
        refit); `clear_routing()` undoes that. `export` writes the table.

        Or give `max_error` instead of `threshold`: the lowest threshold (per subgroup of
        `by`) whose auto-accepted error is at most max_error with probability 1 - delta,
        from the labels at hand; `table.attrs["guarantee"]` holds the evidence (see
        `analysis.routing.guaranteed_thresholds`). With too few labels for any guarantee
        a ValueError says how many more audit labels it takes, and nothing is routed.
        """
        rules = RoutingPolicy(
            1.0 if threshold is None else threshold,
            escalate_below,
            per_class or {},
            per_subgroup or {},
            impact,
            impact_limit,
        )
        snap = self.snapshot()
        table, policy = route_pool(snap, rules, threshold, max_error, delta, by)
        if feed_queue:
            cut = policy.queue_cut(snap)
            with self._lock:
                self._routing_cut = cut
            self._notify("focus")
        if export is not None:
            write_table(table.reset_index(), export)
        return table

    def clear_routing(self) -> None:
        with self._lock:
            self._routing_cut = None
        self._notify("focus")

    def simulate(self, n: int, oracle: Any = None, **kwargs: Any) -> pd.DataFrame:
        """Label n items as a simulated annotator would; see `core.simulate`."""
        return simulate(self, check_count(n, "n"), oracle, **kwargs)

    # ------------------------------------------------------------------ writing
    def submit(
        self,
        item_id: Hashable,
        label: Hashable,
        *,
        suggestion_shown: bool = False,
        plan: int | None = None,
        time_spent_ms: float | None = None,
        event_id: str | None = None,
    ) -> LabelEvent:
        """Label one item. Returns once the event is durable in the store.

        A refit is requested afterwards and runs in the background. Relabeling an item
        appends a correction; the earlier event stays in the trail. `event_id` makes a
        retried submission idempotent. `suggestion_shown`: the model's suggestion was on
        screen (such a label is never an audit). `plan`: the `attrs["plan"]` of the
        `queue` or `claim` frame the item was taken from (default: the latest that
        offered it). The label is a random draw of that queue, with its selection
        probability, only if the items ahead of it there are done; an item taken while
        items ahead of it were open was picked by a person and only trains the model.
        """
        label = self.config.check_label(label)
        if time_spent_ms is not None:
            time_spent_ms = check_nonnegative(time_spent_ms, "time_spent_ms")
        event = self._writer.record(
            "label",
            item_id,
            label=str(label),
            suggestion_shown=bool(suggestion_shown),
            plan=None if plan is None else check_count(plan, "plan"),
            time_spent_ms=time_spent_ms,
            event_id=event_id,
        )
        self._committed(refit=True)
        return event

    def skip(self, item_id: Hashable, *, event_id: str | None = None) -> LabelEvent:
        """Put an item aside: it goes behind every unskipped item in the queue."""
        if self._ledger.mine[self.pool.position(item_id)]:
            raise ValueError(f"item {item_id!r} is already labeled; undo or relabel it instead")
        event = self._writer.record("skip", item_id, event_id=event_id)
        self._committed(refit=False)
        return event

    def undo(self, *, event_id: str | None = None) -> Hashable | None:
        """Cancel this annotator's latest label or skip; returns that item's id.

        The undo is itself an event (nothing is deleted). None when nothing is left.
        """
        item_id = self._writer.undo(event_id)
        if item_id is not None:
            self._committed(refit=True)
        return item_id

    def resolve(
        self, item_id: Hashable, label: Hashable, *, event_id: str | None = None
    ) -> LabelEvent:
        """A reviewer's final label for an item, recording the opinions it decided between."""
        if self.role != "reviewer":
            raise PermissionError(
                f"annotator {self.annotator!r} has role {self.role!r}: only a reviewer resolves"
            )
        label = str(self.config.check_label(label))
        basis = self._writer.basis(item_id)
        event = self._writer.record("resolve", item_id, label=label, basis=basis, event_id=event_id)
        self._committed(refit=True)
        return event

    def sync(self) -> int:
        """Read events other sessions committed to the store; returns how many were new.

        A team's sessions share one store: sync before ranking so nobody is asked an
        item the others have finished, and refit when their labels arrive.
        """
        new, trainable = self._writer.sync()
        if new and trainable:
            self._refits.request()
        return new

    def _committed(self, *, refit: bool) -> None:
        """After a commit, with no lock held: tell observers, ask for a refit."""
        self._notify("labels")
        if refit:
            self._refits.request()

    # ------------------------------------------------------------------ refits
    def _prepare_inputs(self) -> ModelInput:
        """Vectorize a text pool once (background thread); see `core.features`."""
        store_file = Path(self.store.location) if self.store.durable else None
        cache_dir = store_file.parent if store_file is not None and store_file.exists() else None
        return prepare(self.model, self.pool.X, cache_dir, self.pool.fingerprint, self.progress)

    def _model_input(self) -> ModelInput:
        """The vectorized pool and the estimator to refit; waits until they are ready."""
        return self._inputs.result()

    def _training_set(self) -> TrainingSet:
        """The labels to fit on, read in one moment (called by the refit worker)."""
        with self._lock:
            return self._ledger.training_set(self.classes, self.config.training, self.overlap)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every refit requested so far is done (scripts, tests, benchmarks)."""
        return self._refits.wait(timeout)

    # ------------------------------------------------------------------ observers
    def observe(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback(kind)` on "labels", "fit_started", "fit_done", "fit_failed",
        "focus" and "progress" (long work advanced: see `status.progress`).

        Callbacks run with no session lock held, on the thread that made the change
        (fit events: the refit worker); see `core.observers`. Returns a function that
        unsubscribes.
        """
        return self._observers.add(callback)

    def _notify(self, kind: str) -> None:
        self._observers.notify(kind)

    # ------------------------------------------------------------------ the rest
    def export(
        self, path: str | os.PathLike, what: str = "labels", *, csv_formulas: str = "escape"
    ) -> Path:
        """Write the current labels (or, with what="events", the audit trail).

        The format follows the suffix: .parquet, .csv or .jsonl. CSV quotes every field
        and neutralises cells a spreadsheet would run as formulas (prefix "'");
        `csv_formulas="keep"` writes them as they are. See `core.export`.
        """
        check_choice(what, "what", ("labels", "events"))
        table = self.labels.reset_index() if what == "labels" else self.events
        return write_table(table, path, csv_formulas)

    def close(self) -> None:
        """Stop the refit worker and close the store (and a Dask cluster it started)."""
        self._refits.stop()
        self.store.close()
        if self._own_client is not None:
            self._own_client.close()
            self._own_client = None

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
