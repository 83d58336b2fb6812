"""The stopping meter: stabilizing predictions on a fixed stop set, the gain of the last
labels, and a recommendation that, followed, loses little against twice the labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

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


@pytest.mark.slow
@pytest.mark.xfail(
    reason="not yet met: before the gain interval was widened to the models' disagreement "
    "region, following 'stop' lost more than 1 point against twice the labels in over 10% of "
    "sessions; widened, the meter seldom says 'stop' within 160 labels (issue #12 stays open)",
    strict=False,
)
def test_following_the_recommendation_loses_little_against_twice_the_labels() -> None:
    pool, test = data()
    X, y = test[FEATURES].to_numpy(), test["truth"].to_numpy()
    losses, stops = [], []
    for seed in range(8):
        s = session(pool, seed)
        stopped_at, accuracy_at_stop = None, None
        while s.status.n_labeled < 160:
            s.simulate(10, wait=False)
            s.wait()
            n = s.status.n_labeled
            accuracy = float(np.mean(s.model_.predict(X) == y))
            read = stopped_at is None and n >= 40 and n % 20 == 0
            if read and s.stopping()["recommendation"].iloc[0] == "stop":
                stopped_at, accuracy_at_stop = n, accuracy
            if stopped_at is not None and n >= 2 * stopped_at:
                losses.append(accuracy - accuracy_at_stop)
                stops.append(stopped_at)
                break
        s.close()
    assert len(stops) >= 5, "the meter seldom said stop: nothing was tested"
    assert np.mean(np.asarray(losses) <= 0.01) >= 0.9


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
