"""Query strategies: one score per pool row, higher = ask a human sooner.

A strategy only scores. Picking the top k, leaving out labeled and skipped rows and
breaking ties with the session's seed happen once, in `ranking.py`, so a user's own
strategy gets all of that for free.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class QueryStrategy(Protocol):
    """Scores pool rows for querying. Higher scores are asked first.

    `needs_model` is False for strategies that can rank before any model is fitted
    (random order). A strategy may also define
    `select(model, X, candidates, k) -> positions` to choose a diverse batch among
    `candidates` (row positions, best first); the session then uses it instead of
    taking the top k.
    """

    name: str
    needs_model: bool

    def score(self, model: Any, X: Any) -> np.ndarray: ...


class ProbabilityStrategy:
    """A strategy computed from `predict_proba` alone.

    The session scores the pool in chunks and derives these scores, the suggestion and
    its confidence from the same probabilities, so the pool is run through the model once.
    """

    name = "probability"
    needs_model = True

    def score(self, model: Any, X: Any) -> np.ndarray:
        return self.score_proba(model.predict_proba(X))

    def score_proba(self, proba: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MarginSampling(ProbabilityStrategy):
    """1 - (p_best - p_second): small margins between the top two classes ask first."""

    name = "margin"

    def score_binary(self, best: np.ndarray) -> np.ndarray:
        """Two classes, from the best class's probability: 1 - (p - (1 - p))."""
        return 2.0 - 2.0 * best

    def score_proba(self, proba: np.ndarray) -> np.ndarray:
        if proba.shape[1] == 1:
            return np.zeros(proba.shape[0])
        if proba.shape[1] == 2:
            return 1.0 - np.abs(proba[:, 0] - proba[:, 1])
        top_two = np.partition(proba, -2, axis=1)[:, -2:]
        return 1.0 - (top_two[:, 1] - top_two[:, 0])


class EntropySampling(ProbabilityStrategy):
    """Shannon entropy of the predicted distribution (nats)."""

    name = "entropy"

    def score_binary(self, best: np.ndarray) -> np.ndarray:
        other = 1.0 - best
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = np.where(other > 0, other * np.log(other), 0.0)
        return -(best * np.log(best) + tail)

    def score_proba(self, proba: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(proba > 0, proba * np.log(proba), 0.0)
        return -terms.sum(axis=1)


class LeastConfidence(ProbabilityStrategy):
    """1 - p_best: the less sure the model's top guess, the sooner it is asked."""

    name = "least_confidence"

    def score_binary(self, best: np.ndarray) -> np.ndarray:
        return 1.0 - best

    def score_proba(self, proba: np.ndarray) -> np.ndarray:
        return 1.0 - proba.max(axis=1)


class RandomSampling:
    """Uniformly random order: every score ties and the seeded tie-break decides.

    Kept as a strategy (not a special case) so it is the honest baseline that every
    chart and benchmark can race the others against.
    """

    name = "random"
    needs_model = False

    def score(self, model: Any, X: Any) -> np.ndarray:
        return np.zeros(_n_rows(X))

    def __repr__(self) -> str:
        return "RandomSampling()"


class FunctionStrategy:
    """Wraps a plain function `f(model, X) -> scores`."""

    needs_model = True

    def __init__(self, function: Callable[[Any, Any], Any]):
        self.function = function
        self.name = getattr(function, "__name__", "custom")

    def score(self, model: Any, X: Any) -> np.ndarray:
        return self.function(model, X)

    def __repr__(self) -> str:
        return f"FunctionStrategy({self.name})"


BUILTIN: dict[str, type] = {
    "margin": MarginSampling,
    "entropy": EntropySampling,
    "least_confidence": LeastConfidence,
    "random": RandomSampling,
}


def resolve_strategy(spec: str | QueryStrategy | Callable[[Any, Any], Any]) -> QueryStrategy:
    """A strategy object from a name, a QueryStrategy or a plain function."""
    if isinstance(spec, str):
        try:
            return BUILTIN[spec]()
        except KeyError:
            raise ValueError(
                f"unknown strategy {spec!r}; choose one of {sorted(BUILTIN)} "
                "or pass a function f(model, X) -> scores"
            ) from None
    if isinstance(spec, QueryStrategy):
        return spec
    if callable(spec):
        return FunctionStrategy(spec)
    raise TypeError(
        f"strategy must be a name, a QueryStrategy or a function, got {type(spec).__name__}"
    )


def checked_scores(scores: Any, n_rows: int, name: str) -> np.ndarray:
    """Scores as a float array of the pool's length; a clear error otherwise."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.shape[0] != n_rows:
        raise ValueError(f"strategy {name!r} returned {scores.shape[0]} scores for {n_rows} rows")
    if np.isnan(scores).any():
        raise ValueError(f"strategy {name!r} returned NaN scores")
    return scores


def _n_rows(X: Any) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)
