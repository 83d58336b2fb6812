"""core.metrics against independent references: fairlearn, pandas, a hand-rolled Wilson
interval, a coverage simulation, and the audit trail recomputed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, count
from scipy.stats import binom
from sklearn.metrics import accuracy_score

import hitl_widgets as hw
from hitl_widgets.core.analysis import intervals, metrics
from hitl_widgets.datasets import loan_applications

FEATURES = ["income", "debt_ratio", "years_employed", "amount", "age"]
SUBGROUPS = ["group", "age"]
Z95 = 1.959963984540054


@pytest.fixture(scope="module")
def session() -> hw.Session:
    s = hw.Session(
        loan_applications(600),
        classes=["repaid", "defaulted"],
        features=FEATURES,
        subgroups=SUBGROUPS,
        truth="truth",
        store=":memory:",
        audit_share=0.5,
        random_state=0,
    )
    s.simulate(70, noise=0.1, random_state=0)  # noisy labels: some audits disagree
    return s


def wilson_reference(successes: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval written out from the textbook formula (z for 95%)."""
    successes, n = np.asarray(successes, float), np.asarray(n, float)
    p = successes / n
    centre = (successes + Z95**2 / 2) / (n + Z95**2)
    half = Z95 * np.sqrt(n) / (n + Z95**2) * np.sqrt(p * (1 - p) + Z95**2 / (4 * n))
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def check_against_references(table: pd.DataFrame, column: str, frame: pd.DataFrame, rate):
    """One column's rows of a rate table vs MetricFrame and a pandas groupby on `frame`.

    frame: y_true, y_pred, subgroup (one row per evaluated item); rate(y_true, y_pred).
    """
    rows = table[table["column"] == column].set_index("subgroup").sort_index()
    mf = MetricFrame(
        metrics={"rate": rate, "n": count},
        y_true=frame["y_true"].to_numpy(),
        y_pred=frame["y_pred"].to_numpy(),
        sensitive_features=frame["subgroup"].rename("subgroup"),
    )
    by_group = mf.by_group.sort_index()
    assert list(rows.index) == list(by_group.index)
    np.testing.assert_array_equal(rows["n"].to_numpy(), by_group["n"].to_numpy())
    np.testing.assert_allclose(rows["rate"].to_numpy(float), by_group["rate"].to_numpy(float))

    outcome = rate.outcome(frame["y_true"], frame["y_pred"])
    grouped = frame.assign(outcome=outcome).groupby("subgroup")["outcome"].agg(["size", "sum"])
    np.testing.assert_array_equal(rows["n"].to_numpy(), grouped["size"].to_numpy())
    np.testing.assert_array_equal(rows["successes"].to_numpy(), grouped["sum"].to_numpy())

    low, high = wilson_reference(grouped["sum"].to_numpy(), grouped["size"].to_numpy())
    np.testing.assert_allclose(rows["low"].to_numpy(float), low, atol=1e-12)
    np.testing.assert_allclose(rows["high"].to_numpy(float), high, atol=1e-12)
    assert (rows["small"] == (rows["n"] < intervals.SMALL_GROUP)).all()


def accuracy(y_true, y_pred) -> float:
    return accuracy_score(y_true, y_pred)


accuracy.outcome = lambda t, p: np.asarray(t) == np.asarray(p)


def disagreement(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) != np.asarray(y_pred)))


disagreement.outcome = lambda t, p: np.asarray(t) != np.asarray(p)


@pytest.mark.parametrize("column", SUBGROUPS)
def test_accuracy_by_subgroup_matches_fairlearn_and_pandas(session, column):
    table = metrics.accuracy_by_subgroup(session.snapshot())
    assert set(table["source"]) == {metrics.SOURCE_TRUTH}
    assert list(table["column"].unique()) == SUBGROUPS

    X = session.data[FEATURES].to_numpy(dtype=float)
    np.testing.assert_allclose(X, session.pool.X)
    labeled = [e.item_id for e in session.current_label_events()]
    unlabeled = ~session.data.index.isin(labeled)
    assert unlabeled.sum() == len(session.data) - 70
    frame = pd.DataFrame(
        {
            "y_true": session.data["truth"].to_numpy()[unlabeled],
            "y_pred": session.model_.predict(X[unlabeled]),
            "subgroup": session.subgroup_labels(column).to_numpy()[unlabeled],
        }
    )
    check_against_references(table, column, frame, accuracy)


@pytest.mark.parametrize("column", SUBGROUPS)
def test_disagreement_by_subgroup_matches_fairlearn_and_pandas(session, column):
    table = metrics.disagreement_by_subgroup(session.snapshot())
    events = [e for e in session.current_label_events() if e.suggestion is not None]
    # labels given before the first fit have no model prediction and do not count
    assert 0 < len(events) < 70
    positions = session.data.index.get_indexer([e.item_id for e in events])
    assert (positions >= 0).all()
    frame = pd.DataFrame(
        {
            "y_true": [e.label for e in events],
            "y_pred": [e.suggestion for e in events],
            "subgroup": session.subgroup_labels(column).to_numpy()[positions],
        }
    )
    assert table[table["column"] == column]["n"].sum() == len(events)
    check_against_references(table, column, frame, disagreement)


def test_wilson_interval_known_values():
    low, high = intervals.wilson_interval(np.array([0, 5, 10, 3]), np.array([10, 10, 10, 0]))
    np.testing.assert_allclose(low[:3], [0.0, 0.2365931, 0.7224672], atol=1e-6)
    np.testing.assert_allclose(high[:3], [0.2775328, 0.7634069, 1.0], atol=1e-6)
    assert np.isnan(low[3]) and np.isnan(high[3])  # n == 0: no interval
    k = np.arange(0, 41)
    ref_low, ref_high = wilson_reference(k, np.full(k.shape, 40))
    got_low, got_high = intervals.wilson_interval(k, 40)
    np.testing.assert_allclose(got_low, ref_low, atol=1e-12)
    np.testing.assert_allclose(got_high, ref_high, atol=1e-12)


def exact_coverage(p: float, n: int) -> float:
    k = np.arange(n + 1)
    low, high = intervals.wilson_interval(k, n)
    return float(binom.pmf(k, n, p)[(low <= p) & (p <= high)].sum())


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("n", [10, 40, 200])
def test_wilson_coverage_is_near_nominal(p, n):
    rng = np.random.default_rng(1_000 * n + int(100 * p))
    draws = rng.binomial(n, p, size=4_000)
    low, high = intervals.wilson_interval(draws, n)
    empirical = float(np.mean((low <= p) & (p <= high)))
    exact = exact_coverage(p, n)
    assert abs(empirical - exact) < 0.015  # the simulation agrees with the binomial sum
    if (p, n) == (0.05, 10):
        # Documented Wilson behaviour: for rare events at tiny n the coverage oscillates
        # below nominal. Here only k in {0, 1} cover p=0.05 (2/10 gives low=0.057), so the
        # exact coverage is P(K <= 1) = 0.95**10 + 10 * 0.05 * 0.95**9 = 0.914.
        assert exact == pytest.approx(0.95**10 + 10 * 0.05 * 0.95**9)
        assert 0.90 <= empirical <= 0.93
    else:
        assert 0.91 <= empirical <= 0.99


def audit_reference(session: hw.Session, window: int) -> pd.DataFrame:
    """The random-audit accuracy points, recomputed from the event log with pandas."""
    current = {e.item_id: e.label for e in session.current_label_events()}
    log = pd.DataFrame(
        [
            {
                "item_id": e.item_id,
                "audit": e.audit,
                "suggestion": e.suggestion,
            }
            for e in session.event_log()
            if e.action == "label"
        ]
    )
    log["n_labels"] = np.arange(1, len(log) + 1)
    audits = log[log["audit"] & log["suggestion"].notna() & log["item_id"].isin(current)]
    correct = (audits["suggestion"] == audits["item_id"].map(current)).astype(float)
    rolling = correct.rolling(window, min_periods=1)
    n = rolling.count().astype(int).to_numpy()
    estimate = rolling.mean().to_numpy()
    low, high = wilson_reference(estimate * n, n)
    return pd.DataFrame(
        {
            "n_labels": audits["n_labels"].to_numpy(),
            "estimate": estimate,
            "low": low,
            "high": high,
            "n": n,
        }
    )


@pytest.mark.parametrize("window", [None, 10])
def test_audit_accuracy_points_match_the_event_log(session, monkeypatch, window):
    if window is None:
        window = metrics.AUDIT_WINDOW
    else:  # a short window makes the running window actually slide over these audits
        monkeypatch.setattr(metrics, "AUDIT_WINDOW", window)
    table = metrics.accuracy_estimates(session.snapshot())
    got = table[table["source"] == metrics.SOURCE_AUDIT].reset_index(drop=True)
    expected = audit_reference(session, window)
    assert len(expected) >= 20  # audit_share=0.5 over 70 labels
    assert len(got) == len(expected)
    np.testing.assert_array_equal(got["n_labels"].to_numpy(), expected["n_labels"].to_numpy())
    np.testing.assert_array_equal(got["n"].to_numpy(), expected["n"].to_numpy())
    for column in ["estimate", "low", "high"]:
        np.testing.assert_allclose(got[column].to_numpy(float), expected[column], atol=1e-12)
    assert got["n"].max() == min(window, len(expected))
    assert (
        got["sample"]
        == got["n"].map(lambda k: f"last {k} uniformly random audit items, model before label")
    ).all()


def test_relabeling_an_audit_item_does_not_add_an_audit_observation():
    s = hw.Session(
        loan_applications(300),
        classes=["repaid", "defaulted"],
        features=FEATURES,
        truth="truth",
        store=":memory:",
        audit_share=0.5,
        random_state=0,
    )
    s.simulate(25)
    before = metrics.accuracy_estimates(s.snapshot())
    audited = next(e for e in s.event_log() if e.audit and e.suggestion is not None)
    s.submit(audited.item_id, "repaid" if audited.label == "defaulted" else "defaulted")
    s.wait()
    after = metrics.accuracy_estimates(s.snapshot())
    n_before = before.loc[before["source"] == metrics.SOURCE_AUDIT, "n"].max()
    n_after = after.loc[after["source"] == metrics.SOURCE_AUDIT, "n"].max()
    assert n_after == n_before  # same audited items, one of them relabeled
