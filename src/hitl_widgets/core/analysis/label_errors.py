"""Which labels are probably wrong: confident learning on out-of-sample probabilities.

People mislabel a few percent of items (a slip of the key, an ambiguous guideline), and a
model trained on those labels learns the slips. Confident learning (Northcutt, Jiang and
Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021) finds
them without any clean reference set:

1. Out-of-sample predicted probabilities from cross-validation (a model must not grade the
   labels it was trained on: it would have memorised the slips).
2. Per-class thresholds t_j = mean predicted probability of class j over the items labeled
   j: how confident the model typically is when the label is right, so one threshold does
   not fit every class however badly calibrated the model is.
3. The confident joint C[i, j]: items labeled i whose probability of j reaches t_j (the
   largest such j if several), calibrated so each row sums to the count of label i.
4. Prune by noise rate: for each given label i and each j != i, flag the C[i, j] items
   labeled i with the largest margin p_j - p_i. Items the model itself predicts as their
   given label are never flagged.

This mirrors `cleanlab.filter.find_label_issues(..., filter_by="prune_by_noise_rate")`
(the tests compare the two on identical probabilities), without depending on cleanlab.
Flagged items are candidates for a second look, ranked so the likeliest come first; the
model can be wrong, a human decides.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from ..snapshot import Snapshot

MIN_FOLDS = 2
THRESHOLD_TOLERANCE = 1e-6  # a probability this close below a threshold still counts
THRESHOLD_FLOOR = 2e-6  # thresholds are never below this (a class that is never predicted)
ABSENT_THRESHOLD = 2.0  # a class nobody labeled: no item can be confidently counted into it


def _encode(labels: Sequence | np.ndarray | pd.Series, classes: Sequence) -> np.ndarray:
    """Index of each label in `classes`; unknown labels are an error that names them."""
    index = {c: i for i, c in enumerate(classes)}
    if len(index) != len(classes):
        raise ValueError(f"classes must be distinct, got {list(classes)!r}")
    values = list(labels.tolist() if hasattr(labels, "tolist") else labels)
    unknown = sorted({repr(v) for v in values if v not in index})
    if unknown:
        raise ValueError(f"labels {', '.join(unknown[:5])} are not among classes {list(classes)!r}")
    return np.fromiter((index[v] for v in values), dtype=np.intp, count=len(values))


def cross_val_pred_probs(
    X,
    labels: Sequence | np.ndarray | pd.Series,
    model,
    classes: Sequence,
    cv: int = 5,
    random_state: int | None = 0,
) -> np.ndarray:
    """Out-of-fold predicted probabilities, one column per entry of `classes`.

    Stratified, shuffled folds; each fold fits a `clone` of `model` on the label codes
    (positions in `classes`; `cross_val_predict` encodes labels so anyway). Folds are
    reduced to the size of the smallest class when needed (stratification needs one item
    of every class per fold); below 2 folds there is no out-of-sample estimate for that
    class and a ValueError says which class is short. Classes in `classes` that nobody
    labeled get probability 0.
    """
    codes = _encode(labels, classes)
    counts = np.bincount(codes, minlength=len(classes))
    present = np.flatnonzero(counts)
    if len(present) < 2:
        raise ValueError("need labels from at least 2 classes to look for label errors")
    smallest = present[np.argmin(counts[present])]
    n_splits = min(int(cv), int(counts[smallest]))
    if n_splits < MIN_FOLDS:
        raise ValueError(
            f"class {classes[smallest]!r} has {counts[smallest]} label(s); cross-validation "
            f"needs at least {MIN_FOLDS} per class"
        )
    folds = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    probs = cross_val_predict(clone(model), X, codes, cv=folds, method="predict_proba")
    full = np.zeros((len(codes), len(classes)))
    full[:, present] = probs  # columns come in sorted code order, i.e. `present`
    return full


def confident_thresholds(codes: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """t_j = mean p_j over items labeled j (ABSENT_THRESHOLD for unlabeled classes)."""
    k = pred_probs.shape[1]
    counts = np.bincount(codes, minlength=k)
    sums = np.zeros(k)
    np.add.at(sums, codes, pred_probs[np.arange(len(codes)), codes])
    with np.errstate(invalid="ignore", divide="ignore"):
        thresholds = np.where(counts > 0, sums / counts, ABSENT_THRESHOLD)
    return np.maximum(thresholds, THRESHOLD_FLOOR)


def confident_joint(codes: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Calibrated confident joint: rows = given label, columns = confidently predicted class.

    Rows sum to the number of items with that given label (as integers, rounding so that
    row totals are kept); the diagonal is at least 1 before calibration so that no class
    is declared entirely wrong.
    """
    k = pred_probs.shape[1]
    confident = pred_probs >= confident_thresholds(codes, pred_probs) - THRESHOLD_TOLERANCE
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, pred_probs.argmax(axis=1), confident.argmax(axis=1))
    counted = n_confident > 0
    joint = np.zeros((k, k))
    np.add.at(joint, (codes[counted], guess[counted]), 1)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))
    label_counts = np.bincount(codes, minlength=k)
    joint = joint / joint.sum(axis=1, keepdims=True) * label_counts[:, None]
    joint = joint / joint.sum() * label_counts.sum()
    return np.vstack([_round_keeping_sum(row) for row in joint])


def _round_keeping_sum(values: np.ndarray) -> np.ndarray:
    """Round to integers, nudging the largest rounding errors so the total is kept."""
    ints = values.round()
    target = round(values.sum())
    while (gap := int(target - ints.sum())) != 0:
        step = 1 if gap > 0 else -1
        order = np.argsort(values - ints)[::-step][: min(abs(gap), len(values))]
        ints[order] += step
    return ints.astype(int)


def label_issue_mask(codes: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Confident learning, prune by noise rate: True for items whose label is likely wrong."""
    codes = np.asarray(codes, dtype=np.intp)
    k = pred_probs.shape[1]
    prune = _keep_one_per_class(confident_joint(codes, pred_probs))
    mask = np.zeros(len(codes), dtype=bool)
    for given in range(k):
        members = np.flatnonzero(codes == given)
        if len(members) <= 1:  # never empty a class
            continue
        for true in range(k):
            count = prune[given, true]
            if true == given or count <= 0:
                continue
            margin = pred_probs[members, true] - pred_probs[members, given]
            mask[members[np.argsort(-margin, kind="stable")[:count]]] = True
    # the model agrees with the given label (ties go to the label): not an issue
    bonus = pred_probs.copy()
    bonus[np.arange(len(codes)), codes] += THRESHOLD_TOLERANCE
    mask[bonus.argmax(axis=1) == codes] = False
    return mask


def _keep_one_per_class(joint: np.ndarray) -> np.ndarray:
    """Raise each diagonal count to at least 1, taking the difference from that row's errors.

    The calibrated joint can round a diagonal cell to 0, which would say every item with
    that label is wrong; at least one is kept, spread evenly over the row's nonzero cells.
    """
    diagonal = joint.diagonal().astype(float)
    raised = np.maximum(diagonal, 1)
    nonzero_off = np.maximum(np.count_nonzero(joint, axis=1) - 1.0, 1.0)
    adjusted = joint - ((raised - diagonal) / nonzero_off)[:, None]
    adjusted[adjusted < 0] = 0
    np.fill_diagonal(adjusted, raised)
    return np.floor(adjusted).astype(int)  # a fractional error is not an item


def find_label_issues(
    X,
    labels: Sequence | np.ndarray | pd.Series,
    model,
    classes: Sequence,
    cv: int = 5,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Likely label errors by confident learning on cross-validated probabilities.

    One row per item, issues first (most likely error first), then the rest by
    self-confidence. `position` is the row of X; `self_confidence` is the out-of-sample
    probability of the given label; `suggested_label` is the out-of-sample prediction;
    `rank` is 1 for the likeliest error and <NA> for items not flagged.

    Columns: position, given_label, suggested_label, self_confidence, is_issue, rank.
    """
    codes = _encode(labels, classes)
    pred_probs = cross_val_pred_probs(X, labels, model, classes, cv, random_state)
    return issues_table(codes, pred_probs, classes)


def issues_table(codes: np.ndarray, pred_probs: np.ndarray, classes: Sequence) -> pd.DataFrame:
    """The find_label_issues table from label codes and any out-of-sample probabilities."""
    codes = np.asarray(codes, dtype=np.intp)
    names = np.asarray(list(classes), dtype=object)
    mask = label_issue_mask(codes, pred_probs)
    self_confidence = pred_probs[np.arange(len(codes)), codes]
    order = np.lexsort((np.arange(len(codes)), self_confidence, ~mask))
    rank = pd.array([pd.NA] * len(codes), dtype="Int64")
    flagged = order[: int(mask.sum())]
    rank[flagged] = np.arange(1, len(flagged) + 1)
    table = pd.DataFrame(
        {
            "position": np.arange(len(codes)),
            "given_label": names[codes],
            "suggested_label": names[pred_probs.argmax(axis=1)],
            "self_confidence": self_confidence,
            "is_issue": mask,
            "rank": rank,
        }
    )
    return table.iloc[order].reset_index(drop=True)


def label_issues(snap: Snapshot, cv: int = 5) -> pd.DataFrame:
    """A session's labeled items whose label is probably wrong, most suspicious first.

    Indexed by item id; columns as `find_label_issues` without `position`.
    """
    keys = list(snap.current)
    labels = [snap.config.class_of(snap.current[k].label) for k in keys]
    table = find_label_issues(
        snap.X[snap.positions(keys)],
        labels,
        snap.model,
        snap.classes,
        cv=cv,
        random_state=snap.config.random_state,
    )
    ids = snap.ids(keys)
    table.index = pd.Index([ids[p] for p in table["position"]], name=snap.index_name)
    return table.drop(columns="position")
