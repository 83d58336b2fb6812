"""`Session.estimate`: selection probabilities, unbiasedness and coverage, bad input.

The statistical tests run many small simulated sessions (a truth column as the oracle)
and check properties, not numbers: the recorded selection probabilities match how often
the queue really picks each item; with a model whose residuals cannot change, the
estimate is unbiased within Monte Carlo error; with a learning model, the 95% intervals
cover the current model's true accuracy on the unlabeled items about 95% of the time
and are narrower than the audit-only Wilson interval at the same number of labels.
The full-size evidence is benchmarks/bench_estimates.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import hitl_widgets as hw
from hitl_widgets.core.analysis.estimates import draws, labeled_rows
from hitl_widgets.core.analysis.intervals import wilson_interval
from hitl_widgets.core.pool import build_pool
from hitl_widgets.core.queue import (
    EXPLORE_FLOOR,
    UNORDERED_POLICY,
    QueuePlanner,
    QueueState,
    SlotPolicy,
)
from hitl_widgets.core.scoring import PoolScores
from hitl_widgets.core.strategies import MarginSampling
from hitl_widgets.core.training import FitResult

COLUMNS = ["metric", "estimate", "unclipped", "low", "high", "level", "n_labels", "n_eff"]
COLUMNS += ["n_items"]


class FixedModel(ClassifierMixin, BaseEstimator):
    """Ignores its labels: P(class 1) is the first feature, whatever it was fitted on.

    Its residuals never change, so only the queue's random draws move the estimate:
    unbiasedness of the design weighting in its purest form.
    """

    def fit(self, X: Any, y: Any) -> FixedModel:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        p = np.asarray(X, dtype=float)[:, 0]
        return np.column_stack([1 - p, p])


def fixed_pool(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """The model says p; the truth is less sure than the model (it is overconfident)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    truth = (rng.random(n) < 0.5 + 0.7 * (p - 0.5)).astype(int)
    group = np.where(rng.random(n) < 0.4, "B", "A")
    return pd.DataFrame({"p": p, "noise": rng.normal(size=n), "truth": truth, "group": group})


def learning_pool(n: int = 400) -> pd.DataFrame:
    X, y = make_classification(
        n_samples=n, n_features=4, n_informative=3, n_redundant=0, flip_y=0.08, random_state=1
    )
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["truth"] = y
    frame["group"] = np.where(X[:, 1] > 0.3, "B", "A")
    frame["site"] = np.where(np.arange(n) % 25 == 0, "rare", "common")  # 4% of the pool
    return frame


def true_accuracy(s: hw.Session, group: str | None = None) -> float:
    snap = s.snapshot()
    unlabeled = ~snap.decided
    if group is not None:
        unlabeled &= (snap.data["group"] == group).to_numpy()
    right = snap.fit.pool.suggestion[unlabeled] == snap.truth_codes[unlabeled]
    return float(right.mean())


def run(frame: pd.DataFrame, features: list[str], model: Any, seed: int, n: int) -> hw.Session:
    s = hw.Session(
        frame,
        classes=[0, 1],
        features=features,
        model=model,
        truth="truth",
        subgroups="group",
        store=":memory:",
        random_state=seed,
        progress=False,
        explore=0.5,
    )
    s.simulate(n, wait=False)  # refits coalesce: the probabilities are those of the queue
    s.wait()
    return s


# ---------------------------------------------------------------- probabilities
# slot 0's floor at audit share 0.2 and explore 0.5: the audit share plus the
# exploration floor's share of the weights
FLOOR = 0.2 + 0.5 * EXPLORE_FLOOR / (1 + EXPLORE_FLOOR)


def slot_zero() -> tuple[Any, QueueState]:
    """A 12-item pool with fixed scores, items 3 and 7 labeled or focused out."""
    frame = pd.DataFrame({"x": np.arange(12.0)})
    scores = np.array([0.9, 0.8, 0.8, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0, 0.6, 0.7])
    fit = FitResult(1, None, PoolScores(scores, np.zeros(12, np.int16), 1 - scores / 2), 5, 5, 0.0)
    eligible = np.ones(12, dtype=bool)
    eligible[[3, 7]] = False  # never drawn
    return build_pool(frame, ["x"]), QueueState(fit, eligible, np.zeros(12, bool), n_labels=0)


def exploring_session(seed: int, explore: float = 0.5) -> hw.Session:
    """A learning pool labeled with `explore` (half the slots), a refit after every label."""
    return hw.Session(
        learning_pool(),
        classes=[0, 1],
        features=["a", "b", "c", "d"],
        truth="truth",
        store=":memory:",
        random_state=seed,
        progress=False,
        explore=explore,
    )


def test_recorded_probabilities_match_how_often_the_queue_picks() -> None:
    """Slot 0 over many seeds: each item's pick frequency equals its recorded probability."""
    pool, state = slot_zero()
    draws, recorded = 2000, {}
    picks = np.zeros(12)
    for seed in range(draws):
        plan = QueuePlanner(pool, MarginSampling(), 0.2, seed, explore=0.5).plan(state, 3)
        picks[plan.chosen[0]] += 1
        recorded.setdefault(int(plan.chosen[0]), plan.probability[0])
        policy = SlotPolicy.parse(plan.policy[0])
        assert policy.support == 10 and policy.floor == pytest.approx(FLOOR, abs=1e-6)
    assert picks[[3, 7]].sum() == 0
    assert sum(recorded.values()) == pytest.approx(1.0)  # every fresh item was picked once
    for item, probability in recorded.items():
        tolerance = 4 * np.sqrt(probability * (1 - probability) / draws) + 1e-3
        assert abs(picks[item] / draws - probability) < tolerance, item


def test_audits_are_uniform_draws() -> None:
    """Slot 0 over many seeds: an audit, scheduled or an exploration draw kept as one
    (`SlotDraws.kept_as_audit`), picks every fresh item equally often, and withholds the
    model's suggestion. At audit share 0.2 and explore 0.5 a fifth of the exploration
    draws are kept, so slot 0 is an audit with chance FLOOR = 0.3."""
    pool, state = slot_zero()
    draws, audited = 4000, np.zeros(12)
    for seed in range(draws):
        plan = QueuePlanner(pool, MarginSampling(), 0.2, seed, explore=0.5).plan(state, 1)
        if plan.audit[0]:
            audited[plan.chosen[0]] += 1
    share = FLOOR / 10
    fresh = audited[state.eligible] / draws
    assert audited[[3, 7]].sum() == 0
    assert np.abs(fresh - share).max() < 4 * np.sqrt(share * (1 - share) / draws)


def test_exploration_adds_audits_beyond_the_schedule() -> None:
    """With explore=0.5 the audits outnumber the scheduled audit slots: the guarantee of
    `route` and the audit-only figures have more uniform labels than the audit share
    alone gives, and every audit row was served without a suggestion."""
    frame = learning_pool()
    audits = []
    for explore in (0.5, 0.0):  # the same seed: the same scheduled audit slots
        s = exploring_session(5, explore)
        for _ in range(120):
            queue = s.queue(1)
            assert queue["suggestion"][queue["audit"]].isna().all()
            s.submit(queue.index[0], int(frame.loc[queue.index[0], "truth"]))
            s.wait()  # a refit after every label: the queue explores from the second class on
        snap = s.snapshot()
        audits.append(int(snap.labeled["audit"].sum()))
        design = draws(snap, labeled_rows(snap))
        assert design.uniform_subset()[design.audit & design.whole].all()
        s.close()
    assert audits[0] > 1.4 * audits[1] > 0


def test_a_label_given_with_the_suggestion_shown_is_no_audit() -> None:
    """A caller who says the suggestion was on screen gave an anchored label: even on an
    item offered as an audit it does not count as one."""
    frame = learning_pool()
    s = exploring_session(5)
    offered = 0
    for _ in range(60):
        queue = s.queue(1)
        offered += bool(queue["audit"].iloc[0])
        s.submit(queue.index[0], int(frame.loc[queue.index[0], "truth"]), suggestion_shown=True)
        s.wait()
    assert offered > 5
    assert not s.snapshot().labeled["audit"].any()
    s.close()


def fixed_session(frame: pd.DataFrame) -> hw.Session:
    """A session over `frame` whose model's residuals never change (`FixedModel`)."""
    return hw.Session(
        frame,
        classes=[0, 1],
        features=["p", "noise"],
        model=FixedModel(),
        truth="truth",
        store=":memory:",
        random_state=0,
        progress=False,
    )


def test_label_events_carry_the_selection_probability() -> None:
    frame = fixed_pool(200)
    s = fixed_session(frame)
    first = s.queue(1).index[0]
    s.submit(first, int(frame.loc[first, "truth"]))
    event = s.event_log()[-1]
    assert event.selection_probability == pytest.approx(1 / 200)  # cold start: uniform
    assert SlotPolicy.parse(event.query_policy) == SlotPolicy(200, 1.0, 1.0)
    s.simulate(30)
    events = s.events.iloc[1:]
    audit = events[events["audit"]]
    assert audit["selection_probability"].notna().all()
    top = events[~events["audit"] & events["query_policy"].str.startswith("margin")]
    assert (top["selection_probability"] > 0.9).all()  # the best item: 0.1/n + 0.9
    by_hand = next(i for i in frame.index if not s.is_labeled(i) and i not in s.queue(5).index)
    s.submit(by_hand, 0)
    assert s.event_log()[-1].selection_probability is None  # not offered: no draw
    s.close()


def test_a_label_is_a_draw_only_in_the_queue_order() -> None:
    """An item taken while items ahead of it in its queue were open was chosen by a
    person: no probability, no audit. Items taken in order answer the queue they came
    from (`plan`), even after a newer queue was planned."""
    frame = fixed_pool(200)
    s = fixed_session(frame)
    s.simulate(10)
    first = s.queue(3)
    s.submit(first.index[2], 0)  # two items ahead of it are open
    event = s.event_log()[-1]
    assert event.selection_probability is None and not event.audit
    assert event.query_policy == UNORDERED_POLICY
    newer = s.queue(3)  # planned after that label: the rows ahead are first's own
    assert newer.attrs["plan"] != first.attrs["plan"]
    for item in first.index[:2]:
        s.submit(item, 0, plan=first.attrs["plan"])
        assert s.event_log()[-1].selection_probability is not None
    with pytest.raises(ValueError, match="plan must be at least 0"):
        s.submit(newer.index[0], 0, plan=-2)
    s.close()


# ---------------------------------------------------------------- statistics
def simulated(frame: pd.DataFrame, features: list[str], model: Any, runs: int, n: int) -> dict:
    """Estimates next to the truth over `runs` simulated sessions of `n` labels each."""
    out: dict[str, list] = {"overall": [], "groups": [], "ratio": []}
    for seed in range(runs):
        s = run(frame, features, model, seed, n)
        row = s.estimate().iloc[0]
        out["overall"].append((row["estimate"], row["low"], row["high"], true_accuracy(s)))
        for _, g in s.estimate(by="group").dropna(subset=["estimate"]).iterrows():
            truth = true_accuracy(s, g["subgroup"])
            out["groups"].append((g["estimate"], g["low"], g["high"], truth))
        audits = s.snapshot().labeled.query("audit")
        if len(audits):  # the audit-only interval needs at least one audit label
            low, high = wilson_interval(
                (audits["suggestion"] == audits["label"]).sum(), len(audits)
            )
            out["ratio"].append((row["high"] - row["low"]) / float(high - low))
        s.close()
    return out


def coverage(rows: list[tuple]) -> float:
    return float(np.mean([low <= truth <= high for _, low, high, truth in rows]))


@pytest.fixture(scope="module")
def fixed_runs() -> dict:
    return simulated(fixed_pool(), ["p", "noise"], FixedModel(), runs=40, n=30)


@pytest.fixture(scope="module")
def learning_runs() -> dict:
    return simulated(learning_pool(), ["a", "b", "c", "d"], LogisticRegression(), runs=24, n=50)


def test_unbiased_when_only_the_draws_are_random(fixed_runs: dict) -> None:
    errors = np.array([estimate - truth for estimate, _, _, truth in fixed_runs["overall"]])
    assert abs(errors.mean()) < 3 * errors.std(ddof=1) / np.sqrt(len(errors)) + 0.002
    assert 0.85 <= coverage(fixed_runs["overall"]) <= 1.0


def test_intervals_cover_the_current_models_accuracy(learning_runs: dict) -> None:
    assert coverage(learning_runs["overall"]) >= 0.8  # 24 runs: 0.8 is 95% minus 3 s.e.
    assert len(learning_runs["groups"]) >= 30
    assert coverage(learning_runs["groups"]) >= 0.8


def test_intervals_are_narrower_than_the_audit_only_wilson(learning_runs: dict) -> None:
    assert np.mean(learning_runs["ratio"]) <= 0.75


# ---------------------------------------------------------------- tables
@pytest.fixture(scope="module")
def labeled() -> hw.Session:
    s = run(learning_pool(), ["a", "b", "c", "d"], LogisticRegression(), 3, 60)
    yield s
    s.close()


def test_tables_say_what_they_estimate(labeled: hw.Session) -> None:
    accuracy = labeled.estimate()
    assert list(accuracy.columns) == [*COLUMNS, "model_version", "method", "note"]
    row = accuracy.iloc[0]
    assert row["low"] <= row["estimate"] <= row["high"] and row["n_labels"] >= 50
    # the unbiased ratio, before clipping to [0, 1]: equal to the estimate inside it
    assert row["unclipped"] == pytest.approx(row["estimate"]) or not 0 < row["estimate"] < 1
    assert "unlabeled items" in row["note"] and row["n_items"] == 400 - 60
    error = labeled.estimate("error_rate").iloc[0]
    assert error["estimate"] == pytest.approx(1 - row["estimate"])
    assert error["low"] == pytest.approx(1 - row["high"])
    assert error["unclipped"] == pytest.approx(1 - row["unclipped"])
    recall = labeled.estimate("recall")
    assert list(recall["class"]) == [0, 1] and recall["estimate"].between(0, 1).all()
    by = labeled.estimate(by="group", level=0.8)
    assert list(by["subgroup"]) == ["A", "B"] and (by["level"] == 0.8).all()
    assert (by["n_items"].sum()) == row["n_items"]


def test_the_note_says_when_top_picks_carry_the_estimate(labeled: hw.Session) -> None:
    """With the deterministic top-k (explore=0) the draws are mostly top picks worth about
    a tenth of their number as random labels: the note says so and how to fix it."""
    assert "top picks" not in labeled.estimate()["note"].iloc[0]  # explore=0.5
    s = hw.Session(
        learning_pool(),
        classes=[0, 1],
        features=["a", "b", "c", "d"],
        truth="truth",
        store=":memory:",
        random_state=3,
        progress=False,
    )
    s.simulate(60)
    note = s.estimate()["note"].iloc[0]
    assert "Most of those labels were the queue's top picks" in note
    assert "Session(explore=0.5)" in note
    s.close()


def test_a_subgroup_with_too_few_labels_gets_no_number(labeled: hw.Session) -> None:
    table = labeled.estimate(by="site").set_index("subgroup")
    rare = table.loc["rare"]
    assert rare["n_labels"] < 10 and np.isnan(rare["estimate"]) and np.isnan(rare["low"])
    assert rare["note"].startswith("not enough labels to estimate this yet")
    assert np.isfinite(table.loc["common", "estimate"])


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, True, "0.95", float("nan")])
def test_level_must_be_inside_zero_one(labeled: hw.Session, level: Any) -> None:
    with pytest.raises(ValueError, match="level must be a number strictly between 0 and 1"):
        labeled.estimate(level=level)


def test_unknown_metric_or_column(labeled: hw.Session) -> None:
    with pytest.raises(ValueError, match="metric must be one of"):
        labeled.estimate("f1")
    with pytest.raises(ValueError, match="not a column of the pool"):
        labeled.estimate(by="region")


def test_no_labels_or_one_class() -> None:
    frame = fixed_pool(50)
    s = hw.Session(frame, classes=[0, 1], features=["p"], store=":memory:", progress=False)
    with pytest.raises(ValueError, match="no labels yet"):
        s.estimate()
    s.submit(0, 1)
    s.submit(1, 1)
    s.wait()
    with pytest.raises(ValueError, match="only one class labeled so far"):
        s.estimate()
    with pytest.raises(ValueError, match="only one class labeled so far"):
        s.stopping()
    s.close()
