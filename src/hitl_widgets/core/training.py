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
class SampleFit:
    """A new model's ranking of a random candidate sample, served until its rescoring ends.

    A pool whose full rescoring is slow (a Dask pool: seconds, on the workers) keeps a
    fixed random sample of its rows on the client (`candidates`: positions, features).
    Right after a fit the queue is served from that sample, scored by the new model in
    milliseconds, while the whole pool is rescored in the background. The guarantee:
    the best of m uniformly random candidates is in the top q of the pool with
    probability 1 - (1 - q)^m; with m = 20,000, in the top 0.1% with probability
    1 - 2e-9. The queue records no selection probability for a slot served this way
    (the sample's randomness is not in it), so such labels train the model and count in
    audit-only figures, not in `estimate`'s weighted part.
    """

    version: int
    model: Any
    positions: np.ndarray  # the candidate rows, ascending
    pool: PoolScores  # the model's view of those rows only
    n_labels: int
    label_version: int
    seconds: float
    unlabeled: np.ndarray  # the training set's mask, for the summary of the full fit


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


def fit_sample(
    template: Any,
    X: Any,
    training: TrainingSet,
    strategy: QueryStrategy,
    class_index: dict[Any, int],
    version: int,
) -> SampleFit:
    """Fit a clone of `template` on the training set and score the candidate sample of
    X (`X.candidates`: positions and their features, held on this process)."""
    started = time.perf_counter()
    model = fit_estimator(template, X[training.positions], training.y)
    positions, rows = X.candidates
    return SampleFit(
        version=version,
        model=model,
        positions=positions,
        pool=score_pool(model, rows, strategy, class_index),
        n_labels=len(training.y),
        label_version=training.label_version,
        seconds=time.perf_counter() - started,
        unlabeled=training.unlabeled,
    )


def rescore(
    sample: SampleFit, X: Any, strategy: QueryStrategy, class_index: dict[Any, int]
) -> FitResult:
    """The sample fit's model over the whole pool: the `FitResult` it stands in for."""
    started = time.perf_counter()
    pool = score_pool(sample.model, X, strategy, class_index)
    return FitResult(
        version=sample.version,
        model=sample.model,
        pool=pool,
        n_labels=sample.n_labels,
        label_version=sample.label_version,
        seconds=sample.seconds + time.perf_counter() - started,
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


def pool_view(
    fit: FitResult | None, sample: SampleFit | None, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query score, suggested class index, confidence) of pool rows: NaN, -1, NaN
    before the first fit; rows of a newer model's candidate sample as that model sees
    them (the queue serves them so, and the label records what was shown)."""
    n = len(positions)
    score, code, confidence = np.full(n, np.nan), np.full(n, -1, np.int64), np.full(n, np.nan)
    if fit is not None:
        score[:] = fit.pool.scores[positions]
        code[:] = fit.pool.suggestion[positions]
        confidence[:] = fit.pool.confidence[positions]
    if sample is not None and n:
        at, hit = _sample_rows(sample, positions)
        score[hit] = sample.pool.scores[at[hit]]
        code[hit] = sample.pool.suggestion[at[hit]]
        confidence[hit] = sample.pool.confidence[at[hit]]
    return score, code, confidence


def item_view(
    fit: FitResult | None,
    position: int,
    classes: Sequence[Hashable],
    sample: SampleFit | None = None,
) -> ItemView:
    """The model's view of one pool row (see `pool_view`); all None before the first fit."""
    one = np.array([position])
    score, code, confidence = pool_view(fit, sample, one)
    if code[0] < 0:
        return ItemView()
    in_sample = sample is not None and bool(_sample_rows(sample, one)[1][0])
    version = sample.version if in_sample and sample else fit.version if fit else 0
    return ItemView(
        suggestion=str(classes[int(code[0])]),
        confidence=float(confidence[0]),
        score=float(score[0]),
        model_version=version,
    )


def _sample_rows(sample: SampleFit, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each position sits in the sample, and whether it is there at all."""
    at = np.searchsorted(sample.positions, positions).clip(max=len(sample.positions) - 1)
    return at, sample.positions[at] == positions
