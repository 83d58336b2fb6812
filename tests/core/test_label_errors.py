"""Likely label errors by confident learning.

On synthetic data with a known 8% of flipped labels the flagged set must find most flips
and little else; on identical out-of-sample probabilities it must flag exactly what
cleanlab's `find_label_issues(filter_by="prune_by_noise_rate")` flags, and its confident
joint must equal cleanlab's `compute_confident_joint`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cleanlab.count import compute_confident_joint
from cleanlab.filter import find_label_issues as cleanlab_find_label_issues
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from hitl_widgets.core.analysis.label_errors import (
    confident_joint,
    cross_val_pred_probs,
    find_label_issues,
    issues_table,
    label_issue_mask,
)

N_ROWS = 600
FLIP_SHARE = 0.08
COLUMNS = ["position", "given_label", "suggested_label", "self_confidence", "is_issue", "rank"]


def noisy_dataset(n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, noisy labels, positions flipped): 8% of labels moved to another class."""
    X, y = make_classification(
        N_ROWS,
        n_features=10,
        n_informative=5,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=2.0,
        flip_y=0,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    flipped = rng.choice(N_ROWS, int(FLIP_SHARE * N_ROWS), replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return X, noisy, flipped


def model() -> LogisticRegression:
    return LogisticRegression(max_iter=1000)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


@pytest.mark.parametrize("n_classes", [2, 3])
def test_finds_most_flipped_labels_and_little_else(n_classes: int) -> None:
    X, noisy, flipped = noisy_dataset(n_classes)
    table = find_label_issues(X, noisy, model(), classes=list(range(n_classes)))
    flagged = set(table.loc[table["is_issue"], "position"])
    truly = set(flipped.tolist())
    recall = len(flagged & truly) / len(truly)
    precision = len(flagged & truly) / len(flagged)
    assert recall >= 0.75, (recall, precision)
    assert precision >= 0.75, (recall, precision)


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_flags_exactly_what_cleanlab_flags_on_the_same_probabilities(n_classes: int) -> None:
    X, noisy, _ = noisy_dataset(n_classes, seed=n_classes)
    classes = list(range(n_classes))
    pred_probs = cross_val_pred_probs(X, noisy, model(), classes)
    table = find_label_issues(X, noisy, model(), classes)
    ours = set(table.loc[table["is_issue"], "position"])
    reference = cleanlab_find_label_issues(
        noisy, pred_probs, filter_by="prune_by_noise_rate", n_jobs=1
    )
    theirs = set(np.flatnonzero(reference).tolist())
    assert jaccard(ours, theirs) == 1.0, (len(ours), len(theirs), jaccard(ours, theirs))
    np.testing.assert_array_equal(
        confident_joint(noisy, pred_probs), compute_confident_joint(noisy, pred_probs)
    )


@pytest.mark.parametrize("seed", range(40))
def test_matches_cleanlab_on_arbitrary_probabilities(seed: int) -> None:
    """Random probability tables stress the rounding and keep-one-per-class corners."""
    rng = np.random.default_rng(seed)
    n_classes, n = int(rng.integers(2, 6)), int(rng.integers(15, 250))
    codes = rng.integers(0, n_classes, n)
    codes[:n_classes] = np.arange(n_classes)
    pred_probs = rng.dirichlet(np.full(n_classes, rng.uniform(0.2, 3.0)), n)
    if seed % 2:  # informative probabilities, as from a real model
        pred_probs[np.arange(n), codes] += rng.uniform(0, 2, n)
        pred_probs /= pred_probs.sum(axis=1, keepdims=True)
    reference = cleanlab_find_label_issues(
        codes, pred_probs, filter_by="prune_by_noise_rate", n_jobs=1
    )
    np.testing.assert_array_equal(label_issue_mask(codes, pred_probs), reference)
    np.testing.assert_array_equal(
        confident_joint(codes, pred_probs), compute_confident_joint(codes, pred_probs)
    )


def test_table_layout_and_ranking() -> None:
    X, noisy, _ = noisy_dataset(3, seed=1)
    classes = ["ant", "bee", "cat"]
    labels = pd.Series(np.asarray(classes, dtype=object)[noisy], index=np.arange(N_ROWS) + 1000)
    table = find_label_issues(X, labels, model(), classes, cv=4, random_state=3)
    assert list(table.columns) == COLUMNS
    assert sorted(table["position"]) == list(range(N_ROWS))  # positions, not the Series index
    pred_probs = cross_val_pred_probs(X, labels, model(), classes, cv=4, random_state=3)
    by_position = table.set_index("position").sort_index()
    assert by_position["given_label"].tolist() == labels.tolist()
    np.testing.assert_allclose(by_position["self_confidence"], pred_probs[np.arange(N_ROWS), noisy])
    assert by_position["suggested_label"].tolist() == [classes[i] for i in pred_probs.argmax(1)]
    issues = table[table["is_issue"]]
    n_issues = len(issues)
    assert n_issues > 0
    # issues first, likeliest (lowest self-confidence) first, ranked 1..n; others unranked
    assert table["is_issue"].iloc[:n_issues].all() and not table["is_issue"].iloc[n_issues:].any()
    assert issues["rank"].tolist() == list(range(1, n_issues + 1))
    assert issues["self_confidence"].is_monotonic_increasing
    assert table["rank"].iloc[n_issues:].isna().all()
    assert table["self_confidence"].iloc[n_issues:].is_monotonic_increasing
    # an item whose out-of-sample prediction is its own label is never an issue
    assert (issues["given_label"] != issues["suggested_label"]).all()
    # same seed, same answer
    again = find_label_issues(X, labels, model(), classes, cv=4, random_state=3)
    pd.testing.assert_frame_equal(table, again)


def test_folds_shrink_to_the_smallest_class_and_refuse_below_two() -> None:
    X, noisy, _ = noisy_dataset(2, seed=2)
    keep = np.concatenate([np.flatnonzero(noisy == 0), np.flatnonzero(noisy == 1)[:3]])
    table = find_label_issues(X[keep], noisy[keep], model(), [0, 1], cv=5)  # 3 folds
    assert len(table) == len(keep)
    alone = np.concatenate([np.flatnonzero(noisy == 0), np.flatnonzero(noisy == 1)[:1]])
    with pytest.raises(ValueError, match="class 1 has 1 label"):
        find_label_issues(X[alone], noisy[alone], model(), [0, 1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        find_label_issues(X[:50], np.zeros(50, dtype=int), model(), [0, 1])
    with pytest.raises(ValueError, match="not among classes"):
        find_label_issues(X[:50], ["x"] * 50, model(), [0, 1])


@pytest.mark.filterwarnings("ignore:May not flag all label issues:UserWarning")
def test_a_class_nobody_labeled_gets_a_zero_column_and_no_items() -> None:
    X, noisy, _ = noisy_dataset(2, seed=4)
    classes = ["neg", "pos", "unused"]
    labels = np.asarray(classes, dtype=object)[noisy]
    pred_probs = cross_val_pred_probs(X, labels, model(), classes)
    assert pred_probs.shape == (N_ROWS, 3)
    assert (pred_probs[:, 2] == 0).all()
    np.testing.assert_allclose(pred_probs.sum(axis=1), 1.0)
    table = issues_table(noisy, pred_probs, classes)
    assert "unused" not in set(table["suggested_label"])
    reference = cleanlab_find_label_issues(
        noisy, pred_probs, filter_by="prune_by_noise_rate", n_jobs=1
    )
    np.testing.assert_array_equal(table.sort_values("position")["is_issue"], reference)
