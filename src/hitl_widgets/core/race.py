"""The strategy race: the same pool labeled under several strategies, repeated.

Every run is a real Session (in memory) labeled by the simulated oracle, so the race
measures the code a user runs, not a re-implementation. Each repetition draws its own
train/test split and seed labels, shared by all strategies in that repetition, so the
strategies are compared on equal footing; accuracy is measured on the held-out test
part, never on the items a strategy chose.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import train_test_split

from .pool import FeatureSpec, build_pool
from .progress import Progress, steps
from .session import Session


def race(
    data: pd.DataFrame,
    classes: Sequence[Hashable],
    truth: str,
    *,
    features: FeatureSpec = None,
    model: Any = None,
    strategies: Sequence[Any] = ("margin", "entropy", "random"),
    budget: int = 100,
    repeats: int = 5,
    seed_labels: int = 10,
    test_size: float = 0.25,
    eval_every: int = 5,
    audit_share: float = 0.0,
    random_state: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Learning curves: one row per (strategy, repeat, n_labels) with test accuracy.

    `progress` shows a bar over the repetitions when the race lasts over two seconds.
    """
    rows = []
    bar = Progress(show=progress)
    for repeat in steps(range(repeats), repeats, "racing strategies", bar):
        seed = random_state + repeat
        pool_df, test_df = train_test_split(
            data, test_size=test_size, random_state=seed, stratify=data[truth]
        )
        X_test = build_pool(test_df, features).X
        y_test = test_df[truth].to_numpy()
        rng = np.random.default_rng(seed)
        seeds = _seed_items(pool_df, truth, seed_labels, rng)
        for strategy in strategies:
            session = Session(
                pool_df,
                classes,
                features=features,
                model=model,
                strategy=strategy,
                truth=truth,
                store=":memory:",
                annotator="oracle",
                progress=False,
                random_state=seed,
                audit_share=audit_share,
            )
            name = session.strategy.name
            for item_id in seeds:
                session.submit(item_id, pool_df.loc[item_id, truth])
            session.wait()
            labeled = len(seeds)
            rows.append((name, repeat, labeled, _accuracy(session, X_test, y_test)))
            while labeled < seed_labels + budget:
                step = min(eval_every, seed_labels + budget - labeled)
                done = len(session.simulate(step))
                if done == 0:
                    break
                labeled += done
                rows.append((name, repeat, labeled, _accuracy(session, X_test, y_test)))
            session.close()
    return pd.DataFrame(rows, columns=["strategy", "repeat", "n_labels", "accuracy"])


def race_summary(curves: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per strategy and label count: mean accuracy with a t interval over repeats."""
    grouped = curves.groupby(["strategy", "n_labels"], sort=True)["accuracy"]
    table = grouped.agg(mean="mean", sd="std", repeats="size").reset_index()
    half = _t_half_width(table["sd"], table["repeats"], confidence)
    table["low"] = table["mean"] - half
    table["high"] = table["mean"] + half
    return table


def area_under_curve(curves: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean accuracy over the learning curve per strategy (area under it, normalised),
    with a t interval over repeats: the single number strategies are ranked by."""
    per_run = curves.groupby(["strategy", "repeat"])["accuracy"].mean().reset_index()
    table = (
        per_run.groupby("strategy")["accuracy"]
        .agg(aulc="mean", sd="std", repeats="size")
        .reset_index()
    )
    half = _t_half_width(table["sd"], table["repeats"], confidence)
    table["low"], table["high"] = table["aulc"] - half, table["aulc"] + half
    return table.sort_values("aulc", ascending=False, ignore_index=True)


def _t_half_width(sd: pd.Series, repeats: pd.Series, confidence: float) -> np.ndarray:
    n = repeats.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
        return np.where(n > 1, t * sd.to_numpy(dtype=float) / np.sqrt(n), np.nan)


def _seed_items(pool: pd.DataFrame, truth: str, n: int, rng: np.random.Generator) -> list:
    """n random items with at least one of each of two classes, so a model can fit."""
    order = rng.permutation(len(pool))
    chosen = list(pool.index[order[:n]])
    values = pool[truth]
    if values.loc[chosen].nunique() < 2:
        other = values[values != values.loc[chosen[0]]]
        chosen[-1] = other.index[rng.integers(len(other))]
    return chosen


def _accuracy(session: Session, X_test: Any, y_test: np.ndarray) -> float:
    model = session.model_
    if model is None:
        return float("nan")
    return float(np.mean(model.predict(X_test) == y_test))
