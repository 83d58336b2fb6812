"""Fitting: default models, one fit of a clone on the labels, and what a fit is kept as.

Nothing here knows about threads or locks: `fit_once` is a pure step (a training set
in, a `FitResult` out) that the Session's worker runs in the background.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .scoring import PoolScores, score_pool
from .strategies import QueryStrategy


def default_model(kind: str) -> Any:
    """Scaler + logistic regression for numbers; TF-IDF + logistic regression for text.

    Logistic regression gives calibrated-enough probabilities for uncertainty sampling,
    fits 50 labels in milliseconds, and is the model every peer benchmark uses.

    Text: word unigrams and bigrams, hashed into 2**20 columns, weighted by sublinear
    TF-IDF. Hashing keeps no vocabulary, so memory stays bounded at a million documents
    (a bigram vocabulary of a large pool runs into the millions of entries) and the pool
    is vectorized in chunks with a progress bar; at 2**20 columns collisions are rare.
    The choice was measured against vocabulary TF-IDF and character n-grams on two real
    corpora (see `benchmarks/bench_text_models.py` and the README).
    """
    if kind == "text":
        return make_pipeline(
            HashingVectorizer(
                ngram_range=(1, 2),
                n_features=2**20,
                alternate_sign=False,
                norm=None,
                dtype=np.float32,  # half the memory and a faster rescoring pass
            ),
            TfidfTransformer(sublinear_tf=True),
            LogisticRegression(max_iter=1000),
        )
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def check_model(model: Any) -> Any:
    """The model if it can be fitted and asked for probabilities; TypeError otherwise."""
    if not hasattr(model, "fit") or not hasattr(model, "predict_proba"):
        raise TypeError(
            f"model {type(model).__name__} needs fit() and predict_proba() "
            "(for SVC pass probability=True)"
        )
    return model


@dataclass(frozen=True)
class TrainingSet:
    """The labels a fit learns from, tagged with the ledger version they were read at."""

    positions: np.ndarray  # pool rows
    y: np.ndarray  # their labels, as the classes' own values
    label_version: int
    unlabeled: np.ndarray  # bool mask of undecided rows at that version (for the summary)


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


def fit_once(
    template: Any,
    X: Any,
    training: TrainingSet,
    strategy: QueryStrategy,
    class_index: dict[Any, int],
    version: int,
) -> FitResult:
    """Fit a clone of `template` on the training set and score the whole pool with it."""
    started = time.perf_counter()
    model = fit_estimator(template, X[training.positions], training.y)
    pool = score_pool(model, X, strategy, class_index)
    return FitResult(
        version=version,
        model=model,
        pool=pool,
        n_labels=len(training.y),
        label_version=training.label_version,
        seconds=time.perf_counter() - started,
    )


def fit_estimator(template: Any, X: Any, y: np.ndarray) -> Any:
    """A clone of `template` fitted on (X, y).

    A logistic regression on sparse text features is fitted on the columns its training
    rows use, then widened back with zero weights for the others. This is exact, not an
    approximation: a column that is zero in every training row does not enter the loss,
    so the penalty (or, without one, the solver's zero start with a zero gradient) keeps
    its weight at 0. It turns a fit over 2**20 hashed columns into one over the few
    thousand that 200 labeled documents contain: milliseconds instead of a second.
    """
    model = clone(template)
    if not (sparse.issparse(X) and type(model) is LogisticRegression):
        return model.fit(X, y)
    X = sparse.csr_matrix(X)
    active = np.unique(X.indices)
    if len(active) == 0:  # sklearn would say "0 feature(s)", which names no cause
        raise ValueError(
            f"the {X.shape[0]} labeled items have no features: each labeled document is "
            "empty or holds no word the vectorizer keeps; the next fit with a labeled "
            "document that has words will work"
        )
    if len(active) == X.shape[1]:
        return model.fit(X, y)
    model.fit(X[:, active], y)
    coef = np.zeros((model.coef_.shape[0], X.shape[1]))
    coef[:, active] = model.coef_
    model.coef_ = coef
    model.n_features_in_ = X.shape[1]
    return model


def summarize(result: FitResult, unlabeled: np.ndarray, truth: np.ndarray | None) -> FitSummary:
    """The trend-chart facts of one fit: mean uncertainty left, accuracy on the truth."""
    # masked reductions, not masked copies: a few passes over 1M rows, no 8 MB temporaries
    left = int(np.count_nonzero(unlabeled))
    truth_accuracy, truth_n = None, 0
    if truth is not None:
        known = unlabeled & (truth >= 0)
        truth_n = int(np.count_nonzero(known))
        if truth_n:
            right = np.count_nonzero((result.pool.suggestion == truth) & known)
            truth_accuracy = right / truth_n
    return FitSummary(
        version=result.version,
        n_labels=result.n_labels,
        seconds=result.seconds,
        mean_uncertainty=(
            float(np.sum(result.pool.scores, where=unlabeled)) / left if left else float("nan")
        ),
        truth_accuracy=truth_accuracy,
        truth_n=truth_n,
    )


@dataclass(frozen=True)
class ItemView:
    """What the current model says about one item: recorded on its label event."""

    suggestion: str | None = None  # the suggested class, as stored text
    confidence: float | None = None
    score: float | None = None  # the query score
    model_version: int | None = None


def item_view(fit: FitResult | None, position: int, classes: Sequence[Hashable]) -> ItemView:
    """The model's view of one pool row; all None before the first fit."""
    if fit is None:
        return ItemView()
    return ItemView(
        suggestion=str(classes[int(fit.pool.suggestion[position])]),
        confidence=float(fit.pool.confidence[position]),
        score=float(fit.pool.scores[position]),
        model_version=fit.version,
    )
