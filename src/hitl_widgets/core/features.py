"""Featurize once: the label-free front of a model runs on the whole pool, one time.

A text model is a vectorizer followed by a classifier. Refitting the whole pipeline on
every label re-learns the vectorizer from the labeled texts and re-vectorizes the entire
pool's raw text each time: at 100k documents that is over a second per label. The
vectorizer never looks at labels, so fitting it once on the whole pool is legitimate
(unsupervised, like any pre-processing of the pool), and then each refit only fits the
classifier on rows of one sparse matrix, and rescoring is a sparse product.

What is split: the leading steps of a scikit-learn `Pipeline` that are text
vectorizers (`HashingVectorizer`, `CountVectorizer`, `TfidfVectorizer`) optionally
followed by a `TfidfTransformer`. These learn nothing from labels. Anything after them
(feature selection, which may use labels; a classifier) is refit on the labels as
usual, and a model that is not such a pipeline is refit whole, as before. The
`Session.model_` a user sees is still the whole pipeline: the fitted front plus the
refit tail, so `session.model_.predict(["some text"])` works.

Vectorizing runs on a background thread when the Session opens, reporting progress,
so a notebook shows the widget (and cold-start cards, which need no model) at once.
Large pools keep the matrix on disk next to the store, keyed by the pool's fingerprint
and the vectorizer's parameters, so reopening a notebook does not vectorize again. The
cache holds a pickled fitted vectorizer: it is as trusted as the store beside it.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy import sparse
from sklearn.base import clone
from sklearn.feature_extraction.text import (
    CountVectorizer,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.pipeline import Pipeline

from .progress import Progress

VECTORIZERS = (HashingVectorizer, CountVectorizer, TfidfVectorizer)
CHUNK_DOCUMENTS = 20_000  # a stateless vectorizer transforms this many documents per step
CACHE_MIN_ROWS = 50_000  # pools at least this large keep their matrix on disk
CACHE_VERSION = 1


@dataclass(frozen=True)
class ModelInput:
    """What the refit part of a model reads, and how to rebuild the whole model."""

    X: Any  # the matrix the template is fitted on (the pool's X when nothing is split)
    template: Any  # the estimator refit on labels: the user's model, or its tail
    front: Any | None  # the fitted label-free leading steps (a Pipeline), or None
    tail_name: str = "model"  # the tail's step name in the user's pipeline

    def whole(self, fitted: Any) -> Any:
        """The user-facing model: the fitted front followed by the fitted tail."""
        if self.front is None:
            return fitted
        return Pipeline([*self.front.steps, (self.tail_name, fitted)])


def split_label_free(model: Any) -> tuple[list[tuple[str, Any]], Any, str]:
    """(label-free leading vectorizer steps, the estimator that remains, its name)."""
    if not isinstance(model, Pipeline) or not model.steps:
        return [], model, "model"
    steps = list(model.steps)
    front: list[tuple[str, Any]] = []
    if isinstance(steps[0][1], VECTORIZERS):
        front.append(steps.pop(0))
        if steps and isinstance(steps[0][1], TfidfTransformer):
            front.append(steps.pop(0))
    if not front or not steps:
        return [], model, "model"  # nothing to split, or nothing left to refit
    if len(steps) == 1:
        return front, steps[0][1], steps[0][0]
    return front, Pipeline(steps), "model"


def cache_key(fingerprint: str, front: list[tuple[str, Any]]) -> str:
    """Identifies one pool vectorized one way (sorted parameters, library versions)."""
    import sklearn

    described = [
        (name, type(step).__name__, sorted(step.get_params().items())) for name, step in front
    ]
    text = repr((CACHE_VERSION, sklearn.__version__, fingerprint, described))
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:20]


def prepare(
    model: Any, X: Any, cache_dir: Path | None, fingerprint: str, progress: Progress
) -> ModelInput:
    """Fit the label-free front once on the whole pool and transform it (or reuse a cache)."""
    front, tail, tail_name = split_label_free(model)
    if not front:
        return ModelInput(X=X, template=model, front=None)
    path = None
    if cache_dir is not None and len(X) >= CACHE_MIN_ROWS:
        path = cache_dir / f"hitl-features-{cache_key(fingerprint, front)}.pkl"
        cached = _read_cache(path)
        if cached is not None:
            progress.done("features read from cache")
            return ModelInput(cached[1], tail, cached[0], tail_name)
    fitted_front, matrix = _fit_transform(front, X, progress)
    if path is not None:
        _write_cache(path, fitted_front, matrix)
    return ModelInput(matrix, tail, fitted_front, tail_name)


def _fit_transform(
    front: list[tuple[str, Any]], X: Any, progress: Progress
) -> tuple[Pipeline, Any]:
    """Run each front step on the whole pool; stateless vectorizers in chunks (progress)."""
    fitted: list[tuple[str, Any]] = []
    current = X
    for name, step in front:
        step = clone(step)
        if isinstance(step, HashingVectorizer):  # stateless: chunks, with progress
            blocks = []
            with progress.task(len(current), "vectorizing") as advance:
                for start in range(0, len(current), CHUNK_DOCUMENTS):
                    block = current[start : start + CHUNK_DOCUMENTS]
                    blocks.append(step.transform(block))
                    advance(len(block))
            current = sparse.vstack(blocks, format="csr")
        else:
            with progress.task(1, f"fitting {type(step).__name__}") as advance:
                current = step.fit_transform(current)
                advance(1)
        fitted.append((name, step))
    return Pipeline(fitted), sparse.csr_matrix(current)


def _read_cache(path: Path) -> tuple[Pipeline, Any] | None:
    try:
        with path.open("rb") as f:
            front, matrix = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, AttributeError):
        return None  # missing, partial or from another version: vectorize again
    return front, matrix


def _write_cache(path: Path, front: Pipeline, matrix: Any) -> None:
    """Write atomically (a half-written cache must never be read); failures are harmless."""
    partial = path.with_suffix(f".{threading.get_ident()}.partial")
    try:
        with partial.open("wb") as f:
            pickle.dump((front, matrix), f, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)


def in_background(make: Callable[[], ModelInput]) -> Future[ModelInput]:
    """Run `make` on a daemon thread; its result or exception lands in the future."""
    future: Future[ModelInput] = Future()

    def run() -> None:
        try:
            future.set_result(make())
        except BaseException as exc:  # handed to whoever waits for the features
            future.set_exception(exc)

    threading.Thread(target=run, name="hitl-features", daemon=True).start()
    return future
