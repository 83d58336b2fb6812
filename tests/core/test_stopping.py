"""The stopping meter: stabilizing predictions on a fixed stop set, the gain of the last
labels, and a recommendation that, followed, loses little against twice the labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import hitl_widgets as hw
from hitl_widgets.core.analysis.stopping import stop_set, stop_set_agreement

FEATURES = ["a", "b", "c", "d", "e"]
METER = [
    "n_labels",
    "stop_set",
    "kappa",
    "kappa_min",
    "agreement",
    "stable",
    "gain_from",
    "gain",
    "gain_low",
    "gain_high",
    "n_draws",
    "recommendation",
    "note",
]


def data(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    X, y = make_classification(
        n_samples=900,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        flip_y=0.05,
        class_sep=1.2,
        random_state=seed,
    )
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["truth"] = y
    return frame.iloc[:600], frame.iloc[600:]


def session(pool: pd.DataFrame, seed: int) -> hw.Session:
    return hw.Session(
        pool,
        classes=[0, 1],
        features=FEATURES,
        model=LogisticRegression(),
        truth="truth",
        store=":memory:",
        random_state=seed,
        progress=False,
        explore=0.5,
    )


def test_meter_says_too_early_then_reads_the_evidence() -> None:
    pool, _ = data()
    s = session(pool, 0)
    s.simulate(12)
    early = s.stopping()
    assert list(early.columns) == METER and len(early) == 1
    assert early["recommendation"].iloc[0] == "too early"
    assert "too early to tell" in early["note"].iloc[0]
    s.simulate(48)
    meter = s.stopping().iloc[0]
    assert meter["recommendation"] in ("stop", "could stop", "continue")
    assert -1 <= meter["kappa_min"] <= meter["kappa"] <= 1 and 0 <= meter["agreement"] <= 1
    assert meter["gain_low"] <= meter["gain"] <= meter["gain_high"]
    assert meter["gain_from"] == 30 and meter["stop_set"] == len(pool)
    assert meter["note"].startswith(meter["recommendation"])
    s.close()


def test_stop_set_is_fixed_and_successive_models_are_compared() -> None:
    pool, _ = data()
    s = session(pool, 1)
    s.simulate(50)
    first = s.snapshot()
    s.simulate(10)
    assert np.array_equal(stop_set(first, 100), stop_set(s.snapshot(), 100))
    table = stop_set_agreement(s.snapshot(), window=3, step=10)
    assert list(table["n_labels"]) == [60, 50, 40]
    assert list(table["previous_n_labels"]) == [50, 40, 30]
    assert table["agreement"].between(0, 1).all()
    s.close()


def real(name: str, seed: int) -> tuple[hw.Session, np.ndarray, np.ndarray, int]:
    """A session on a bundled data set (75% pool), every row's features and truth, pool size."""
    bunch = load_breast_cancer() if name == "breast cancer" else load_digits()
    columns = [f"f{i:02d}" for i in range(bunch.data.shape[1])]
    frame = pd.DataFrame(bunch.data, columns=columns)
    frame["truth"] = bunch.target if name == "breast cancer" else (bunch.target >= 5)
    frame["truth"] = frame["truth"].astype(int)
    pool, test = train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame["truth"])
    s = hw.Session(
        pool,
        classes=[0, 1],
        features=columns,
        truth="truth",
        store=":memory:",
        random_state=seed,
        progress=False,
        explore=0.5,
    )
    X = np.vstack([pool[columns].to_numpy(), test[columns].to_numpy()])
    return s, X, np.concatenate([pool["truth"], test["truth"]]), len(pool)


def label_with_meter(s: hw.Session, budget: int) -> int | None:
    """Label 10 at a time, reading the meter every 20 labels from 60; the labels at its
    first "stop", or None if it never said so within the budget."""
    while s.status.n_labeled < budget:
        s.simulate(10)
        n = s.status.n_labeled
        if n >= 60 and n % 20 == 0 and s.stopping()["recommendation"].iloc[0] == "stop":
            return n
    return None


def right_and_fresh(
    s: hw.Session, X: np.ndarray, y: np.ndarray, n_pool: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per item: is the model right now, and has no model seen it (held out, or unlabeled)."""
    fresh = np.concatenate([~s.snapshot().decided, np.ones(len(y) - n_pool, dtype=bool)])
    return np.asarray(s.model_.predict(X) == y), fresh


@pytest.mark.slow
def test_following_stop_loses_little_against_twice_the_labels() -> None:
    """Breast cancer, where learning curves flatten early: the meter says "stop" within a
    160-label budget in most sessions (75% of 200 in benchmarks/bench_estimates.py), and
    twice the labels would not have bought a point on the items neither model saw."""
    stops, losses = [], []
    for seed in range(8):
        s, X, y, n_pool = real("breast cancer", seed)
        stopped = label_with_meter(s, 160)
        if stopped is not None:
            before = np.asarray(s.model_.predict(X) == y)
            s.simulate(stopped)
            now, fresh = right_and_fresh(s, X, y, n_pool)
            losses.append(float(now[fresh].mean() - before[fresh].mean()))
            stops.append(stopped)
        s.close()
    assert len(stops) >= 5, f"the meter said stop in {len(stops)} of 8 sessions"
    assert np.mean(np.asarray(losses) <= 0.01) >= 0.9, losses
    assert np.mean(stops) < 160  # it saved labels


@pytest.mark.slow
def test_meter_says_continue_while_labels_still_pay() -> None:
    """Digits ">= 5" (64 pixels) still learns past 120 labels: the meter never says stop,
    and doubling 120 labels does buy more than a point on average."""
    gains = []
    for seed in range(4):
        s, X, y, n_pool = real("digits", seed)
        assert label_with_meter(s, 120) is None
        before = np.asarray(s.model_.predict(X) == y)
        s.simulate(120)
        now, fresh = right_and_fresh(s, X, y, n_pool)
        gains.append(float(now[fresh].mean() - before[fresh].mean()))
        s.close()
    assert np.mean(gains) > 0.01, gains


def test_bad_level() -> None:
    pool, _ = data()
    s = session(pool, 2)
    s.simulate(20)
    with pytest.raises(ValueError, match="level must be a number strictly between 0 and 1"):
        from hitl_widgets.core.analysis.stopping import stopping

        stopping(s.snapshot(), level=1.0)
    s.close()


def test_text_pools_get_every_estimate_from_the_vectorized_pool() -> None:
    """The analyses refit the classifier on the pool as vectorized once, never on raw text."""
    from hitl_widgets.datasets import product_reviews

    s = hw.Session(
        product_reviews(400),
        classes=["neg", "pos"],
        features="text",
        subgroups="category",
        truth="truth",
        store=":memory:",
        random_state=0,
        audit_share=0.5,
        progress=False,
    )
    s.simulate(120)
    meter = s.stopping().iloc[0]
    assert meter["recommendation"] in ("stop", "could stop", "continue", "too early")
    assert meter["kappa_min"] <= meter["kappa"] <= 1
    estimate = s.estimate().iloc[0]
    assert 0 <= estimate["low"] <= estimate["estimate"] <= estimate["high"] <= 1
    assert not s.estimate(by="category").empty
    assert list(s.find_slices(columns="all").columns)[:2] == ["rank", "slice"]
    s.close()
