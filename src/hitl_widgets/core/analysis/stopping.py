"""When to stop labeling: have the predictions settled, and what did the last labels buy?

Two signals, both functions of a Snapshot:

- Stabilizing predictions (Bloodgood and Vijay-Shanker 2009): models refitted on the
  first n - step, n - 2 step, ... labels predict a fixed random stop set of the pool
  (no labels needed); when successive models agree with Cohen's kappa of at least
  0.99 on average over the last `window` comparisons, further labels change few
  predictions.
- The accuracy gain of the current model over a model fitted on the first half of the
  labels, with its interval, estimated on the whole pool the way `estimates` does it:
  labeled items judged by cross-fitted models that did not see them, unlabeled items by
  the model's own probabilities corrected with the randomly drawn labels weighted by
  their selection probabilities. The pool stands for new data like it; the unlabeled
  part alone would hide the gain on the hard items labeling has already taken away.

The recommendation is "stop" when predictions are stable and the upper end of the gain
interval is at most `tolerance` (one accuracy point by default); "could stop" when they
are stable and the estimated gain is under `tolerance` but its interval is still wider
(telling the gain apart from one point takes many labels: the interval is honest about
that); "continue" otherwise, and "too early" before there is enough to compare.
Why the half: learning curves flatten (error ~ a n^-b + c), so the gain from n to 2n
labels is at most the gain from n/2 to n; a small bound on the last doubling bounds
what the next doubling buys. That is an assumption about the learning curve, stated in
the note, not a guarantee: a cluster the queue has not found yet can still make the
curve jump.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.metrics import cohen_kappa_score

from ..passes import pool_sum
from ..snapshot import Snapshot
from ..training import fit_estimator
from .estimates import (
    MIN_DRAWS,
    Labeled,
    cached_cross_fit,
    check_level,
    class_probabilities,
    cross_fit,
    draws,
    labeled_rows,
    ratio_interval,
    require_fit,
)

STABLE_KAPPA = 0.99  # Bloodgood and Vijay-Shanker's threshold
WINDOW = 3  # successive comparisons averaged
STEP = 10  # labels between compared models
STOP_SET = 2000  # items in the fixed random stop set
TOLERANCE = 0.01  # a gain bound below this (one accuracy point) can stop
FOLDS = 5  # cross-fitting folds of the gain: both models are refitted per fold


def stop_set(snap: Snapshot, size: int = STOP_SET) -> np.ndarray:
    """Pool rows of the stop set: seeded by the session's random_state, never changing."""
    rng = np.random.default_rng([snap.config.random_state or 0, 5107])
    n = len(snap.pool)
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def prefix_model(snap: Snapshot, rows: Labeled, n: int) -> Any:
    """The model refitted on the first n labels (None if they hold fewer than 2 classes)."""
    labels = rows.labels[:n]
    if len(np.unique(labels)) < 2:
        return None
    values = np.asarray(snap.classes, dtype=object)[labels]
    if all(isinstance(c, int) for c in snap.classes):
        values = values.astype(np.int64)
    return fit_estimator(snap.model, snap.X[rows.positions[:n]], values)


def stop_set_agreement(
    snap: Snapshot, window: int = WINDOW, step: int = STEP, size: int = STOP_SET
) -> pd.DataFrame:
    """Agreement of successive models on the stop set, newest comparison first.

    Columns: n_labels, previous_n_labels, agreement (share of identical predictions),
    kappa (Cohen's). The newest model is the one serving suggestions; the older ones are
    refits on the first n - step, n - 2 step, ... labels (in the order they came).
    """
    require_fit(snap)
    fit = snap.fit
    assert fit is not None
    rows = labeled_rows(snap)
    rows_out = []
    items = snap.X[stop_set(snap, size)]
    newer, newer_n = np.asarray(fit.model.predict(items)), len(rows)
    for j in range(1, window + 1):
        n = len(rows) - j * step
        model = prefix_model(snap, rows, n) if n > 0 else None
        if model is None:
            break
        older = np.asarray(model.predict(items))
        rows_out.append((newer_n, n, float(np.mean(older == newer)), _kappa(newer, older)))
        newer, newer_n = older, n
    return pd.DataFrame(rows_out, columns=["n_labels", "previous_n_labels", "agreement", "kappa"])


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa; 1 when both models predict one and the same class everywhere."""
    if np.array_equal(a, b):
        return 1.0
    return float(cohen_kappa_score(a, b))


def stopping(
    snap: Snapshot,
    window: int = WINDOW,
    step: int = STEP,
    tolerance: float = TOLERANCE,
    level: float = 0.95,
    folds: int = FOLDS,
) -> pd.DataFrame:
    """The stopping meter: one row with the evidence and a recommendation in words.

    Columns: n_labels, stop_set (items), kappa (mean over the window), kappa_min,
    agreement (mean share of identical predictions), stable (kappa >= 0.99), gain_from
    (labels of the earlier model), gain, gain_low, gain_high (accuracy gain on the pool
    and its `level` interval), n_draws (randomly drawn labels behind the interval),
    recommendation ("stop", "could stop", "continue" or "too early") and note.
    """
    level = check_level(level)
    require_fit(snap)
    key = ("stopping", snap.fit.version if snap.fit else 0, len(snap.log), window, step, level)
    cached = snap.memo.get("stopping")
    if cached is not None and cached[0] == key:
        return cached[1].copy()
    agreement = stop_set_agreement(snap, window, step)
    gain = accuracy_gain(snap, level, folds)
    frame = pd.DataFrame([_meter(snap, agreement, gain, window, tolerance)])
    snap.memo["stopping"] = (key, frame)
    return frame.copy()


def accuracy_gain(snap: Snapshot, level: float, folds: int = FOLDS) -> dict[str, float]:
    """Accuracy on the pool of the current model minus that of a model on half the labels.

    Labeled items count through cross-fitted predictions of both models (fold models
    fitted without the item: on all labels, and on the first half); the unlabeled part
    is the current model's probability that each model is right, corrected with the
    randomly drawn labels (`estimates.ratio_interval`, delta method on a difference).
    """
    fit = snap.fit
    assert fit is not None
    rows = labeled_rows(snap)
    half = (len(rows) + 1) // 2
    earlier = prefix_model(snap, rows, half)
    design = draws(snap, rows)
    empty = {"gain_from": float(half), "gain": np.nan, "gain_low": np.nan, "gain_high": np.nan}
    if earlier is None or len(design) < MIN_DRAWS:
        return empty | {"n_draws": float(len(design))}
    now = cached_cross_fit(snap, rows, folds)
    first = cross_fit(snap, rows, folds, trainable=np.arange(len(rows)) < half)
    said_now, said_then = now.argmax(axis=1), first.argmax(axis=1)
    taken = np.arange(len(rows))
    gained = (said_now == rows.labels).astype(float) - (said_then == rows.labels)
    believed = now[taken, said_now] - now[taken, said_then]
    model, n_classes, index = fit.model, len(snap.classes), snap.config.class_index

    def terms(X: Any, keep: np.ndarray, _: Any) -> np.ndarray:
        """Per chunk: the unlabeled rows' believed gain, and how many the models differ on."""
        X = X[keep]
        if X.shape[0] == 0:
            return np.zeros(2)
        current = class_probabilities(model, X, n_classes, index)
        then = np.array([index[c] for c in np.asarray(earlier.predict(X)).tolist()], dtype=np.intp)
        said = current.argmax(axis=1)
        rows = np.arange(len(then))
        believed = current[rows, said] - current[rows, then]
        return np.array([believed.sum(), np.count_nonzero(then != said)], dtype=float)

    # a pass over the unlabeled pool, chunk by chunk, on the workers for a Dask pool
    believed_unlabeled, disagreeing = pool_sum(snap.X, terms, np.flatnonzero(snap.decided))
    interval = ratio_interval(
        design,
        (float(gained.sum() + believed_unlabeled), gained - believed),
        (float(len(snap.pool)), np.zeros(len(rows))),
        level,
        proportion=False,
    )
    # The two models differ only where they disagree. That share of the pool (d, known
    # exactly) bounds the gain on the unlabeled part, and the draws that landed there are
    # the only evidence of who is right in it. Few of them make the correction's
    # estimated variance unreliable (often exactly 0: every drawn residual is 0 where the
    # models agree), so the interval is widened to at least d * z / sqrt(k + z^2), with k
    # the draws in the disagreement region: +-d with none, narrowing as they come.
    disagree = float(disagreeing) / len(snap.pool)
    in_region = said_now[design.rows] != said_then[design.rows]
    k = float(np.count_nonzero(in_region))
    z = float(norm.ppf(0.5 + level / 2))
    floor = disagree * z / np.sqrt(k + z * z)
    return {
        "gain_from": float(half),
        "gain": interval.estimate,
        "gain_low": min(interval.low, interval.estimate - floor),
        "gain_high": max(interval.high, interval.estimate + floor),
        "n_draws": float(len(design)),
    }


def _meter(
    snap: Snapshot,
    agreement: pd.DataFrame,
    gain: dict[str, float],
    window: int,
    tolerance: float,
) -> dict[str, object]:
    """The meter's row: evidence, recommendation and the words for it."""
    n = snap.n_labeled
    full = len(agreement) == window
    kappa = float(agreement["kappa"].mean()) if full else np.nan
    stable = bool(full and kappa >= STABLE_KAPPA)
    row: dict[str, object] = {
        "n_labels": n,
        "stop_set": min(STOP_SET, len(snap.pool)),
        "kappa": kappa,
        "kappa_min": float(agreement["kappa"].min()) if full else np.nan,
        "agreement": float(agreement["agreement"].mean()) if full else np.nan,
        "stable": stable,
        **gain,
    }
    if not full or np.isnan(gain["gain"]):
        row["recommendation"] = "too early"
        row["note"] = (
            f"too early to tell after {n} labels: the meter needs {window} earlier models "
            f"to compare and {MIN_DRAWS} randomly drawn labels (has {int(gain['n_draws'])})"
        )
        return row
    words = (
        f"the last {window} models agree on {row['agreement']:.1%} of a fixed stop set "
        f"of {row['stop_set']} items (mean kappa {kappa:.3f}); labels {int(gain['gain_from'])} "
        f"to {n} changed pool accuracy by {gain['gain']:+.1%} "
        f"(interval {gain['gain_low']:+.1%} to {gain['gain_high']:+.1%})"
    )
    if stable and gain["gain_high"] <= tolerance:
        row["recommendation"] = "stop"
        row["note"] = (
            f"stop: {words}. Learning curves flatten, so doubling the labels should buy less "
            f"than {tolerance:.0%} more (an assumption: a part of the pool the queue has "
            "not explored can still surprise)"
        )
    elif stable and gain["gain"] <= tolerance:
        row["recommendation"] = "could stop"
        row["note"] = (
            f"could stop: {words}. The estimated gain is under {tolerance:.0%} but its "
            f"interval reaches {gain['gain_high']:+.1%}: stop if that risk is acceptable, "
            "or label on to narrow it"
        )
    else:
        why = "predictions still change" if not stable else "the last labels still helped"
        row["recommendation"] = "continue"
        row["note"] = f"continue: {why}; {words}"
    return row
