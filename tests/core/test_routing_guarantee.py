"""Guaranteed auto-accept: `Session.route(max_error=..., delta=...)` and its evidence.

The property: in at most about delta of the sessions is the true error of the
auto-accepted items above max_error (checked over simulated sessions with a truth
column); too few labels give a message with the missing labels, never a threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

import hitl_widgets as hw
from hitl_widgets.core.analysis.routing import RoutingPolicy, guaranteed_thresholds

MAX_ERROR, DELTA = 0.1, 0.2


class FixedModel(ClassifierMixin, BaseEstimator):
    """P(class 1) is the first feature whatever the labels: the error at each confidence
    is known, so whether a guarantee held can be checked exactly."""

    def fit(self, X: Any, y: Any) -> FixedModel:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        p = np.asarray(X, dtype=float)[:, 0]
        return np.column_stack([1 - p, p])


def pool(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Two thirds of the items look sure (confidence 0.96 to 0.999), but the model is
    overconfident: it is wrong on 4 to 8% of those and on many more below, so a threshold
    set too low breaks max_error = 0.1 while a high one keeps it."""
    rng = np.random.default_rng(seed)
    sure = rng.random(n) < 2 / 3
    confidence = np.where(sure, rng.uniform(0.96, 0.999, n), rng.uniform(0.5, 0.96, n))
    right = rng.random(n) < np.where(sure, confidence - 0.04, confidence - 0.15)
    says_one = rng.random(n) < 0.5
    p = np.where(says_one, confidence, 1 - confidence)
    truth = np.where(right, says_one, ~says_one).astype(int)
    return pd.DataFrame({"p": p, "truth": truth, "side": np.where(p > 0.5, "high", "low")})


def session(frame: pd.DataFrame, seed: int, audit_share: float = 0.5) -> hw.Session:
    return hw.Session(
        frame,
        classes=[0, 1],
        features=["p"],
        model=FixedModel(),
        truth="truth",
        subgroups="side",
        store=":memory:",
        random_state=seed,
        audit_share=audit_share,
        progress=False,
    )


def realised_error(s: hw.Session, threshold: float) -> float:
    snap = s.snapshot()
    auto = ~snap.decided & (snap.fit.pool.confidence >= threshold)
    return float(np.mean(snap.fit.pool.suggestion[auto] != snap.truth_codes[auto]))


def test_guarantee_holds_in_at_most_delta_of_sessions() -> None:
    frame = pool()
    guaranteed, violated = 0, 0
    runs = 30
    for seed in range(runs):
        s = session(frame, seed)
        s.simulate(100, wait=False)
        s.wait()
        table = guaranteed_thresholds(s.snapshot(), MAX_ERROR, DELTA)
        threshold = table["threshold"].iloc[0]
        if not np.isnan(threshold):
            guaranteed += 1
            violated += realised_error(s, threshold) > MAX_ERROR
            assert table["error_bound"].iloc[0] <= MAX_ERROR
        s.close()
    assert guaranteed >= runs // 3, "too few guarantees: the check would prove nothing"
    slack = 2 * np.sqrt(DELTA * (1 - DELTA) / runs)
    assert violated / runs <= DELTA + slack


def labeled_until_guaranteed(max_error: float) -> hw.Session:
    """A session with enough uniform labels for a guarantee (the first seed that has one)."""
    for seed in range(20):
        s = session(pool(), seed)
        s.simulate(80, wait=False)
        s.wait()
        if guaranteed_thresholds(s.snapshot(), max_error, DELTA)["threshold"].notna().all():
            return s
        s.close()
    raise AssertionError("no seed gave a guarantee")


def test_route_with_max_error_uses_the_guaranteed_threshold() -> None:
    s = labeled_until_guaranteed(0.15)
    table = s.route(max_error=0.15, delta=DELTA)
    evidence = table.attrs["guarantee"]
    threshold = evidence["threshold"].iloc[0]
    auto = table[table["route"] == "auto"]
    assert (auto["confidence"] >= threshold).all() and len(auto) == evidence["auto_n"].iloc[0]
    assert (table.loc[table["route"] == "review", "confidence"] < threshold).all()
    assert "with probability at least 80%" in evidence["note"].iloc[0]
    queued = s.queue(20)
    assert (queued["confidence"].dropna() < threshold).all()  # people get the rest
    s.close()


def per_subgroup_guarantee() -> tuple[hw.Session, dict[str, float | None]]:
    """A session where at least one subgroup got a guaranteed threshold (first such seed)."""
    for seed in range(2, 22):
        s = session(pool(), seed)
        s.simulate(80, wait=False)
        s.wait()
        evidence = guaranteed_thresholds(s.snapshot(), 0.15, DELTA, by="side")
        assert list(evidence["subgroup"]) == ["high", "low"]
        pairs = zip(evidence["subgroup"], evidence["threshold"], strict=True)
        cuts = {g: (None if np.isnan(t) else t) for g, t in pairs}
        if any(c is not None for c in cuts.values()):
            return s, cuts
        s.close()
    raise AssertionError("no seed gave any subgroup a guarantee")


def test_per_subgroup_without_a_guarantee_nobody_is_auto_accepted() -> None:
    s, cuts = per_subgroup_guarantee()
    table = s.route(max_error=0.15, delta=DELTA, by="side")
    side = s.data["side"].reindex(table.index)
    for group, cut in cuts.items():
        routes = table.loc[side == group, "route"]
        if cut is None:
            assert not (routes == "auto").any()
    s.close()


def test_too_few_labels_say_how_many_more_instead_of_guessing() -> None:
    s = session(pool(), 3, audit_share=0.1)
    s.simulate(25, wait=False)
    s.wait()
    with pytest.raises(
        ValueError,
        match=r"not enough labels to guarantee this yet: about \d+ more audit labels needed",
    ):
        s.route(max_error=0.02, delta=0.05)
    assert s.queue(5)["confidence"].notna().any()  # nothing was routed
    table = guaranteed_thresholds(s.snapshot(), 0.02, 0.05)
    assert np.isnan(table["threshold"].iloc[0]) and table["labels_needed"].iloc[0] > 0
    s.close()


def test_explicit_threshold_route_still_works_and_policy_accepts_none() -> None:
    s = session(pool(), 4)
    s.simulate(20, wait=False)
    s.wait()
    table = s.route(0.9, feed_queue=False)
    assert set(table["route"]) <= {"labeled", "auto", "review", "escalate"}
    assert "guarantee" not in table.attrs
    policy = RoutingPolicy(0.8, per_subgroup={"side": {"low": None, "high": 0.95}})
    cut = policy.thresholds(s.snapshot())
    low = (s.data["side"] == "low").to_numpy()
    assert np.isinf(cut[low]).all() and (cut[~low] == 0.95).all()
    s.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_error": 0.0}, "max_error must be strictly between 0 and 1"),
        ({"max_error": 1.0}, "max_error must be strictly between 0 and 1"),
        ({"max_error": 0.1, "delta": 1.5}, "delta must be between 0 and 1"),
        ({"max_error": 0.1, "delta": 0}, "delta must be strictly between 0 and 1"),
        ({"threshold": 0.9, "max_error": 0.1}, "route takes a threshold, or max_error"),
        ({}, "route takes a threshold, or max_error"),
        ({"threshold": 0.9, "by": "side"}, "route takes a threshold, or max_error"),
        ({"max_error": 0.1, "by": "nope"}, "not a column of the pool"),
    ],
)
def test_bad_guarantee_requests(kwargs: dict, message: str) -> None:
    s = session(pool(100), 5)
    s.simulate(10, wait=False)
    s.wait()
    with pytest.raises(ValueError, match=message):
        s.route(**kwargs)
    s.close()
