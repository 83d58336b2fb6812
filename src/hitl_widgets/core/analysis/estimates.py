"""How accurate the model serving suggestions now is on the items nobody has labeled yet.

The estimand: the share of the currently unlabeled items on which the current model's
suggestion is right (or its error rate, or its recall of one class there), for the
model in the snapshot. Three sources are combined, each only where it is unbiased:

1. The model's own confidence over every unlabeled item: the prediction-powered guess
   (Angelopoulos et al. 2023, "Prediction-powered inference"). It is exact arithmetic
   over the pool, right only if the model is calibrated, so it is then corrected.
2. The correction (value minus guess) measured on labeled items. The current model was
   trained on every label, audit labels included, so on labeled items it looks better
   than it is; each labeled item is therefore scored by a model fitted without it
   (K-fold cross-fitting, Chernozhukov et al. 2018), nearly the current one (it lacks
   1/K of the labels). The folds are contiguous blocks in labeling order: the labels
   asked right after an item depend on its label (the refit moves the queue), so they
   must not judge it. Later labels still depend on it a little; with few labels in many
   dimensions this leaks, and the estimate runs high by up to 2-3 accuracy points (see
   benchmarks/bench_estimates.py). Audit labels held out of training would remove that
   leak at the price of training on fewer labels; the training set is the ledger's.
3. Which labeled items may stand for the unlabeled ones: every label the queue drew
   at random, weighted by its recorded selection probability (`LabelEvent.
   selection_probability`: the audit share is uniform, so each probability is at least
   audit_share / unlabeled). With pi_t the probability of the item drawn at label t and
   A_t the items labeled since t (that one included), d(i_t) / pi_t - sum_{A_t} d is an
   unbiased estimate of the correction summed over the items unlabeled now: given the
   past, d(i_t) / pi_t has mean sum_{U_{t-1}} d, and U_{t-1} is exactly "unlabeled now"
   plus A_t (Horvitz-Thompson over a sequential design; the "active inference" of
   Zrnic and Candès 2024, and LURE-style weighting, Farquhar et al. 2021, Kossen et al.
   2021). These differences form a martingale, so their weighted mean (weights fixed
   before each draw: inverse to the slot's design effect) is unbiased and asymptotically
   normal; its variance is estimated from the spread of the per-label terms.

The interval (`ratio_interval`) is the union of that Wald interval and a Wilson interval
at the design's effective sample size (Korn and Graubard 1998): with rare errors the
estimate is skewed (the confidently wrong items are seldom drawn), which a Wald interval
alone misses; at an accuracy of 1 the estimate keeps the proxy's noise, which a binomial
interval alone misses.

Deterministic top-k picks are usable too: the seeded slot pattern makes each slot an
audit with probability audit_share, so the best item's probability is
audit_share / n + (1 - audit_share). With `Session(explore=...)` part of the slots are
drawn in proportion to the square root of the uncertainty (the variance-optimal design
of Zrnic and Candès for a residual variance proportional to the score), which puts the
labels where the residuals are large and narrows the interval.

Not unbiased, and said so in the note: labels given while a suggestion was shown may be
anchored by it; items the queue could not reach (a focus, a routing cut, skips) widen
the interval by the most they could change the total; labels with no recorded
probability (labeled outside the queue, by id) only train the model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from ..passes import pool_sum
from ..queue import SlotPolicy
from ..snapshot import Snapshot
from ..training import fit_estimator
from .intervals import wilson_interval

METRICS = ("accuracy", "error_rate", "recall")
FOLDS = 10  # cross-fitting folds: each fold model lacks a tenth of the labels
MIN_DRAWS = 10  # fewer randomly drawn labels in a target: no number, a note says why
# draws worth less than this share of their number as uniform labels: mostly top-k picks
# (explore=0 gives about the audit share, 0.1; explore=0.5 about 0.3-0.5)
TOP_PICKS_WORTH = 0.2
COLUMNS = [
    "metric",
    "estimate",
    "unclipped",
    "low",
    "high",
    "level",
    "n_labels",
    "n_eff",
    "n_items",
    "model_version",
    "method",
    "note",
]


# ---------------------------------------------------------------------- checks
def check_level(level: Any) -> float:
    """A confidence level strictly between 0 and 1, or a ValueError that says so."""
    if isinstance(level, bool) or not isinstance(level, Real) or not 0 < float(level) < 1:
        raise ValueError(
            f"level must be a number strictly between 0 and 1 (e.g. 0.95), got {level!r}"
        )
    return float(level)


def check_by(snap: Snapshot, by: str | None) -> None:
    if by is not None and by not in snap.data.columns:
        raise ValueError(
            f"by={by!r} is not a column of the pool; columns: {list(snap.data.columns)}"
        )


def require_fit(snap: Snapshot) -> None:
    """A ValueError that says why there is no model to estimate yet."""
    if snap.fit is not None:
        return
    labels = {e.label for e in snap.current.values()}
    if not labels:
        raise ValueError("no labels yet: label items of at least two classes first")
    if len(labels) == 1:
        raise ValueError(
            f"only one class labeled so far ({labels.pop()!r}): a model needs labels of two "
            "classes before its accuracy can be estimated"
        )
    raise ValueError("the first model is still being fitted: call session.wait() and retry")


# ---------------------------------------------------------------------- labeled rows
@dataclass(frozen=True)
class Labeled:
    """The decided items, in the order they were first labeled."""

    keys: tuple[str, ...]  # stored item ids
    positions: np.ndarray  # pool rows
    labels: np.ndarray  # class index of the current label
    row_of: dict[str, int]  # stored id -> row here

    def __len__(self) -> int:
        return len(self.keys)


def labeled_rows(snap: Snapshot) -> Labeled:
    """Decided items ordered by their first label event (the order a learning curve uses)."""
    first: dict[str, int] = {}
    for time, event in enumerate(snap.log):
        if event.action in ("label", "resolve") and event.item_id in snap.current:
            first.setdefault(event.item_id, time)
    keys = tuple(sorted(snap.current, key=lambda key: first.get(key, len(snap.log))))
    index = snap.config.class_index
    labels = np.array(
        [index[snap.config.class_of(snap.current[key].label)] for key in keys], dtype=np.intp
    )
    return Labeled(keys, snap.positions(list(keys)), labels, {k: i for i, k in enumerate(keys)})


# ---------------------------------------------------------------------- cross-fitting
def class_probabilities(model: Any, X: Any, n_classes: int, class_index: dict) -> np.ndarray:
    """predict_proba in the session's class order (zeros for classes the model lacks)."""
    out = np.zeros((X.shape[0] if hasattr(X, "shape") else len(X), n_classes))
    if out.shape[0]:
        columns = [class_index[c] for c in model.classes_]
        out[:, columns] = model.predict_proba(X)
    return out


def fold_of(n: int, folds: int) -> np.ndarray:
    """Folds of the labeled rows as contiguous blocks in labeling order.

    Blocked, not shuffled (blocked cross-validation for serially dependent data): the
    labels asked right after an item depend on its label (the refit moves the queue
    towards it), so they share its fold and never judge it.
    """
    return np.arange(n) * max(1, min(folds, n)) // max(n, 1)


def cross_fit(
    snap: Snapshot, rows: Labeled, folds: int = FOLDS, trainable: np.ndarray | None = None
) -> np.ndarray:
    """Class probabilities of every labeled row from a model fitted without its fold.

    `trainable` (bool per row) limits what the fold models learn from: the stopping
    meter uses it to refit an earlier model (only the first labels) the same way.
    """
    n_classes = len(snap.classes)
    proba = np.zeros((len(rows), n_classes))
    fold = fold_of(len(rows), folds)
    allowed = np.ones(len(rows), dtype=bool) if trainable is None else trainable
    values = np.asarray(snap.classes, dtype=object)
    integers = all(isinstance(c, int) for c in snap.classes)
    for k in np.unique(fold):
        train = allowed & (fold != k)
        held = np.flatnonzero(fold == k)
        y = values[rows.labels[train]]
        if len(set(y.tolist())) < 2:  # one class to learn from: the model can only say it
            proba[np.ix_(held, np.unique(rows.labels[train]))] = 1.0
            continue
        model = fit_estimator(
            snap.model, snap.X[rows.positions[train]], y.astype(np.int64) if integers else y
        )
        X = snap.X[rows.positions[held]]
        proba[held] = class_probabilities(model, X, n_classes, snap.config.class_index)
    return proba


def cached_cross_fit(snap: Snapshot, rows: Labeled, folds: int) -> np.ndarray:
    """`cross_fit` of the current labels, kept in the session's memo until an event."""
    slot = f"estimates.cross_fit.{folds}"
    key = (snap.fit.version if snap.fit else 0, len(snap.log))
    cached = snap.memo.get(slot)
    if cached is None or cached[0] != key:
        cached = (key, cross_fit(snap, rows, folds))
        snap.memo[slot] = cached
    return cached[1]


# ---------------------------------------------------------------------- the design
@dataclass(frozen=True)
class Design:
    """The labels that were random draws from the unlabeled items, and how likely each was.

    rows: the labeled row each draw picked; probability: its selection probability;
    weight: the fixed weight of each draw in the mean, 1 / (unlabeled^2 * deff), known
    before the draw: inverse to its variance when the residuals are alike everywhere
    (Kish's design effect of the slot, recorded in its policy); unreachable:
    unlabeled items the draw could not pick, plus items labeled then and unlabeled now.
    `changes` replays when each item decided now became decided (+1) or undecided (-1).
    """

    rows: np.ndarray
    probability: np.ndarray
    weight: np.ndarray
    deff: np.ndarray  # per draw: the design effect of its slot
    unreachable: np.ndarray
    times: np.ndarray
    changes: tuple[np.ndarray, np.ndarray, np.ndarray]  # time, row, sign
    n_unusable: int  # first labels with no usable probability
    whole: np.ndarray  # per draw: its support was every unlabeled item (no focus, no cut)
    audit: np.ndarray  # per draw: it answered an audit (a uniform draw, suggestion hidden)
    uniform: np.ndarray  # per draw: its slot drew uniformly, no suggestion on screen

    def __len__(self) -> int:
        return len(self.rows)

    def uniform_equivalent(self, among: np.ndarray | None = None) -> float:
        """How many uniformly random labels the draws (those `among`, a bool per draw)
        are worth (Kish): the sum of 1 / deff."""
        deff = self.deff if among is None else self.deff[among]
        return float(np.sum(1.0 / deff))

    def uniform_subset(self) -> np.ndarray:
        """Which draws are uniform draws of every unlabeled item, with labels unanchored
        by a suggestion (bool per draw): the audits, scheduled or kept from exploration
        (`queue.SlotDraws.kept_as_audit`), and the cold start's random order, where the
        support was not narrowed."""
        return (self.audit | self.uniform) & self.whole

    def corrections(self, residual: np.ndarray) -> np.ndarray:
        """Per draw, an unbiased estimate of sum(residual) over the items unlabeled now.

        residual: (labeled rows, targets). Term t: residual(i_t) / pi_t minus the
        residual summed over the items labeled since just before draw t.
        """
        time, row, sign = self.changes
        steps = sign[:, None] * residual[row]
        decided_by = np.vstack([np.zeros(residual.shape[1]), np.cumsum(steps, axis=0)])
        before = np.searchsorted(time, self.times, side="left")
        labeled_since = residual.sum(axis=0) - decided_by[before]
        return residual[self.rows] / self.probability[:, None] - labeled_since


def draws(snap: Snapshot, rows: Labeled) -> Design:
    """Replay the log: which first labels were draws with a usable probability."""
    n_pool = len(snap.pool)
    undone = {e.target_event_id for e in snap.log if e.action == "undo"}
    by_id = {e.event_id: e for e in snap.log}
    surviving: dict[str, int] = {}
    decided = decided_now = 0
    found: list[tuple] = []  # per draw: the fields of `Design`, in `_design`'s order
    changes: list[tuple[int, int, int]] = []
    weights: list[float] = []
    unusable = 0
    for time, event in enumerate(snap.log):
        target = by_id.get(event.target_event_id or "") if event.action == "undo" else event
        if target is None or target.action not in ("label", "resolve"):
            continue
        key, row = target.item_id, rows.row_of.get(target.item_id)
        was = surviving.get(key, 0)
        now = was + (1 if event.action != "undo" else -1)
        surviving[key] = now
        if event.action == "label" and was == 0:
            usable = _usable(event, n_pool - decided, row, event.event_id in undone)
            if usable is None or row is None:
                unusable += 1
            else:
                probability, deff, short, uniform = usable
                # unreachable: not in the draw's support, or labeled then and unlabeled now
                unreachable = short + decided - decided_now
                found.append(
                    (
                        *(time, row, probability, deff, unreachable, short == 0),
                        *(bool(event.audit), uniform and not event.suggestion_shown),
                    )
                )
                weights.append(1.0 / ((n_pool - decided) ** 2 * deff))
        if (was == 0) != (now == 0):
            sign = 1 if now > 0 else -1
            decided += sign
            if row is not None:
                decided_now += sign
                changes.append((time, row, sign))
    return _design(found, weights, changes, unusable)


def _usable(
    event: Any, unlabeled: int, row: int | None, undone: bool
) -> tuple[float, float, int, bool] | None:
    """(probability, design effect, unreachable items, whether the slot drew uniformly)
    of a first label, or None."""
    policy = SlotPolicy.parse(event.query_policy)
    probability = event.selection_probability
    if row is None or undone or policy is None or probability is None:
        return None
    if policy.floor <= 0 or not np.isfinite(policy.deff):
        return None
    if not 0 < probability <= 1 or policy.support > unlabeled:
        return None  # drawn among items some of which were labeled already: not a draw of U
    uniform = policy.floor >= 1 - 1e-9  # every item of the support equally likely
    return float(probability), policy.deff, unlabeled - policy.support, uniform


def _design(
    found: list[tuple],
    weights: list[float],
    changes: list[tuple[int, int, int]],
    unusable: int,
) -> Design:
    table = np.array(found, dtype=float).reshape(-1, 8)
    weight = np.asarray(weights, dtype=float)
    change = np.array(changes, dtype=np.int64).reshape(-1, 3)
    return Design(
        rows=table[:, 1].astype(np.intp),
        probability=table[:, 2],
        weight=weight / weight.sum() if len(weight) else weight,
        deff=table[:, 3],
        unreachable=table[:, 4],
        times=table[:, 0].astype(np.int64),
        changes=(change[:, 0], change[:, 1], change[:, 2]),
        n_unusable=unusable,
        whole=table[:, 5].astype(bool),
        audit=table[:, 6].astype(bool),
        uniform=table[:, 7].astype(bool),
    )


# ---------------------------------------------------------------------- one ratio
@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    se: float
    slack: float  # the widening for unreachable items (already in low and high)
    n_eff: float  # uniformly random labels an interval this wide would take
    # the ratio before `estimate` is clipped to its range: the unbiased one. Near 1 (or
    # 0) clipping pulls the estimate towards the middle (by 0.8 points with a true 0.997
    # at 40 labels on wine); it never reports an accuracy that cannot be
    unclipped: float = np.nan


def ratio_interval(
    design: Design,
    numerator: tuple[float, np.ndarray],
    denominator: tuple[float, np.ndarray],
    level: float,
    proportion: bool = True,
    in_target: np.ndarray | None = None,
) -> Interval:
    """Estimate and interval of (sum of a value over U) / (sum of another over U).

    Each total = the model's guess summed over U (exact arithmetic) + the design-weighted
    correction; the ratio's standard error comes from the delta method on the per-draw
    terms (a martingale, so their weighted spread estimates its variance; Student t with
    Kish's effective number of draws). For a proportion the interval is the union of
    that Wald interval and a Wilson interval at the design's effective sample size
    (Korn and Graubard 1998): the set of accuracies a0 with (estimate - a0)^2 <=
    t^2 max(variance, a0 (1 - a0) / n_eff). The Wilson part keeps the interval honest
    when the errors are rare and have not been drawn yet (the estimate then sits near 1
    with a small spread: a Wald interval alone covers too seldom); the Wald part keeps
    it honest when the model is right everywhere (the estimate keeps the proxy's noise
    even there, which a binomial variance would ignore). Differences use the Wald part.
    Where the estimate sits at 0 or 1 there is no spread to match a binomial to, and the
    Wilson part counts what the draws in the target (`in_target`, a bool per draw; all
    by default) are worth as uniformly random labels: a subgroup's, not the pool's.

    Why not narrower: near an accuracy of 1 the union covers more than asked (99-100%
    on the easy benchmark sets), but every narrower rule measured on the benchmark's
    sessions (200 per set, explore 0.5, before `queue.EXPLORE_FLOOR` existed) fails
    elsewhere. Wald alone: 87-88% on digits, 82% per subgroup on breast cancer (the
    Studentized error is right-skewed: sessions that have not drawn the errors get both
    a high estimate and a small spread).
    Cornish-Fisher skewness correction: 89.5-90% on digits. Fold-clustered variance: 88%
    on digits, 86% per subgroup. 40 folds instead of 10: no change. Bootstrap-t and
    percentile bootstraps of the draws: 75-96% (the tail they miss is the draws not
    made). A score interval with the variance a calibrated model implies at each
    accuracy: 94-96% on breast cancer, but 0.23-0.26 wide where the union is 0.14-0.18.
    """
    (guess_n, residual_n), (guess_d, residual_d) = numerator, denominator
    w = design.weight
    terms_n = design.corrections(residual_n[:, None])[:, 0]
    terms_d = design.corrections(residual_d[:, None])[:, 0]
    total_n, total_d = guess_n + w @ terms_n, guess_d + w @ terms_d
    if total_d <= 0:
        return Interval(np.nan, np.nan, np.nan, np.nan, np.nan, np.nan)
    raw = total_n / total_d
    linear = terms_n - raw * terms_d
    kish = 1.0 / float(w @ w)  # effective number of draws under these weights
    variance = kish / max(kish - 1, 1) * float(w**2 @ (linear - w @ linear) ** 2) / total_d**2
    reach = float(w @ design.unreachable)
    slack = (reach + abs(raw) * reach * bool(residual_d.any())) / total_d
    # Student t on the effective number of draws in the target: a subgroup's spread is
    # estimated from its own draws (the others add exact zeros to its residual)
    inside = w if in_target is None else w[in_target]
    drawn = float(inside.sum() ** 2 / (inside @ inside)) if inside.any() else 1.0
    t = float(student_t.ppf(0.5 + level / 2, max(drawn - 1, 1)))
    if not proportion:
        value = float(np.clip(raw, -1, 1))
        half = t * np.sqrt(variance) + slack
        return Interval(
            value, max(-1, value - half), min(1, value + half), variance**0.5, slack, np.nan, raw
        )
    value = float(np.clip(raw, 0, 1))
    n_eff = design.uniform_equivalent(in_target)  # worth of the draws, no spread to go by
    if 0 < value < 1 and variance > 0:
        n_eff = value * (1 - value) / variance
    wilson_low, wilson_high = wilson_interval(value * n_eff, n_eff, level)
    half = t * np.sqrt(variance)
    low = max(0.0, min(float(wilson_low), value - half) - slack)
    high = min(1.0, max(float(wilson_high), value + half) + slack)
    return Interval(value, low, high, float(np.sqrt(variance)), slack, n_eff, raw)


# ---------------------------------------------------------------------- the estimate
def estimate(
    snap: Snapshot,
    metric: str = "accuracy",
    by: str | None = None,
    level: float = 0.95,
    folds: int = FOLDS,
) -> pd.DataFrame:
    """The current model's accuracy (or error rate, or recall per class) on the unlabeled items.

    One row overall, or one per subgroup of `by` (and per class for "recall").
    Columns: [subgroup,] [class,] metric, estimate (clipped to the metric's range),
    unclipped (the same ratio before clipping: the unbiased one; near 0 or 1 the
    clipped estimate is pulled a little towards the middle), low, high (a `level`
    interval), level, n_labels (randomly drawn labels in the target that enter the correction),
    n_eff (how many uniformly random labels an interval this narrow would take),
    n_items (unlabeled items the estimate is about), model_version, method, note
    (plain words: what, on what, and what was left out). A target with fewer than
    MIN_DRAWS drawn labels gets NaN and a note saying how many more it needs.
    """
    level = check_level(level)
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    check_by(snap, by)
    require_fit(snap)
    rows = labeled_rows(snap)
    proba = cached_cross_fit(snap, rows, folds)
    design = draws(snap, rows)
    groups = _groups(snap, by)
    if metric == "recall":
        frame = _recall_rows(snap, rows, proba, design, groups, level)
    else:
        frame = _accuracy_rows(snap, rows, proba, design, groups, level, metric)
    frame.insert(0, "metric", metric)
    frame["level"] = level
    frame["model_version"] = snap.fit.version if snap.fit else 0
    frame["method"] = f"prediction-powered, selection-probability weighted, {folds}-fold cross-fit"
    extra = [c for c in ("subgroup", "class") if c in frame.columns]
    if by is None:
        extra = [c for c in extra if c != "subgroup"]
        frame = frame.drop(columns="subgroup")
    return frame[extra + COLUMNS].reset_index(drop=True)


def _groups(snap: Snapshot, by: str | None) -> list[tuple[str | None, np.ndarray]]:
    if by is None:
        return [(None, np.ones(len(snap.pool), dtype=bool))]
    codes, names = snap.subgroup_codes(by)  # names sorted; no string per row
    present = np.flatnonzero(np.bincount(codes, minlength=len(names)))
    return [(str(names[g]), codes == g) for g in present]


def _accuracy_rows(
    snap: Snapshot,
    rows: Labeled,
    proba: np.ndarray,
    design: Design,
    groups: list[tuple[str | None, np.ndarray]],
    level: float,
    metric: str,
) -> pd.DataFrame:
    fit = snap.fit
    assert fit is not None
    unlabeled = ~snap.decided
    prediction = proba.argmax(axis=1)
    residual = (prediction == rows.labels) - proba.max(axis=1)
    out = []
    for name, members in groups:
        member = members[rows.positions]
        target = unlabeled & members
        guess = float(fit.pool.confidence[target].sum())
        in_target = member[design.rows]
        out.append(
            {"subgroup": name}
            | _row(
                design,
                (guess, residual * member),
                (float(target.sum()), np.zeros(len(rows))),
                in_target,
                int(target.sum()),
                level,
                metric,
            )
        )
    return pd.DataFrame(out)


def _recall_rows(
    snap: Snapshot,
    rows: Labeled,
    proba: np.ndarray,
    design: Design,
    groups: list[tuple[str | None, np.ndarray]],
    level: float,
) -> pd.DataFrame:
    fit = snap.fit
    assert fit is not None
    unlabeled = ~snap.decided
    sums = _recall_sums(snap, fit.model, groups)  # (group, class, [hits guessed, members])
    prediction = proba.argmax(axis=1)
    out = []
    for g, (name, members) in enumerate(groups):
        member = members[rows.positions]
        n_target = int(np.count_nonzero(members & unlabeled))
        for c, value in enumerate(snap.classes):
            is_c, said_c = rows.labels == c, prediction == c
            numerator = (
                float(sums[g, c, 0]),
                ((is_c & said_c) - proba[:, c] * said_c) * member,
            )
            denominator = (float(sums[g, c, 1]), (is_c - proba[:, c]) * member)
            in_target = (member & is_c)[design.rows]
            what = f"recall of class {value!r}"
            row = _row(design, numerator, denominator, in_target, n_target, level, what)
            out.append({"subgroup": name, "class": value} | row)
    return pd.DataFrame(out)


def _recall_sums(
    snap: Snapshot, model: Any, groups: list[tuple[str | None, np.ndarray]]
) -> np.ndarray:
    """Over the unlabeled items of each group and for each class c: the model's
    probability of c where it suggests c, and its probability of c; one pass over the
    pool, chunk by chunk (on the workers for a Dask pool)."""
    n_groups, n_classes, index = len(groups), len(snap.classes), snap.config.class_index
    codes = None
    if n_groups > 1:
        codes = np.zeros(len(snap.pool), dtype=np.int32)
        for g, (_, members) in enumerate(groups):
            codes[members] = g

    def terms(X: Any, keep: np.ndarray, group: np.ndarray | None) -> np.ndarray:
        out = np.zeros((n_groups, n_classes, 2))
        X = X[keep]
        if X.shape[0] == 0:
            return out
        current = class_probabilities(model, X, n_classes, index)
        said = current.argmax(axis=1)
        where = np.zeros(X.shape[0], dtype=np.intp) if group is None else group[keep]
        for c in range(n_classes):
            guessed = current[:, c] * (said == c)
            out[:, c, 0] = np.bincount(where, weights=guessed, minlength=n_groups)
            out[:, c, 1] = np.bincount(where, weights=current[:, c], minlength=n_groups)
        return out

    return pool_sum(snap.X, terms, np.flatnonzero(snap.decided), codes)


def _row(
    design: Design,
    numerator: tuple[float, np.ndarray],
    denominator: tuple[float, np.ndarray],
    in_target: np.ndarray,
    n_items: int,
    level: float,
    what: str,
) -> dict[str, Any]:
    """One output row: the interval, or NaN and why not. in_target: per draw, is it an
    item of the target (its subgroup, its class for a recall)."""
    drawn = int(np.count_nonzero(in_target))
    empty = {"estimate": np.nan, "unclipped": np.nan, "low": np.nan, "high": np.nan}
    empty["n_eff"] = np.nan
    base = {"n_labels": drawn, "n_items": n_items}
    if n_items == 0:
        return empty | base | {"note": "no unlabeled items here: nothing left to estimate"}
    if drawn < MIN_DRAWS:
        return (
            empty
            | base
            | {
                "note": f"not enough labels to estimate this yet: {drawn} randomly drawn "
                f"label(s) here, at least {MIN_DRAWS} needed ({MIN_DRAWS - drawn} more "
                "randomly drawn labels in this group)"
            }
        )
    interval = ratio_interval(design, numerator, denominator, level, in_target=in_target)
    if not np.isfinite(interval.estimate):
        return empty | base | {"note": "no item of this class expected among the unlabeled"}
    if what == "error_rate":  # the same interval, seen from the other side
        interval = replace(
            interval,
            estimate=1 - interval.estimate,
            low=1 - interval.high,
            high=1 - interval.low,
            unclipped=1 - interval.unclipped,
        )
    return {
        "estimate": interval.estimate,
        "unclipped": interval.unclipped,
        "low": interval.low,
        "high": interval.high,
        "n_eff": interval.n_eff,
        **base,
        "note": _note(what, interval, in_target, n_items, level, design),
    }


def _note(
    what: str,
    interval: Interval,
    in_target: np.ndarray,
    n_items: int,
    level: float,
    design: Design,
) -> str:
    drawn = int(np.count_nonzero(in_target))
    text = (
        f"{what.replace('_', ' ')} of the current model on the {n_items} unlabeled items: "
        f"{interval.estimate:.3f} ({level:.0%} interval {interval.low:.3f} to "
        f"{interval.high:.3f}); its confidence on those items, corrected by {drawn} labels "
        "weighed by how likely the queue was to ask them, each checked by a model fitted "
        "without it"
    )
    if design.n_unusable:
        text += (
            f"; {design.n_unusable} label(s) had no usable selection probability (given "
            "outside the queue, out of its order or from a narrowed queue) and only train "
            "the model"
        )
    if interval.slack > 0:
        text += (
            f"; widened by {interval.slack:.3f} on each side for items the queue could not "
            "reach (focus, routing or skips)"
        )
    worth = design.uniform_equivalent(in_target)
    if worth < TOP_PICKS_WORTH * drawn:
        text += (
            f". Most of those labels were the queue's top picks, which say little about "
            f"the other items: they are worth about {worth:.0f} uniformly random labels, "
            "and with so few the interval can be too narrow, per subgroup most of all. "
            "Session(explore=0.5) draws part of the queue at random and fixes that at a "
            "small cost in label efficiency"
        )
    return text
