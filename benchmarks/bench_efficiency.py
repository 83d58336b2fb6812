"""Label efficiency: how much accuracy each query strategy buys per label.

Area under the learning curve (AULC = mean test accuracy over the curve, one point every
`--eval-every` labels) over a budget of `--budget` labels after 10 seed labels, logistic
regression (StandardScaler + LogisticRegression(max_iter=1000) for numbers, TF-IDF +
LogisticRegression for text: `hitl_widgets.core.training.default_model`), repeated
`--repeats` times. Every repetition draws its own stratified 75/25 split and its own seed
labels exactly as `hitl_widgets.core.race.race` does (same `train_test_split` call, same
`_seed_items`), and every strategy in that repetition starts from that split and those
seed labels, so differences are paired.

Strategies:
- ours: real in-memory `Session`s labeled by the simulated oracle (`Session.simulate`,
  the loop `race` runs): margin, entropy, least_confidence, random with audit_share=0,
  and margin with the default audit_share=0.1 (what the audit mix costs or saves).
- modAL 0.4.2.1: `ActiveLearner.query` with uncertainty_sampling / margin_sampling /
  entropy_sampling. Its `teach` and `fit` raise TypeError on scikit-learn >= 1.8
  (`check_X_y(force_all_finite=...)`), so the loop refits the estimator itself and hands
  the fitted model to the learner; the picking is modAL's own code.
- scikit-activeml: `UncertaintySampling(method="margin_sampling")` with a
  `SklearnClassifier` wrapper, fitted on the pool with missing labels, querying the
  unlabeled pool every step. Its input check only takes numbers, so for the text set the
  pool is passed as row numbers and a small wrapper looks the texts up (same model).

Pick check: on repetition 0 of every data set, our margin / entropy / least-confidence
sessions are stepped one label at a time; at every step the session's fitted model is
handed to modAL and scikit-activeml, and their pick is compared with the session's
(same model state). A different pick whose utility equals ours (|diff| <= 1e-9, by the
peer's own utility) is a tie, broken differently by design (ours: a seeded permutation;
modAL: argpartition order; scikit-activeml: seeded random).

Data sets (all offline): sklearn digits (10 classes), sklearn breast cancer,
`hitl_widgets.datasets.product_reviews(2000)` (text), and a generated credit set with a
sensitive column (see `synthetic_credit`: fairlearn's loaders all download from OpenML
and sklearn ships no census data; palmerpenguins would add a dependency and its pool of
~250 rows would be nearly exhausted by a 210-label budget).

Run:  python benchmarks/bench_efficiency.py [--repeats 20] [--budget 200] [--jobs 2]
      python benchmarks/bench_efficiency.py --quick      (3 repetitions, 50 labels)
Writes markdown to stdout and benchmarks/results/efficiency.md, numbers to
benchmarks/results/efficiency.json, learning curves to benchmarks/results/efficiency.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from hitl_widgets.core.pool import build_pool
from hitl_widgets.core.race import _seed_items, race
from hitl_widgets.core.session import Session
from hitl_widgets.core.training import default_model
from hitl_widgets.datasets import product_reviews

try:
    from modAL.models import ActiveLearner
    from modAL.uncertainty import (
        classifier_entropy,
        classifier_margin,
        classifier_uncertainty,
        entropy_sampling,
        margin_sampling,
        uncertainty_sampling,
    )
except Exception as error:  # report, run the rest
    ActiveLearner = None
    MODAL_IMPORT_ERROR: str | None = f"{type(error).__name__}: {error}"
else:
    MODAL_IMPORT_ERROR = None
try:
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import UncertaintySampling
except Exception as error:
    SklearnClassifier = None
    SKAL_IMPORT_ERROR: str | None = f"{type(error).__name__}: {error}"
else:
    SKAL_IMPORT_ERROR = None

RESULTS = Path(__file__).resolve().parent / "results"
SEED_LABELS = 10
TEST_SIZE = 0.25
TIE_TOL = 1e-9
MISSING = -1
DATASETS = ("digits", "breast_cancer", "product_reviews", "synthetic_credit")
OURS = {  # strategy label -> (Session strategy, audit_share)
    "ours: margin": ("margin", 0.0),
    "ours: entropy": ("entropy", 0.0),
    "ours: least_confidence": ("least_confidence", 0.0),
    "ours: random": ("random", 0.0),
    "ours: margin, audit 0.1": ("margin", 0.1),
}
MODAL = ("modAL: margin", "modAL: entropy", "modAL: least_confidence")
SKAL = ("skactiveml: margin",)
BASELINE = "ours: random"


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Dataset:
    name: str
    frame: pd.DataFrame  # index = item ids; features, "truth" (int class codes), extras
    classes: list[int]
    features: Any  # list of numeric columns or the name of the text column
    kind: str  # "numeric" or "text"
    sensitive: str | None = None
    note: str = ""

    @property
    def model(self) -> Any:
        return default_model(self.kind)


def synthetic_credit(n: int = 4000, random_state: int = 0) -> pd.DataFrame:
    """A generated credit-scoring set with a sensitive column `group` (A/B), seeded.

    Group B (40%) has a lower base rate of good outcomes (about 0.41 vs 0.62) that comes
    through features shifted by group (lower income, shorter credit history) plus a
    history effect that is stronger for B, so a model fitted mostly on A serves B worse.
    The label is drawn from a logistic model with an interaction term and a loan
    amount x duration term that a linear model cannot represent exactly; a full-data
    logistic regression gets about 0.79. `group` is not a model feature (kept for audit).
    """
    rng = np.random.default_rng(random_state)
    b = rng.random(n) < 0.4
    income = rng.normal(0, 1, n) - 0.7 * b
    history = rng.normal(0, 1, n) - 0.4 * b
    debt = rng.normal(0, 1, n)
    savings = 0.5 * income + rng.normal(0, 0.9, n)
    late = rng.poisson(np.exp(-0.3 + 0.4 * debt - 0.3 * history)).astype(float)
    amount = rng.lognormal(0, 0.5, n)
    duration = rng.integers(6, 61, n).astype(float)
    employment = rng.exponential(5, n)
    age = np.clip(38 + 6 * history + rng.normal(0, 8, n), 19, 75)
    logit = (
        0.6
        + 1.0 * income
        - 0.9 * debt
        + 0.6 * history
        - 0.5 * late
        + 0.4 * savings
        - 0.6 * (amount * duration / 36 - 1)
        + 0.3 * np.log1p(employment)
        + 0.6 * np.tanh(income * debt)
        + 0.6 * b * history
    )
    truth = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "income": income,
            "debt_ratio": debt,
            "history_years": history,
            "late_payments": late,
            "savings": savings,
            "amount": amount,
            "duration": duration,
            "employment_years": employment,
            "age": age,
            "group": np.where(b, "B", "A"),
            "truth": truth,
        },
        index=pd.Index([f"c{i:05d}" for i in range(n)], name="id"),
    )
    return frame


@cache
def load(name: str) -> Dataset:
    if name == "digits":
        bunch = load_digits()
        columns = [f"px{i:02d}" for i in range(bunch.data.shape[1])]
        frame = pd.DataFrame(bunch.data, columns=columns)
        frame["truth"] = bunch.target.astype(int)
        frame.index = pd.Index([f"d{i:04d}" for i in range(len(frame))], name="id")
        return Dataset(name, frame, list(range(10)), columns, "numeric", note="sklearn, 1797 rows")
    if name == "breast_cancer":
        bunch = load_breast_cancer()
        columns = [str(c) for c in bunch.feature_names]
        frame = pd.DataFrame(bunch.data, columns=columns)
        frame["truth"] = bunch.target.astype(int)
        frame.index = pd.Index([f"b{i:03d}" for i in range(len(frame))], name="id")
        return Dataset(name, frame, [0, 1], columns, "numeric", note="sklearn, 569 rows")
    if name == "product_reviews":
        frame = product_reviews(2000).copy()
        frame["truth"] = frame["truth"].map({"neg": 0, "pos": 1}).astype(int)
        return Dataset(
            name,
            frame[["text", "category", "truth"]],
            [0, 1],
            "text",
            "text",
            note="hitl_widgets.datasets.product_reviews(2000), generated, 0=neg 1=pos",
        )
    if name == "synthetic_credit":
        frame = synthetic_credit()
        columns = [c for c in frame.columns if c not in ("group", "truth")]
        return Dataset(
            name,
            frame,
            [0, 1],
            columns,
            "numeric",
            sensitive="group",
            note="generated (synthetic_credit in this file), 4000 rows, 1=good",
        )
    raise ValueError(f"unknown data set {name!r}")


@dataclass
class Split:
    pool: pd.DataFrame
    test: pd.DataFrame
    seeds: list  # item ids, in the order they are submitted
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    seed_positions: np.ndarray


def make_split(ds: Dataset, seed: int) -> Split:
    """The split and seed labels `race` draws for this seed (the same calls)."""
    pool, test = train_test_split(
        ds.frame, test_size=TEST_SIZE, random_state=seed, stratify=ds.frame["truth"]
    )
    seeds = _seed_items(pool, "truth", SEED_LABELS, np.random.default_rng(seed))
    return Split(
        pool=pool,
        test=test,
        seeds=seeds,
        X_pool=build_pool(pool, ds.features).X,
        y_pool=pool["truth"].to_numpy(dtype=np.int64),
        X_test=build_pool(test, ds.features).X,
        y_test=test["truth"].to_numpy(dtype=np.int64),
        seed_positions=pool.index.get_indexer(seeds),
    )


class RowLookup(ClassifierMixin, BaseEstimator):
    """A classifier over row numbers: X[:, 0] indexes `rows` (texts), then `estimator`.

    scikit-activeml validates X as a numeric array, so the text set reaches it as row
    numbers; the model behind is the same TF-IDF + logistic regression.
    """

    def __init__(self, rows: np.ndarray, estimator: Any):
        self.rows = rows
        self.estimator = estimator

    def _texts(self, X: Any) -> np.ndarray:
        return self.rows[np.asarray(X)[:, 0].astype(np.int64)]

    def fit(self, X: Any, y: Any) -> RowLookup:
        self.estimator_ = clone(self.estimator).fit(self._texts(X), y)
        self.classes_, self.n_features_in_ = self.estimator_.classes_, 1
        return self

    @classmethod
    def fitted(cls, rows: np.ndarray, model: Any) -> RowLookup:
        lookup = cls(rows, model)
        lookup.estimator_, lookup.classes_, lookup.n_features_in_ = model, model.classes_, 1
        return lookup

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.estimator_.predict_proba(self._texts(X))

    def predict(self, X: Any) -> np.ndarray:
        return self.estimator_.predict(self._texts(X))


def skal_inputs(ds: Dataset, split: Split) -> tuple[np.ndarray, np.ndarray, Any]:
    """(X pool, X test, estimator) as scikit-activeml gets them."""
    if ds.kind != "text":
        return split.X_pool, split.X_test, ds.model
    rows = np.concatenate([split.X_pool, split.X_test]).astype(object)
    n = len(split.X_pool)
    return (
        np.arange(n, dtype=float)[:, None],
        np.arange(n, len(rows), dtype=float)[:, None],
        RowLookup(rows, ds.model),
    )


# ---------------------------------------------------------------------------- runs
def accuracy(model: Any, X: Any, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(model.predict(X)) == y))


def group_report(ds: Dataset, split: Split, model: Any, X_test: Any, picked: np.ndarray) -> dict:
    """Per-subgroup test accuracy of the final model, and each group's share of picks."""
    if ds.sensitive is None:
        return {}
    groups_test = split.test[ds.sensitive].to_numpy()
    groups_pool = split.pool[ds.sensitive].to_numpy()
    hits = np.asarray(model.predict(X_test)) == split.y_test
    queried = np.ones(len(groups_pool), dtype=bool)
    queried[split.seed_positions] = False
    queried_groups = groups_pool[np.intersect1d(picked, np.flatnonzero(queried))]
    return {
        "accuracy": {str(g): float(hits[groups_test == g].mean()) for g in np.unique(groups_test)},
        "query_share": {
            str(g): float(np.mean(queried_groups == g)) if len(queried_groups) else float("nan")
            for g in np.unique(groups_pool)
        },
    }


def run_ours(ds: Dataset, split: Split, label: str, seed: int, budget: int, every: int) -> dict:
    """One learning curve through a real in-memory Session, as `race` runs it."""
    strategy, audit_share = OURS[label]
    started = time.perf_counter()
    session = Session(
        split.pool,
        ds.classes,
        features=ds.features,
        model=ds.model,
        strategy=strategy,
        truth="truth",
        store=":memory:",
        annotator="oracle",
        random_state=seed,
        audit_share=audit_share,
    )
    try:
        for item_id in split.seeds:
            session.submit(item_id, split.pool.loc[item_id, "truth"])
        session.wait()
        labeled = len(split.seeds)
        curve = [(labeled, accuracy(session.model_, split.X_test, split.y_test))]
        while labeled < SEED_LABELS + budget:
            done = len(session.simulate(min(every, SEED_LABELS + budget - labeled)))
            if done == 0:
                break
            labeled += done
            curve.append((labeled, accuracy(session.model_, split.X_test, split.y_test)))
        if session.fit_error:
            raise RuntimeError(f"{label}: refit failed: {session.fit_error}")
        picked = split.pool.index.get_indexer(session.labels.index)
        groups = group_report(ds, split, session.model_, split.X_test, picked)
    finally:
        session.close()
    return {"curve": curve, "seconds": time.perf_counter() - started, "groups": groups}


def modal_query(function: Any, model: Any, X: np.ndarray, unlabeled: np.ndarray) -> int:
    """modAL's own pick among the unlabeled rows (ActiveLearner.query, fitted model)."""
    learner = ActiveLearner(estimator=model, query_strategy=function)
    index, _ = learner.query(X[unlabeled])
    return int(unlabeled[int(np.asarray(index).ravel()[0])])


MODAL_FUNCTIONS = {
    "modAL: margin": "margin_sampling",
    "modAL: entropy": "entropy_sampling",
    "modAL: least_confidence": "uncertainty_sampling",
}


def run_modal(ds: Dataset, split: Split, label: str, seed: int, budget: int, every: int) -> dict:
    """modAL's query on a loop that refits the estimator itself (teach is broken)."""
    function = {
        "margin_sampling": margin_sampling,
        "entropy_sampling": entropy_sampling,
        "uncertainty_sampling": uncertainty_sampling,
    }[MODAL_FUNCTIONS[label]]
    started = time.perf_counter()
    order = list(split.seed_positions)
    labeled = np.zeros(len(split.y_pool), dtype=bool)
    labeled[order] = True
    model = clone(ds.model).fit(split.X_pool[order], split.y_pool[order])
    curve = [(len(order), accuracy(model, split.X_test, split.y_test))]
    while len(order) < SEED_LABELS + budget and not labeled.all():
        position = modal_query(function, model, split.X_pool, np.flatnonzero(~labeled))
        order.append(position)
        labeled[position] = True
        model = clone(ds.model).fit(split.X_pool[order], split.y_pool[order])
        if (len(order) - SEED_LABELS) % every == 0 or len(order) == SEED_LABELS + budget:
            curve.append((len(order), accuracy(model, split.X_test, split.y_test)))
    groups = group_report(ds, split, model, split.X_test, np.asarray(order))
    return {"curve": curve, "seconds": time.perf_counter() - started, "groups": groups}


def run_skal(ds: Dataset, split: Split, label: str, seed: int, budget: int, every: int) -> dict:
    """scikit-activeml's margin sampling with a SklearnClassifier, its own idiom."""
    started = time.perf_counter()
    X, X_test, estimator = skal_inputs(ds, split)
    clf = SklearnClassifier(estimator, classes=ds.classes, missing_label=MISSING, random_state=seed)
    strategy = UncertaintySampling(
        method="margin_sampling", missing_label=MISSING, random_state=seed
    )
    y = np.full(len(split.y_pool), MISSING, dtype=np.int64)
    y[split.seed_positions] = split.y_pool[split.seed_positions]
    clf.fit(X, y)
    curve = [(SEED_LABELS, accuracy(clf, X_test, split.y_test))]
    n = SEED_LABELS
    while n < SEED_LABELS + budget and (y == MISSING).any():
        position = int(strategy.query(X, y, clf, fit_clf=False)[0])
        y[position] = split.y_pool[position]
        clf.fit(X, y)
        n += 1
        if (n - SEED_LABELS) % every == 0 or n == SEED_LABELS + budget:
            curve.append((n, accuracy(clf, X_test, split.y_test)))
    groups = group_report(ds, split, clf, X_test, np.flatnonzero(y != MISSING))
    return {"curve": curve, "seconds": time.perf_counter() - started, "groups": groups}


def strategy_labels() -> list[str]:
    labels = list(OURS)
    if ActiveLearner is not None:
        labels += MODAL
    if SklearnClassifier is not None:
        labels += SKAL
    return labels


def run_repeat(name: str, repeat: int, budget: int, every: int) -> list[dict]:
    """Every strategy on one repetition's split and seed labels."""
    ds, seed = load(name), repeat
    split = make_split(ds, seed)
    rows = []
    for label in strategy_labels():
        if label in OURS:
            result = run_ours(ds, split, label, seed, budget, every)
        elif label in MODAL:
            result = run_modal(ds, split, label, seed, budget, every)
        else:
            result = run_skal(ds, split, label, seed, budget, every)
        rows.append({"dataset": name, "strategy": label, "repeat": repeat, **result})
    return rows


# ---------------------------------------------------------------------- pick check
PEER_UTILITY = {
    "margin": ("margin_sampling", "margin_sampling"),
    "entropy": ("entropy_sampling", "entropy"),
    "least_confidence": ("uncertainty_sampling", "least_confident"),
}


def pick_check(name: str, strategy: str, seed: int, budget: int) -> dict:
    """Step one of our sessions; at each step ask modAL and scikit-activeml to pick with
    the session's fitted model, and compare."""
    ds = load(name)
    split = make_split(ds, seed)
    modal_name, skal_method = PEER_UTILITY[strategy]
    modal_fn = {
        "margin_sampling": margin_sampling,
        "entropy_sampling": entropy_sampling,
        "uncertainty_sampling": uncertainty_sampling,
    }[modal_name]
    modal_utility = {
        "margin_sampling": lambda m, X: -classifier_margin(m, X),
        "entropy_sampling": classifier_entropy,
        "uncertainty_sampling": classifier_uncertainty,
    }[modal_name]
    X_skal, _, _ = skal_inputs(ds, split)
    rows = np.concatenate([split.X_pool, split.X_test]).astype(object)
    skal = UncertaintySampling(method=skal_method, missing_label=MISSING, random_state=seed)
    counts = {
        peer: {"same": 0, "tie": 0, "differ": 0, "max_gap": 0.0, "tied_steps": 0}
        for peer in ("modAL", "skal")
    }
    examples: list[dict] = []
    session = Session(
        split.pool,
        ds.classes,
        features=ds.features,
        model=ds.model,
        strategy=strategy,
        truth="truth",
        store=":memory:",
        annotator="oracle",
        random_state=seed,
        audit_share=0.0,
    )
    try:
        for item_id in split.seeds:
            session.submit(item_id, split.pool.loc[item_id, "truth"])
        session.wait()
        y = np.full(len(split.y_pool), MISSING, dtype=np.int64)
        y[split.seed_positions] = split.y_pool[split.seed_positions]
        for step in range(budget):
            ours_id = session.queue(1).index[0]
            ours = int(split.pool.index.get_loc(ours_id))
            model = session.model_
            unlabeled = np.flatnonzero(y == MISSING)
            # modAL, through ActiveLearner.query
            theirs = modal_query(modal_fn, model, split.X_pool, unlabeled)
            utility = np.full(len(y), np.nan)
            utility[unlabeled] = modal_utility(model, split.X_pool[unlabeled])
            _tally(counts["modAL"], examples, "modAL", step, ours, theirs, utility)
            # scikit-activeml, with the same fitted model in its wrapper
            estimator = RowLookup.fitted(rows, model) if ds.kind == "text" else model
            clf = SklearnClassifier(estimator, classes=ds.classes, missing_label=MISSING)
            picked, utilities = skal.query(X_skal, y, clf, fit_clf=False, return_utilities=True)
            _tally(counts["skal"], examples, "skal", step, ours, int(picked[0]), utilities[0])
            session.submit(ours_id, split.pool.loc[ours_id, "truth"])
            session.wait()
            y[ours] = split.y_pool[ours]
    finally:
        session.close()
    return {
        "dataset": name,
        "strategy": strategy,
        "steps": budget,
        "counts": counts,
        "examples": examples[:6],
    }


def _tally(count: dict, examples: list, peer: str, step: int, ours: int, theirs: int, u: Any):
    u = np.asarray(u, dtype=float)
    best = np.nanmax(u)
    if np.sum(u >= best - TIE_TOL) > 1:  # several items share the best utility
        count["tied_steps"] += 1
    if ours == theirs:
        count["same"] += 1
        return
    gap = float(abs(u[theirs] - u[ours]))
    count["tie" if gap <= TIE_TOL else "differ"] += 1
    count["max_gap"] = max(count["max_gap"], gap)
    examples.append({"peer": peer, "step": step, "ours": ours, "theirs": theirs, "gap": gap})


def race_check(name: str, budget: int, every: int) -> list[tuple[int, float]]:
    """`race` itself on repetition 0, margin, first points: must equal our margin curve."""
    ds = load(name)
    curves = race(
        ds.frame,
        ds.classes,
        "truth",
        features=ds.features,
        model=ds.model,
        strategies=("margin",),
        budget=min(budget, 2 * every),
        repeats=1,
        seed_labels=SEED_LABELS,
        test_size=TEST_SIZE,
        eval_every=every,
        audit_share=0.0,
        random_state=0,
    )
    return [(int(n), float(a)) for n, a in zip(curves["n_labels"], curves["accuracy"], strict=True)]


def worker_init() -> None:
    threadpool_limits(limits=1)  # one BLAS/OpenMP thread per worker: jobs share the cores
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def run_task(task: tuple) -> tuple[str, Any]:
    kind, *args = task
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if kind == "repeat":
            result: Any = run_repeat(*args)
        elif kind == "pick":
            result = pick_check(*args)
        else:
            result = race_check(*args)
    seen: dict[str, int] = {}
    for w in caught:
        key = f"{w.category.__name__}: {str(w.message)[:160]}"
        seen[key] = seen.get(key, 0) + 1
    return kind, {"result": result, "warnings": seen, "task": list(task)}


# --------------------------------------------------------------------------- stats
def t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * stats.sem(values))
    if not np.isfinite(half):  # all equal
        half = 0.0
    return mean, mean - half, mean + half


def summarize(rows: list[dict], final_n: int) -> dict:
    curves = pd.DataFrame(
        [(r["dataset"], r["strategy"], r["repeat"], n, acc) for r in rows for n, acc in r["curve"]],
        columns=["dataset", "strategy", "repeat", "n_labels", "accuracy"],
    )
    out: dict = {"tables": {}, "curves": [], "groups": {}, "seconds": {}}
    for name, frame in curves.groupby("dataset", sort=False):
        aulc = frame.groupby(["strategy", "repeat"])["accuracy"].mean().unstack("repeat")
        final = (
            frame[frame["n_labels"] == final_n]
            .set_index(["strategy", "repeat"])["accuracy"]
            .unstack("repeat")
        )
        start = frame[frame["n_labels"] == SEED_LABELS]
        table = []
        for label in strategy_labels():
            if label not in aulc.index:
                continue
            mean, low, high = t_interval(aulc.loc[label].to_numpy())
            f_mean, f_low, f_high = t_interval(final.loc[label].to_numpy())
            entry = {
                "strategy": label,
                "aulc": mean,
                "aulc_low": low,
                "aulc_high": high,
                "final": f_mean,
                "final_low": f_low,
                "final_high": f_high,
                "repeats": int(aulc.loc[label].notna().sum()),
                "start_accuracy": float(start[start["strategy"] == label]["accuracy"].mean()),
            }
            if label != BASELINE:
                diff = (aulc.loc[label] - aulc.loc[BASELINE]).to_numpy()
                d_mean, d_low, d_high = t_interval(diff)
                entry.update(delta=d_mean, delta_low=d_low, delta_high=d_high)
                entry["verdict"] = (
                    "BELOW random"
                    if d_high < 0
                    else "above random"
                    if d_low > 0
                    else "tie (within noise)"
                )
            table.append(entry)
        diff = (aulc.loc["ours: margin, audit 0.1"] - aulc.loc["ours: margin"]).to_numpy()
        audit = dict(zip(("mean", "low", "high"), t_interval(diff), strict=True))
        out["tables"][name] = {"rows": table, "audit_vs_margin": audit}
        for (label, n), values in frame.groupby(["strategy", "n_labels"])["accuracy"]:
            mean, low, high = t_interval(values.to_numpy())
            out["curves"].append(
                {
                    "dataset": name,
                    "strategy": label,
                    "n_labels": int(n),
                    "mean": mean,
                    "low": low,
                    "high": high,
                }
            )
    for r in rows:
        out["seconds"].setdefault(r["dataset"], {}).setdefault(r["strategy"], []).append(
            r["seconds"]
        )
        if r["groups"]:
            out["groups"].setdefault(r["dataset"], {}).setdefault(r["strategy"], []).append(
                r["groups"]
            )
    return out


# -------------------------------------------------------------------------- output
def fmt(x: float, digits: int = 3) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.{digits}f}"


def signed(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:+.4f}"


def markdown(summary: dict, picks: list[dict], race_ok: dict, final_n: int) -> str:
    lines = []
    for name in DATASETS:
        if name not in summary["tables"]:
            continue
        ds = load(name)
        info = summary["tables"][name]
        split = make_split(ds, 0)
        lines += [
            f"### {name} ({ds.note}; pool {len(split.pool)}, test {len(split.test)}, "
            f"{info['rows'][0]['repeats']} repetitions)",
            "",
            f"| strategy | AULC | 95% CI | acc @ {final_n} labels [95% CI] | "
            "Δ AULC vs random [paired 95% CI] | verdict | s/run |",
            "|---|---:|---|---|---|---|---:|",
        ]
        seconds = summary["seconds"][name]
        for row in info["rows"]:
            delta = (
                f"{signed(row['delta'])} [{signed(row['delta_low'])}, {signed(row['delta_high'])}]"
                if "delta" in row
                else "—"
            )
            lines.append(
                f"| {row['strategy']} | {fmt(row['aulc'])} | "
                f"[{fmt(row['aulc_low'])}, {fmt(row['aulc_high'])}] | "
                f"{fmt(row['final'])} [{fmt(row['final_low'])}, {fmt(row['final_high'])}] | "
                f"{delta} | {row.get('verdict', 'baseline')} | "
                f"{np.mean(seconds[row['strategy']]):.1f} |"
            )
        audit = info["audit_vs_margin"]
        lines += [
            "",
            f"Audit mix (margin with audit_share=0.1 minus audit_share=0, paired): "
            f"{signed(audit['mean'])} [{signed(audit['low'])}, {signed(audit['high'])}].",
            f"Start (10 seed labels) accuracy equal for every strategy: "
            f"{_same_start(info['rows'])}. `race()` reproduces our margin curve (rep 0, "
            f"first points): {race_ok.get(name, 'not run')}.",
            "",
        ]
        if name in summary["groups"]:
            lines += group_table(summary["groups"][name])
    if picks:
        lines += [
            "### Same model state, same pick? (repetition 0, every step)",
            "",
            "| data set | ours | steps | steps with a tie for best | "
            "modAL same / tie / differ | skactiveml same / tie / differ | "
            "largest utility gap |",
            "|---|---|---:|---:|---|---|---:|",
        ]
        for p in picks:
            m, s = p["counts"]["modAL"], p["counts"]["skal"]
            gap = max(m["max_gap"], s["max_gap"])
            lines.append(
                f"| {p['dataset']} | {p['strategy']} | {p['steps']} | {m['tied_steps']} | "
                f"{m['same']} / {m['tie']} / {m['differ']} | {s['same']} / {s['tie']} / "
                f"{s['differ']} | {gap:.2e} |"
            )
        lines += [
            "",
            f"tie = a different item whose utility equals ours within {TIE_TOL:g} by the "
            "peer's own utility; differ = a real disagreement. Steps with a tie for best: "
            "more than one unlabeled item at the top utility (modAL's utility on the "
            "session's model), where any of them is a correct pick.",
            "",
        ]
    return "\n".join(lines)


def _same_start(rows: list[dict]) -> str:
    values = [r["start_accuracy"] for r in rows]
    spread = max(values) - min(values)
    return "yes" if spread < 1e-12 else f"no (spread {spread:.4f})"


def group_table(groups: dict) -> list[str]:
    lines = [
        "Per-subgroup test accuracy of the final model (mean over repetitions) and each "
        "group's share of the queried labels (pool share: "
        "A 0.60, B 0.40):",
        "",
        "| strategy | acc A | acc B | gap A−B [95% CI] | B share of queries |",
        "|---|---:|---:|---|---:|",
    ]
    for label in strategy_labels():
        if label not in groups:
            continue
        reports = groups[label]
        acc_a = np.array([r["accuracy"]["A"] for r in reports])
        acc_b = np.array([r["accuracy"]["B"] for r in reports])
        gap = t_interval(acc_a - acc_b)
        share = np.mean([r["query_share"].get("B", np.nan) for r in reports])
        lines.append(
            f"| {label} | {fmt(acc_a.mean())} | {fmt(acc_b.mean())} | "
            f"{signed(gap[0])} [{signed(gap[1])}, {signed(gap[2])}] | {fmt(share, 2)} |"
        )
    return [*lines, ""]


def plot(summary: dict, path: Path) -> None:
    """Learning curves per data set; t bands for our strategies (the peers' curves lie on
    top of ours where their picks agree, so their bands would only hide the others)."""
    import altair as alt

    frame = pd.DataFrame(summary["curves"])
    frame["library"] = frame["strategy"].str.split(":").str[0]
    base = alt.Chart().encode(
        x=alt.X("n_labels:Q", title="labels"),
        color=alt.Color(
            "strategy:N",
            sort=strategy_labels(),
            scale=alt.Scale(scheme="tableau10"),
            title="strategy",
        ),
    )
    band = (
        base.transform_filter(alt.datum.library == "ours")
        .mark_errorband(opacity=0.15)
        .encode(
            y=alt.Y("low:Q", title="test accuracy", scale=alt.Scale(zero=False)),
            y2="high:Q",
        )
    )
    line = base.mark_line(strokeWidth=1.8).encode(
        y="mean:Q",
        strokeDash=alt.StrokeDash(
            "library:N", sort=["ours", "modAL", "skactiveml"], title="library"
        ),
    )
    chart = (
        alt.layer(band, line, data=frame)
        .properties(width=380, height=250)
        .facet(facet=alt.Facet("dataset:N", sort=list(DATASETS), title=None), columns=2)
        .resolve_scale(y="independent")
        .properties(
            title="Learning curves: mean test accuracy over repetitions "
            "(bands: 95% t interval, our strategies)"
        )
    )
    chart.save(str(path), scale_factor=2)


def versions() -> dict:
    out = {"python": platform.python_version()}
    for package in ("hitl_widgets", "scikit-learn", "numpy", "modAL-python", "scikit-activeml"):
        try:
            out[package] = version(package)
        except Exception:
            out[package] = None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 repeats, 50 labels")
    parser.add_argument("--no-pick-check", action="store_true")
    parser.add_argument("--out", default="efficiency", help="file stem under results/")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.budget = 3, 50
    final_n = SEED_LABELS + args.budget
    started = time.perf_counter()
    RESULTS.mkdir(parents=True, exist_ok=True)

    peer_problems = []
    if MODAL_IMPORT_ERROR:
        peer_problems.append(f"modAL not importable: {MODAL_IMPORT_ERROR}")
    elif modal_teach_broken():
        peer_problems.append(
            f"modAL {versions()['modAL-python']}: ActiveLearner.teach/fit raise TypeError on "
            f"scikit-learn {versions()['scikit-learn']} (check_X_y() got an unexpected "
            "keyword argument 'force_all_finite'); ActiveLearner.query works, so the loop "
            "refits the estimator itself and hands it to the learner."
        )
    else:
        peer_problems.append("modAL: ActiveLearner.teach works here (the loop refits anyway).")
    if SKAL_IMPORT_ERROR:
        peer_problems.append(f"scikit-activeml not importable: {SKAL_IMPORT_ERROR}")
    else:
        peer_problems.append(
            "scikit-activeml: query strategies validate X as numeric, so the text set is "
            "passed as row numbers through a lookup wrapper (RowLookup in this file)."
        )

    cost = {"digits": 4, "product_reviews": 3, "synthetic_credit": 3, "breast_cancer": 1}
    tasks: list[tuple] = [
        ("repeat", name, r, args.budget, args.eval_every)
        for r in range(args.repeats)
        for name in sorted(args.datasets, key=lambda n: -cost[n])
    ]
    checks_possible = ActiveLearner is not None and SklearnClassifier is not None
    if checks_possible and not args.no_pick_check:
        tasks += [
            ("pick", name, strategy, 0, args.budget)
            for name in args.datasets
            for strategy in ("margin", "entropy", "least_confidence")
        ]
    tasks += [("race", name, args.budget, args.eval_every) for name in args.datasets]

    rows: list[dict] = []
    picks: list[dict] = []
    races: dict[str, list] = {}
    warned: dict[str, int] = {}
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=worker_init) as pool:
        futures = {pool.submit(run_task, task): task for task in tasks}
        for done, future in enumerate(as_completed(futures), 1):
            kind, payload = future.result()
            for key, n in payload["warnings"].items():
                warned[key] = warned.get(key, 0) + n
            if kind == "repeat":
                rows += payload["result"]
            elif kind == "pick":
                picks.append(payload["result"])
            else:
                races[payload["task"][1]] = payload["result"]
            print(
                f"[{done}/{len(tasks)}] {' '.join(map(str, futures[future][:3]))} "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

    summary = summarize(rows, final_n)
    race_ok = {}
    for name, points in races.items():
        mine = next(
            r["curve"]
            for r in rows
            if r["dataset"] == name and r["repeat"] == 0 and r["strategy"] == "ours: margin"
        )
        same = all(any(n == m and abs(a - b) < 1e-12 for m, b in mine) for n, a in points)
        race_ok[name] = "yes" if same else f"NO: race {points} vs ours {mine[: len(points)]}"
    order = {
        (d, s): i
        for i, (d, s) in enumerate(
            (d, s) for d in DATASETS for s in ("margin", "entropy", "least_confidence")
        )
    }
    picks.sort(key=lambda p: order[(p["dataset"], p["strategy"])])

    report = markdown(summary, picks, race_ok, final_n)
    runtime = time.perf_counter() - started
    header = (
        f"## Label efficiency: {args.repeats} repetitions, {SEED_LABELS} seed labels + "
        f"{args.budget} queried, accuracy every {args.eval_every} labels, test split "
        f"{TEST_SIZE:.0%}, logistic regression, {args.jobs} worker process(es)\n"
    )
    notes = ["", "Peer-library notes:", *[f"- {p}" for p in peer_problems]]
    if warned:
        notes += ["", "Warnings raised during the runs (count):"]
        notes += [f"- {n} x {k}" for k, n in sorted(warned.items(), key=lambda kv: -kv[1])]
    text = "\n".join([header, report, *notes, "", f"Total runtime: {runtime:.0f} s"])
    print(text)
    (RESULTS / f"{args.out}.md").write_text(text + "\n")
    payload = {
        "settings": {
            "repeats": args.repeats,
            "budget": args.budget,
            "seed_labels": SEED_LABELS,
            "eval_every": args.eval_every,
            "test_size": TEST_SIZE,
            "jobs": args.jobs,
            "datasets": args.datasets,
            "final_n": final_n,
        },
        "versions": versions(),
        "tables": summary["tables"],
        "curves": summary["curves"],
        "subgroups": summary["groups"],
        "seconds_per_run": {
            d: {s: float(np.mean(v)) for s, v in per.items()}
            for d, per in summary["seconds"].items()
        },
        "pick_check": picks,
        "race_check": race_ok,
        "peer_problems": peer_problems,
        "warnings": warned,
        "runtime_seconds": runtime,
    }
    (RESULTS / f"{args.out}.json").write_text(json.dumps(payload, indent=1, default=float))
    try:
        plot(summary, RESULTS / f"{args.out}.png")
    except Exception as error:  # the numbers are saved; say why the picture is missing
        print(f"plot failed: {type(error).__name__}: {error}", file=sys.stderr)
    print(f"Wrote {RESULTS / args.out}.{{md,json,png}}", file=sys.stderr)


def modal_teach_broken() -> bool | None:
    """Whether modAL's ActiveLearner.teach fails here (it did on scikit-learn 1.9)."""
    if ActiveLearner is None:
        return None
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    learner = ActiveLearner(LogisticRegression(), X_training=X[:2], y_training=np.array([0, 1]))
    try:
        learner.teach(X[2:], np.array([0, 1]))
    except TypeError:
        return True
    return False


if __name__ == "__main__":
    main()
