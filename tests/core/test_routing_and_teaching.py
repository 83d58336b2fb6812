"""Confidence routing, the simulated oracle and the strategy race."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

import hitl_widgets as hw
from hitl_widgets.core.race import area_under_curve, race, race_summary

CLASSES = ["malignant", "benign"]


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame.copy()
    frame["truth"] = frame.pop("target").map({0: "malignant", 1: "benign"})
    frame["amount"] = np.arange(len(frame)) % 100
    return frame


@pytest.fixture
def trained(cancer) -> hw.Session:
    s = hw.Session(
        cancer,
        classes=CLASSES,
        truth="truth",
        subgroups=["mean radius"],
        store=":memory:",
        random_state=0,
        audit_share=0.3,
    )
    s.simulate(60)
    return s


def test_simulate_labels_through_the_real_path(cancer, tmp_path):
    s = hw.Session(
        cancer, classes=CLASSES, truth="truth", store=tmp_path / "sim.db", random_state=0
    )
    answered = s.simulate(25)
    assert len(answered) == 25 and len(s.labels) == 25
    assert (answered["label"] == answered["oracle_label"]).all()
    assert (s.labels.loc[answered.index, "label"] == cancer.loc[answered.index, "truth"]).all()
    assert s.model_ is not None and len(s.events) == 25


def test_simulate_noise_and_custom_oracle(cancer):
    s = hw.Session(cancer, classes=CLASSES, truth="truth", store=":memory:", random_state=0)
    noisy = s.simulate(100, noise=0.3, random_state=1)
    wrong = (noisy["label"] != noisy["oracle_label"]).mean()
    assert 0.15 < wrong < 0.45
    always = s.simulate(5, oracle=lambda item_id, row: "benign")
    assert (always["label"] == "benign").all()
    with pytest.raises(ValueError, match="noise"):
        s.simulate(1, noise=2)
    plain = hw.Session(cancer.drop(columns="truth"), classes=CLASSES, store=":memory:")
    with pytest.raises(ValueError, match="needs an oracle"):
        plain.simulate(1)


def test_route_splits_the_pool(trained):
    table = trained.route(0.95, escalate_below=0.6, feed_queue=False)
    assert len(table) == len(trained.data)
    assert set(table["route"]) <= {"labeled", "auto", "review", "escalate"}
    auto = table[table["route"] == "auto"]
    assert (auto["confidence"] >= 0.95).all() and (auto["provenance"] == "model").all()
    assert (auto["label"] == auto["suggestion"]).all()
    labeled = table[table["route"] == "labeled"]
    assert len(labeled) == 60 and (labeled["provenance"] == "human").all()
    assert (labeled["label"] == trained.labels.loc[labeled.index, "label"]).all()
    pending = table[table["route"].isin(["review", "escalate"])]
    assert pending["label"].isna().all() and pending["provenance"].isna().all()
    assert (table.loc[table["route"] == "escalate", "confidence"] < 0.6).all()


def test_route_feeds_the_queue_and_exports(trained, tmp_path):
    table = trained.route(0.9, export=tmp_path / "routes.csv")
    queue = trained.queue(20)
    assert (table.loc[queue.index, "route"].isin(["review", "escalate"])).all()
    assert len(pd.read_csv(tmp_path / "routes.csv")) == len(trained.data)
    trained.clear_routing()
    assert len(trained.queue(600)) == len(trained.data) - 60


def test_route_per_class_subgroup_and_impact(trained):
    strict = trained.route(0.6, per_class={"malignant": 0.999}, feed_queue=False)
    malignant_auto = strict[(strict["route"] == "auto") & (strict["suggestion"] == "malignant")]
    assert (malignant_auto["confidence"] >= 0.999).all()
    by_amount = trained.route(0.5, impact="amount", impact_limit=90, feed_queue=False)
    high = trained.data["amount"] >= 90
    unlabeled = by_amount["route"] != "labeled"
    assert (by_amount.loc[high & unlabeled, "route"] == "escalate").all()
    group = trained.subgroup_labels("mean radius").iloc[0]
    sub = trained.route(0.5, per_subgroup={"mean radius": {group: 1.0}}, feed_queue=False)
    in_group = (trained.subgroup_labels("mean radius") == group) & (sub["route"] != "labeled")
    auto_in_group = in_group & (sub["route"] == "auto")
    assert (sub.loc[auto_in_group, "confidence"] >= 1.0).all()
    assert (sub.loc[in_group & (sub["confidence"] < 1.0), "route"] == "review").all()
    with pytest.raises(ValueError, match="not a class"):
        trained.route(0.9, per_class={"maybe": 0.9})
    with pytest.raises(ValueError, match="between 0 and 1"):
        trained.route(1.5)


def test_routing_curve_is_monotone_and_honest(trained):
    curve = trained.routing_curve([0.6, 0.8, 0.9, 0.99])
    assert curve["automation_rate"].is_monotonic_decreasing
    assert (curve["audit_n"].diff().dropna() <= 0).all()
    ok = curve["audit_n"] > 0
    assert (
        (curve.loc[ok, "audit_low"] <= curve.loc[ok, "audit_accuracy"])
        & (curve.loc[ok, "audit_accuracy"] <= curve.loc[ok, "audit_high"])
    ).all()
    assert curve["truth_accuracy"].between(0, 1).all()
    per_group = trained.routing_curve([0.9], by="mean radius")
    assert per_group["subgroup"].nunique() == 4


def test_race_compares_strategies_on_equal_footing(cancer):
    curves = race(
        cancer,
        CLASSES,
        "truth",
        strategies=["margin", "random"],
        budget=30,
        repeats=2,
        eval_every=10,
    )
    assert set(curves["strategy"]) == {"margin", "random"}
    assert sorted(curves["n_labels"].unique()) == [10, 20, 30, 40]
    first = curves[curves["n_labels"] == 10].groupby("repeat")["accuracy"].nunique()
    assert (first == 1).all()  # same seed labels -> same start for every strategy
    summary = race_summary(curves)
    assert {"mean", "low", "high"} <= set(summary.columns)
    auc = area_under_curve(curves)
    assert list(auc.columns[:2]) == ["strategy", "aulc"] and len(auc) == 2
