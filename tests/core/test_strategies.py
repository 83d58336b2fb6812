"""Contract tests for query strategies and the one ranking function they all go through.

Every strategy (the four built-ins, a plain function and a custom QueryStrategy object)
must give one finite score per row, and the session must turn those scores into a queue
that is best first, leaves labeled items out, puts skipped items last, and is the same
for the same seed. The uncertainty scores are checked against a plain numpy reference,
modAL and scikit-activeml.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from modAL.uncertainty import (
    classifier_entropy,
    classifier_margin,
    classifier_uncertainty,
    entropy_sampling,
    margin_sampling,
    uncertainty_sampling,
)
from skactiveml.classifier import SklearnClassifier
from skactiveml.pool import UncertaintySampling
from skactiveml.pool._uncertainty_sampling import uncertainty_scores
from sklearn.datasets import load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import hitl_widgets as hw
from hitl_widgets.core.queue import AUDIT_REASON, COLD_START_REASON
from hitl_widgets.core.ranking import top_k

CLASSES = [0, 1, 2, 3]
N_ROWS = 400


# ---------------------------------------------------------------------- fixtures
def make_data(n_rows: int = N_ROWS) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_classification(
        n_samples=n_rows,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=4,
        n_clusters_per_class=1,
        random_state=0,
    )
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]), y


DATA, TRUTH = make_data()
# five items of each class, in id order: enough to fit, and every class is present
SEED_IDS = sorted(int(i) for c in CLASSES for i in np.flatnonzero(c == TRUTH)[:5])


def least_confident_fn(model: Any, X: Any) -> np.ndarray:
    """A plain-function strategy."""
    return 1.0 - model.predict_proba(X).max(axis=1)


class DecisionGap:
    """A custom QueryStrategy object: small gap between the top two decision values first."""

    name = "decision_gap"
    needs_model = True

    def score(self, model: Any, X: Any) -> np.ndarray:
        values = model.decision_function(X)
        if values.ndim == 1:  # two classes: the distance to the one boundary
            return -np.abs(values)
        values = np.sort(values, axis=1)
        return -(values[:, -1] - values[:, -2])


STRATEGIES = ["margin", "entropy", "least_confidence", "random", least_confident_fn, DecisionGap()]
STRATEGY_IDS = ["margin", "entropy", "least_confidence", "random", "function", "object"]


def session(strategy: Any = "margin", random_state: int | None = 0, **kwargs: Any) -> hw.Session:
    """A session; audits off unless asked for, so the queue is the strategy's ranking alone."""
    kwargs.setdefault("audit_share", 0.0)
    kwargs.setdefault("store", ":memory:")
    kwargs.setdefault("annotator", "ana")
    return hw.Session(DATA, classes=CLASSES, strategy=strategy, random_state=random_state, **kwargs)


def label_seed(s: hw.Session, ids: list[int] = SEED_IDS) -> None:
    for item_id in ids:
        s.submit(item_id, int(TRUTH[item_id]))
    assert s.wait(timeout=30)


def assert_best_first(frame: pd.DataFrame) -> None:
    scores = frame["score"].to_numpy()
    assert np.all(np.diff(scores) <= 0), "queue scores are not non-increasing"


# ------------------------------------------------------------------------ shape
def test_custom_object_is_a_query_strategy() -> None:
    assert isinstance(DecisionGap(), hw.QueryStrategy)
    for name, kind in [
        ("margin", hw.MarginSampling),
        ("entropy", hw.EntropySampling),
        ("least_confidence", hw.LeastConfidence),
        ("random", hw.RandomSampling),
    ]:
        with session(name) as s:
            assert type(s.strategy) is kind
            assert s.strategy.name == name
    with session(least_confident_fn) as s:
        assert s.strategy.name == "least_confident_fn"
    custom = DecisionGap()
    with session(custom) as s:
        assert s.strategy is custom
    with pytest.raises(ValueError, match="unknown strategy 'margins'"):
        session("margins")
    with pytest.raises(TypeError, match="strategy must be"):
        session(42)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=STRATEGY_IDS)
def test_queue_shape_order_and_exclusions(strategy: Any) -> None:
    with session(strategy) as s:
        label_seed(s)
        assert s.fit_state == "ready", s.fit_error
        X = s.pool.X
        n_unlabeled = N_ROWS - len(SEED_IDS)

        # the strategy gives one finite score per row
        direct = np.asarray(s.strategy.score(s.model_, X), dtype=float)
        assert direct.shape == (N_ROWS,)
        assert np.isfinite(direct).all()

        full = s.queue(N_ROWS)  # more than are left: all unlabeled items, once each
        assert len(full) == n_unlabeled
        assert full.index.is_unique
        assert set(full.index) == set(range(N_ROWS)) - set(SEED_IDS)
        assert {"score", "suggestion", "confidence", "reason", "skipped"} <= set(full.columns)
        assert np.isfinite(full["score"]).all()
        assert_best_first(full)
        # the queue's scores are the strategy's own scores (chunked pool scoring agrees)
        np.testing.assert_allclose(full["score"], direct[full.index], rtol=0, atol=1e-12)
        assert not full["skipped"].any()

        top = s.queue(10)
        assert len(top) == 10
        assert list(top.index) == list(full.index[:10])
        assert_best_first(top)

        # suggestions and confidences come from the fitted model
        proba = s.model_.predict_proba(X[top.index])
        assert top["suggestion"].tolist() == s.model_.classes_[proba.argmax(axis=1)].tolist()
        np.testing.assert_allclose(top["confidence"], proba.max(axis=1), rtol=1e-6)
        expected_reason = (
            "random order (strategy='random')"
            if s.strategy.name == "random"
            else f"uncertainty ({s.strategy.name})"
        )
        assert set(top["reason"]) == {expected_reason}

        # skipped items go behind every unskipped one, whatever their score
        skipped = list(top.index[:3])
        for item_id in skipped:
            s.skip(item_id)
        after = s.queue(N_ROWS)
        assert len(after) == n_unlabeled
        assert after["skipped"].tolist() == [False] * (n_unlabeled - 3) + [True] * 3
        assert list(after.index[-3:]) == skipped  # in their own score order
        assert_best_first(after.iloc[:-3])
        assert_best_first(after.iloc[-3:])
        assert not set(s.queue(10).index) & set(skipped)

        # labeling takes an item out of the queue, skipped or not
        s.submit(skipped[0], int(TRUTH[skipped[0]]))
        s.submit(int(after.index[0]), int(TRUTH[after.index[0]]))
        assert s.wait(timeout=30)
        again = s.queue(N_ROWS)
        assert len(again) == n_unlabeled - 2
        assert skipped[0] not in again.index and after.index[0] not in again.index
        assert again["skipped"].tolist() == [False] * (n_unlabeled - 4) + [True] * 2


def test_queue_with_small_or_no_k() -> None:
    with session("margin") as s:
        label_seed(s)
        assert len(s.queue(0)) == 0
        assert len(s.queue(1)) == 1
        assert s.queue(1).index[0] == s.queue(5).index[0]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=STRATEGY_IDS)
def test_audit_slots_keep_the_ranking_of_the_rest(strategy: Any) -> None:
    """With audits on, the non-audit rows are still the strategy's best, best first."""
    with session(strategy, audit_share=0.3) as s, session(strategy, audit_share=0.3) as twin:
        assert s.queue(20)["audit"].sum() == 0  # no audits before a model exists
        label_seed(s)
        label_seed(twin)
        skipped = int(s.queue(1).index[0])
        s.skip(skipped)
        twin.skip(skipped)
        q = s.queue(40)
        assert len(q) == 40 and q.index.is_unique
        assert q["audit"].any(), "audit_share=0.3 gave no audit slot in 40"
        assert not set(q.index) & set(SEED_IDS)
        audit, ranked = q[q["audit"]], q[~q["audit"]]
        assert skipped not in q.index  # plenty of unskipped items: no skipped row
        assert set(audit["reason"]) == {AUDIT_REASON}
        assert AUDIT_REASON not in set(ranked["reason"])
        assert_best_first(ranked)
        # the ranked rows are the top of the audit-free ranking, in order
        with session(strategy) as plain:
            label_seed(plain)
            plain.skip(skipped)
            best = [i for i in plain.queue(80).index if i not in set(audit.index)]
        assert list(ranked.index) == best[: len(ranked)]
        # audits are seeded: the same seed and history give the same queue
        pd.testing.assert_frame_equal(q, twin.queue(40))


# ------------------------------------------------------------------ determinism
@pytest.mark.parametrize("strategy", STRATEGIES, ids=STRATEGY_IDS)
def test_same_seed_same_queue_other_seed_other_cold_start(strategy: Any) -> None:
    with session(strategy, 7) as a, session(strategy, 7) as b, session(strategy, 8) as c:
        cold_a, cold_b, cold_c = a.queue(25), b.queue(25), c.queue(25)
        pd.testing.assert_frame_equal(cold_a, cold_b)
        assert list(cold_a.index) != list(cold_c.index)
        # the cold-start order is a seeded shuffle, not the pool's own order
        assert list(cold_a.index) != list(range(25))

        for s in (a, b, c):
            label_seed(s)
        warm_a, warm_b = a.queue(25), b.queue(25)
        pd.testing.assert_frame_equal(warm_a, warm_b)
        assert not set(warm_a.index) & set(SEED_IDS)
        if a.strategy.name == "random":
            assert list(warm_a.index) != list(c.queue(25).index)


def test_ties_are_broken_by_the_seed_not_by_position() -> None:
    def flat(model: Any, X: Any) -> np.ndarray:
        return np.zeros(X.shape[0])  # every row ties

    with session(flat, 1) as a, session(flat, 2) as b:
        label_seed(a)
        label_seed(b)
        qa, qb = a.queue(30), b.queue(30)
        assert (qa["score"] == 0).all()
        assert list(qa.index) != list(qb.index)
        assert list(qa.index) != sorted(qa.index)


# ------------------------------------------------------------ the user's model
@pytest.mark.parametrize("strategy", STRATEGIES, ids=STRATEGY_IDS)
def test_the_users_model_is_never_fitted_in_place(strategy: Any) -> None:
    model = LogisticRegression(C=0.5, max_iter=500)
    params = model.get_params()
    with session(strategy, model=model) as s:
        label_seed(s)
        assert s.model_ is not None and s.model_ is not model
        assert isinstance(s.model_, LogisticRegression)
        assert hasattr(s.model_, "coef_")
        assert s.model_.get_params() == params
        assert list(s.model_.classes_) == CLASSES
        assert s.model is model
    assert not hasattr(model, "coef_")
    assert not hasattr(model, "classes_")
    assert model.get_params() == params


def test_an_already_fitted_user_model_keeps_its_fit() -> None:
    X, y = DATA.to_numpy(), TRUTH
    model = LogisticRegression(max_iter=500).fit(X[200:260], y[200:260])
    coef = model.coef_.copy()
    with session("entropy", model=model) as s:
        label_seed(s)
        assert s.model_ is not model
        assert not np.array_equal(s.model_.coef_, coef)  # refit on the session's labels
    np.testing.assert_array_equal(model.coef_, coef)


# ------------------------------------------- agreement with reference libraries
def fitted_digits() -> tuple[LogisticRegression, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return LogisticRegression(max_iter=2000).fit(X[:150], y[:150]), X[150:]


def fitted_four_classes() -> tuple[LogisticRegression, np.ndarray]:
    X, y = make_classification(
        n_samples=1500,
        n_features=10,
        n_informative=6,
        n_classes=4,
        n_clusters_per_class=1,
        random_state=3,
    )
    return LogisticRegression(max_iter=2000).fit(X[:120], y[:120]), X[120:]


def numpy_margin(p: np.ndarray) -> np.ndarray:
    s = np.sort(p, axis=1)
    return 1.0 - (s[:, -1] - s[:, -2])


def numpy_entropy(p: np.ndarray) -> np.ndarray:
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=1)


def numpy_least_confidence(p: np.ndarray) -> np.ndarray:
    return 1.0 - p.max(axis=1)


METHODS = {
    # ours, numpy reference, modAL measure (as "higher = ask first"), modAL sampler,
    # scikit-activeml method
    "margin": (
        hw.MarginSampling,
        numpy_margin,
        lambda m, X: -classifier_margin(m, X),
        margin_sampling,
        "margin_sampling",
    ),
    "entropy": (hw.EntropySampling, numpy_entropy, classifier_entropy, entropy_sampling, "entropy"),
    "least_confidence": (
        hw.LeastConfidence,
        numpy_least_confidence,
        classifier_uncertainty,
        uncertainty_sampling,
        "least_confident",
    ),
}


@pytest.fixture(scope="module", params=["four_classes", "digits"])
def fitted(request: pytest.FixtureRequest) -> tuple[LogisticRegression, np.ndarray]:
    return {"four_classes": fitted_four_classes, "digits": fitted_digits}[request.param]()


def top10(scores: np.ndarray) -> list[int]:
    return np.argsort(-scores, kind="stable")[:10].tolist()


@pytest.mark.parametrize("method", list(METHODS))
def test_scores_agree_with_numpy_modal_and_skactiveml(method: str, fitted: tuple) -> None:
    model, X = fitted
    ours_cls, reference, modal_measure, modal_sampler, skal_method = METHODS[method]
    proba = model.predict_proba(X)
    n = X.shape[0]

    ours = ours_cls().score(model, X)
    assert ours.shape == (n,) and np.isfinite(ours).all()
    # the scores from probabilities alone are the same as through the model
    np.testing.assert_array_equal(ours_cls().score_proba(proba), ours)
    picked = top_k(ours, np.arange(n), np.ones(n, dtype=bool), 10).tolist()
    assert picked == top10(ours)

    ref = reference(proba)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    assert picked == top10(ref)

    modal = np.asarray(modal_measure(model, X))
    if method == "margin":
        np.testing.assert_allclose(ours, 1.0 + modal, rtol=0, atol=1e-12)  # 1 - (p1 - p2)
    else:
        np.testing.assert_allclose(ours, modal, rtol=0, atol=1e-12)
    assert picked == top10(modal)
    modal_idx, _ = modal_sampler(model, X, n_instances=10)
    assert sorted(np.asarray(modal_idx).tolist()) == sorted(picked)  # modAL's batch is unordered

    skal = uncertainty_scores(proba, method=skal_method)
    np.testing.assert_allclose(ours, skal, rtol=0, atol=1e-12)
    assert picked == top10(skal)
    assert int(np.argmax(skal)) == picked[0]


@pytest.mark.parametrize("method", list(METHODS))
def test_session_queue_matches_skactiveml_query(method: str) -> None:
    """End to end: the same labels, the same model, the same 10 picks in the same order."""
    labeled = SEED_IDS
    with session(method, model=LogisticRegression(max_iter=2000)) as s:
        label_seed(s, labeled)
        ours = s.queue(10).index.tolist()

    X = DATA.to_numpy()
    y = np.full(N_ROWS, np.nan)
    y[labeled] = TRUTH[labeled]
    clf = SklearnClassifier(LogisticRegression(max_iter=2000), classes=CLASSES, random_state=0)
    strategy = UncertaintySampling(method=METHODS[method][4], random_state=0)
    theirs = strategy.query(X, y, clf, batch_size=10)
    assert ours == np.asarray(theirs).tolist()


def test_margin_and_entropy_edge_shapes() -> None:
    two = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])
    np.testing.assert_allclose(hw.MarginSampling().score_proba(two), [1.0, 0.2, 0.4])
    np.testing.assert_allclose(
        hw.MarginSampling().score_proba(two), uncertainty_scores(two, method="margin_sampling")
    )
    one = np.ones((3, 1))
    assert hw.MarginSampling().score_proba(one).tolist() == [0.0, 0.0, 0.0]
    certain = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    entropy = hw.EntropySampling().score_proba(certain)
    assert np.isfinite(entropy).all()
    np.testing.assert_allclose(entropy, [0.0, np.log(3)])
    np.testing.assert_allclose(hw.LeastConfidence().score_proba(certain), [0.0, 2 / 3])


# -------------------------------------------------------------------- cold start
@pytest.mark.parametrize("strategy", STRATEGIES, ids=STRATEGY_IDS)
def test_cold_start_until_two_classes_are_labeled(strategy: Any) -> None:
    with session(strategy) as s:
        cold_order = s.queue(60).index.tolist()
        ones = [int(i) for i in np.flatnonzero(TRUTH == 1)[:4]]
        for item_id in ones:  # one class only: nothing to fit yet
            s.submit(item_id, 1)
        assert s.wait(timeout=30)
        assert s.model_ is None
        assert s.fit_state == "cold"
        assert s.fit_error is None
        q = s.queue(8)
        assert len(q) == 8
        assert not set(q.index) & set(ones)
        assert q["suggestion"].tolist() == [None] * 8
        assert q["confidence"].isna().all()
        assert q["score"].isna().all()
        if s.strategy.name == "random":
            assert set(q["reason"]) == {"random order (strategy='random')"}
        else:
            assert set(q["reason"]) == {COLD_START_REASON}
            assert "cold start" in COLD_START_REASON
        # the cold-start order is the same seeded shuffle, minus what was labeled
        assert list(q.index) == [i for i in cold_order if i not in ones][:8]
        assert s.suggestion_for(int(q.index[0])) == (None, None, None)

        s.submit(int(np.flatnonzero(TRUTH == 2)[0]), 2)  # a second class: the first fit
        assert s.wait(timeout=30)
        assert s.model_ is not None and s.fit_state == "ready"
        assert s.queue(8)["suggestion"].notna().all()


# ------------------------------------------------------------ strategy failures
def wrong_length(model: Any, X: Any) -> np.ndarray:
    return np.zeros(X.shape[0] - 1)


def with_nan(model: Any, X: Any) -> np.ndarray:
    scores = np.ones(X.shape[0])
    scores[5] = np.nan
    return scores


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        (wrong_length, f"strategy 'wrong_length' returned {N_ROWS - 1} scores for {N_ROWS} rows"),
        (with_nan, "strategy 'with_nan' returned NaN scores"),
    ],
    ids=["wrong-length", "nan"],
)
def test_bad_strategy_output_fails_the_fit_not_the_session(strategy: Any, message: str) -> None:
    with session(strategy) as s:
        label_seed(s)
        assert s.fit_state == "failed"
        assert s.fit_error is not None
        assert s.fit_error.startswith("ValueError")
        assert message in s.fit_error
        assert "Traceback" in s.fit_traceback
        assert s.model_ is None
        # labels are still accepted and saved; the queue still works (cold start)
        event = s.submit(SEED_IDS[-1] + 1, 0)
        assert event.label == "0"
        assert SEED_IDS[-1] + 1 in s.labels.index
        assert len(s.labels) == len(SEED_IDS) + 1
        assert s.wait(timeout=30)
        assert s.fit_state == "failed"
        q = s.queue(5)
        assert len(q) == 5 and not set(q.index) & set(s.labels.index)
        assert set(q["reason"]) == {COLD_START_REASON}


# ---------------------------------------------------------- custom select hook
class EveryOther(DecisionGap):
    """A strategy with its own batch choice: every other candidate."""

    name = "every_other"

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def select(self, model: Any, X: Any, candidates: np.ndarray, k: int) -> np.ndarray:
        self.calls.append((len(candidates), k))
        return candidates[::2][:k]


def test_a_strategy_select_hook_chooses_among_the_best_candidates() -> None:
    strategy = EveryOther()
    with session(strategy) as s, session(DecisionGap()) as plain:
        label_seed(s)
        label_seed(plain)
        q = s.queue(5)
        # it is offered the 10 * k best eligible rows (at least 100), best first
        assert strategy.calls == [(100, 5)]
        assert q.index.tolist() == plain.queue(10).index.tolist()[::2]
        assert not set(q.index) & set(SEED_IDS)
        assert_best_first(q)


def test_a_model_free_strategy_ranks_before_the_first_fit() -> None:
    class SmallestFirst:
        name = "smallest_first"
        needs_model = False

        def score(self, model: Any, X: Any) -> np.ndarray:
            return -X[:, 0]

    """strategies.py: needs_model=False strategies can rank before any model is fitted."""
    order = np.argsort(DATA["f0"].to_numpy(), kind="stable").tolist()
    with session(SmallestFirst()) as s:
        assert s.model_ is None
        assert s.queue(5).index.tolist() == order[:5]
        s.submit(order[0], int(TRUTH[order[0]]))  # one class: still no model
        s.skip(order[1])
        assert s.wait(timeout=30) and s.model_ is None
        assert s.queue(5).index.tolist() == order[2:7]


# ------------------------------------------------------------------------ top_k
def reference_top_k(
    scores: np.ndarray, tiebreak: np.ndarray, eligible: np.ndarray, k: int
) -> list[int]:
    positions = np.flatnonzero(eligible).tolist()
    positions.sort(key=lambda p: (-scores[p], tiebreak[p]))
    return positions[: max(k, 0)]


def test_top_k_equals_a_full_sort_with_many_ties() -> None:
    rng = np.random.default_rng(12345)
    checked = 0
    for trial in range(400):
        n = int(rng.integers(0, 80)) if trial % 10 else int(rng.integers(500, 3000))
        distinct = int(rng.integers(1, 5))
        scores = rng.integers(0, distinct, size=n).astype(np.float64)
        if trial % 3 == 0 and n:
            scores[rng.integers(0, n, size=3)] = rng.choice([np.inf, -np.inf, -0.0])
        if trial % 4 == 0:
            scores = scores / 7.0  # non-integer ties
        tiebreak = rng.permutation(n)
        eligible = rng.random(n) < rng.uniform(0.0, 1.0)
        n_eligible = int(eligible.sum())
        ks = {0, 1, 2, 5, n_eligible - 1, n_eligible, n_eligible + 3, int(rng.integers(0, n + 2))}
        for k in ks:
            expected = reference_top_k(scores, tiebreak, eligible, k)
            got = top_k(scores, tiebreak, eligible, k)
            assert got.tolist() == expected, (trial, n, k)
            assert len(got) == min(max(k, 0), n_eligible)
            # candidate positions (any order) instead of a mask give the same answer
            positions = rng.permutation(np.flatnonzero(eligible))
            assert top_k(scores, tiebreak, positions, k).tolist() == expected
            checked += 1
    assert checked > 2000


def test_top_k_edge_cases() -> None:
    scores = np.array([3.0, 1.0, 3.0, 2.0, 3.0])
    tiebreak = np.array([4, 0, 2, 1, 3])
    everything = np.ones(5, dtype=bool)
    assert top_k(scores, tiebreak, everything, 3).tolist() == [2, 4, 0]
    assert top_k(scores, tiebreak, everything, 10).tolist() == [2, 4, 0, 3, 1]
    assert top_k(scores, tiebreak, everything, -1).tolist() == []
    assert top_k(scores, tiebreak, np.zeros(5, dtype=bool), 3).tolist() == []
    assert top_k(scores, tiebreak, np.array([1, 3]), 1).tolist() == [3]
    assert top_k(scores, tiebreak, np.array([], dtype=np.intp), 1).tolist() == []
    assert top_k(scores, tiebreak, everything, 2).dtype.kind == "i"


def test_the_queue_read_from_a_fits_ranked_head_equals_a_full_ranking(monkeypatch):
    """The head a fit prepares is a prefix of the pool's ranking: the queue read from it
    is the queue a full ranking gives, also once a focus has used it up."""
    from hitl_widgets.core import queue as queue_module

    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame({"a": rng.normal(size=n).round(1), "b": rng.normal(size=n)})
    frame["truth"] = np.where(frame["a"] + frame["b"] > 0, "p", "n")
    frame["side"] = np.where(frame["b"] > 1.5, "far", "near")

    def labeled() -> hw.Session:
        s = hw.Session(
            frame,
            ["n", "p"],
            features=["a", "b"],
            subgroups="side",
            truth="truth",
            store=":memory:",
            random_state=0,
            progress=False,
        )
        s.simulate(20)
        return s

    with_head = labeled()
    monkeypatch.setattr(queue_module, "HEAD", 1)  # a head of one row: every queue ranks all
    without = labeled()
    assert n > 2048 and list(with_head.queue(50).index) == list(without.queue(50).index)
    for s in (with_head, without):
        s.focus({"side": "far"})  # few of the head's rows are in it: the full ranking serves
    assert list(with_head.queue(50).index) == list(without.queue(50).index)
    with_head.close()
    without.close()


def test_a_large_pool_scored_on_several_threads_gets_the_same_numbers(monkeypatch):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from hitl_widgets.core import scoring
    from hitl_widgets.core.strategies import resolve_strategy

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50_000, 8))
    y = np.where(X[:, 0] + rng.normal(size=len(X)) > 0, "pos", "neg")
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[:500], y[:500])
    classes = {"neg": 0, "pos": 1}
    monkeypatch.setattr(scoring, "CHUNK_BYTES", 64 * 1024)  # many chunks
    monkeypatch.setattr(scoring, "PARALLEL_ROWS", 10**9)
    serial = scoring.score_pool(model, X, resolve_strategy("margin"), classes)
    monkeypatch.setattr(scoring, "PARALLEL_ROWS", 1000)
    monkeypatch.setattr(scoring, "SCORING_THREADS", 3)
    threaded = scoring.score_pool(model, X, resolve_strategy("margin"), classes)
    for field in ("scores", "suggestion", "confidence"):
        np.testing.assert_array_equal(getattr(serial, field), getattr(threaded, field))


@pytest.mark.parametrize("strategy", ["margin", "entropy", "least_confidence"])
@pytest.mark.parametrize("class_order", [("neg", "pos"), ("pos", "neg")])
def test_the_two_class_linear_path_gives_predict_probas_numbers(strategy, class_order):
    """The fast path (z = x @ w, no probability matrix) against the model's own
    predict_proba and the strategy's general formula, for either class order."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from hitl_widgets.core import scoring
    from hitl_widgets.core.strategies import resolve_strategy

    rng = np.random.default_rng(1)
    X = rng.normal(size=(20_000, 6)) * 3
    y = np.where(X[:, 0] + rng.normal(size=len(X)) > 0, "pos", "neg")
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[:300], y[:300])
    classes = {c: i for i, c in enumerate(class_order)}
    chosen = resolve_strategy(strategy)
    fast = scoring.score_pool(model, X, chosen, classes)
    proba = model.predict_proba(X)  # columns in model.classes_ order: neg, pos
    best = proba.argmax(axis=1)
    columns = np.array([classes[c] for c in model.classes_])
    np.testing.assert_array_equal(fast.suggestion, columns[best])
    np.testing.assert_allclose(fast.confidence, proba.max(axis=1), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fast.scores, chosen.score_proba(proba), rtol=1e-9, atol=1e-12)
