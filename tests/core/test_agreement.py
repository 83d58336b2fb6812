"""Inter-annotator agreement, consensus and the rubber-stamp check.

Every coefficient is checked three ways: against a published value (Krippendorff 2011,
example C; the Fleiss' kappa worked example of 10 items x 14 raters), against a plain
textbook implementation written here with loops, and against an independent library
(scikit-learn's cohen_kappa_score, the `krippendorff` package) on random data with
missing opinions.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations, permutations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from hitl_widgets.core.analysis.agreement import (
    agreement_table,
    annotator_report,
    cohen_kappa_pairs,
    consensus,
    disagreements,
    fleiss_kappa,
    krippendorff_alpha,
)
from hitl_widgets.core.analysis.intervals import wilson_interval

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers, 12 units, values 1-5, None = not coded. Nominal alpha = 0.743.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}

# The worked example of Fleiss' kappa (10 items, 14 raters each, 5 categories): counts of
# raters per category for each item; kappa = 0.210 (P-bar = 0.378, P-e = 0.213).
FLEISS_EXAMPLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


# ---------------------------------------------------------------------- helpers
def from_wide(table: dict[str, list]) -> pd.DataFrame:
    """Long opinions from {annotator: [label per unit or None]} (units numbered from 1)."""
    rows = [
        (unit, annotator, value)
        for annotator, values in table.items()
        for unit, value in enumerate(values, start=1)
        if value is not None
    ]
    return pd.DataFrame(rows, columns=["item_id", "annotator", "label"])


def from_counts(counts: list[list[int]]) -> pd.DataFrame:
    """Long opinions from an items x categories count table (raters named per item)."""
    rows = []
    for item, row in enumerate(counts):
        raters = iter(range(sum(row)))
        for category, count in enumerate(row):
            rows.extend((item, f"r{next(raters)}", f"c{category}") for _ in range(count))
    return pd.DataFrame(rows, columns=["item_id", "annotator", "label"])


def random_opinions(
    seed: int, n_items: int = 60, n_annotators: int = 5, n_classes: int = 3, coverage=0.6
) -> pd.DataFrame:
    """Noisy annotators around a hidden truth, each labeling a random subset of items."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    rows = []
    for a in range(n_annotators):
        accuracy = rng.uniform(0.5, 0.95)
        for item in range(n_items):
            if rng.random() < coverage:
                label = truth[item] if rng.random() < accuracy else rng.integers(0, n_classes)
                rows.append((f"item{item:03d}", f"ann{a}", f"class{label}"))
    return pd.DataFrame(rows, columns=["item_id", "annotator", "label"])


def textbook_alpha(opinions: pd.DataFrame) -> float:
    """Nominal alpha from the definition: pairable values, pairs within units, 1/(m_u - 1)."""
    units = [g["label"].tolist() for _, g in opinions.groupby("item_id") if len(g) >= 2]
    values = sorted({v for unit in units for v in unit})
    o = {(c, k): 0.0 for c in values for k in values}
    for unit in units:
        for i, j in permutations(range(len(unit)), 2):
            o[unit[i], unit[j]] += 1 / (len(unit) - 1)
    n_c = {c: sum(o[c, k] for k in values) for c in values}
    n = sum(n_c.values())
    disagree_observed = sum(o[c, k] for c in values for k in values if c != k)
    disagree_expected = sum(n_c[c] * n_c[k] for c in values for k in values if c != k)
    return 1 - (n - 1) * disagree_observed / disagree_expected


def textbook_fleiss(counts: np.ndarray) -> float:
    """Fleiss (1971) from the definition, on a complete items x categories count table."""
    n_items, m = len(counts), counts[0].sum()
    p_items = [sum(c * (c - 1) for c in row) / (m * (m - 1)) for row in counts]
    p_categories = [sum(row[j] for row in counts) / (n_items * m) for j in range(len(counts[0]))]
    p_bar = sum(p_items) / n_items
    p_e = sum(p * p for p in p_categories)
    return (p_bar - p_e) / (1 - p_e)


def reliability_matrix(opinions: pd.DataFrame) -> np.ndarray:
    """Annotators x items matrix of label codes with NaN for missing (krippendorff's input)."""
    codes = opinions.assign(code=pd.factorize(opinions["label"])[0])
    wide = codes.pivot(index="annotator", columns="item_id", values="code")
    return wide.to_numpy(dtype=float)


# ---------------------------------------------------------------------- Krippendorff
def test_alpha_matches_krippendorff_2011_example() -> None:
    opinions = from_wide(KRIPPENDORFF_2011)
    assert round(krippendorff_alpha(opinions), 3) == 0.743
    assert krippendorff_alpha(opinions) == pytest.approx(textbook_alpha(opinions), abs=1e-12)
    reference = krippendorff.alpha(
        reliability_data=reliability_matrix(opinions), level_of_measurement="nominal"
    )
    assert krippendorff_alpha(opinions) == pytest.approx(reference, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_alpha_matches_textbook_and_krippendorff_package_on_random_data(seed: int) -> None:
    opinions = random_opinions(seed, n_classes=2 + seed % 4, coverage=0.3 + 0.08 * seed)
    ours = krippendorff_alpha(opinions)
    assert ours == pytest.approx(textbook_alpha(opinions), abs=1e-10)
    reference = krippendorff.alpha(
        reliability_data=reliability_matrix(opinions), level_of_measurement="nominal"
    )
    assert ours == pytest.approx(reference, abs=1e-10)


def test_alpha_drops_unpairable_items_and_is_nan_without_variation() -> None:
    opinions = from_wide({"A": ["x", "y", "x"], "B": ["x", "y", None]})
    # item 3 has one opinion: dropped, so this is perfect agreement on items 1-2
    assert krippendorff_alpha(opinions) == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha(from_wide({"A": ["x", "x"], "B": ["x", "x"]})))
    assert math.isnan(krippendorff_alpha(from_wide({"A": ["x", "y"], "B": [None, None]})))
    assert math.isnan(krippendorff_alpha(from_wide({})))


# ---------------------------------------------------------------------- Fleiss
def test_fleiss_matches_published_example_and_textbook() -> None:
    opinions = from_counts(FLEISS_EXAMPLE)
    assert round(fleiss_kappa(opinions), 3) == 0.210
    assert fleiss_kappa(opinions) == pytest.approx(
        textbook_fleiss(np.array(FLEISS_EXAMPLE)), abs=1e-12
    )


def test_fleiss_uses_the_items_with_the_modal_rater_count() -> None:
    three = [[3, 0], [2, 1], [0, 3], [1, 2], [3, 0]]  # 5 items with 3 raters: the mode
    two = [[1, 1], [2, 0], [0, 2]]  # 3 items with 2 raters: left out
    single = [[1, 0]]  # unpairable
    opinions = from_counts(three + two + single)
    assert fleiss_kappa(opinions) == pytest.approx(textbook_fleiss(np.array(three)))
    # a tie in the count of items goes to the larger m (more opinions)
    tied = from_counts([[2, 0], [1, 1], [3, 0], [1, 2]])
    assert fleiss_kappa(tied) == pytest.approx(textbook_fleiss(np.array([[3, 0], [1, 2]])))


def test_fleiss_is_nan_when_undefined() -> None:
    assert math.isnan(fleiss_kappa(from_counts([[1, 0], [0, 1]])))  # nobody pairable
    assert math.isnan(fleiss_kappa(from_counts([[2, 0], [2, 0]])))  # one category only


# ---------------------------------------------------------------------- Cohen
@pytest.mark.parametrize("seed", range(5))
def test_pairwise_kappa_equals_sklearn_on_shared_items(seed: int) -> None:
    opinions = random_opinions(seed, n_annotators=4, coverage=0.5)
    pairs = cohen_kappa_pairs(opinions)
    assert list(pairs.columns) == ["annotator_a", "annotator_b", "n_items", "kappa", "agreement"]
    wide = opinions.pivot(index="item_id", columns="annotator", values="label")
    assert len(pairs) == len(list(combinations(wide.columns, 2)))
    for row in pairs.itertuples():
        shared = wide[[row.annotator_a, row.annotator_b]].dropna()
        a, b = shared[row.annotator_a], shared[row.annotator_b]
        assert row.n_items == len(shared)
        assert row.agreement == pytest.approx(float(np.mean(a == b)))
        assert row.kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_pairwise_kappa_skips_pairs_without_shared_items_and_nan_when_undefined() -> None:
    opinions = from_wide(
        {"A": ["x", "x", None, None], "B": ["x", "x", None, None], "C": [None, None, "x", "y"]}
    )
    pairs = cohen_kappa_pairs(opinions)
    assert pairs[["annotator_a", "annotator_b"]].values.tolist() == [["A", "B"]]
    assert pairs["agreement"].iloc[0] == 1.0
    # both used one and the same class: sklearn says NaN too
    assert math.isnan(pairs["kappa"].iloc[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(cohen_kappa_score(["x", "x"], ["x", "x"]))
    assert cohen_kappa_pairs(opinions.iloc[:0]).empty


# ---------------------------------------------------------------------- input
def test_bad_input_is_refused_and_missing_labels_are_no_opinion() -> None:
    opinions = from_wide(KRIPPENDORFF_2011)
    with pytest.raises(ValueError, match="missing \\['label'\\]"):
        krippendorff_alpha(opinions.drop(columns="label"))
    doubled = pd.concat([opinions, opinions.iloc[[0]].assign(label=9)])
    with pytest.raises(ValueError, match="repeat an \\(item_id, annotator\\) pair"):
        consensus(doubled)
    with_gap = pd.concat(
        [opinions, pd.DataFrame({"item_id": [12], "annotator": ["A"], "label": [None]})]
    )
    assert krippendorff_alpha(with_gap) == krippendorff_alpha(opinions)


# ---------------------------------------------------------------------- consensus
def test_consensus_majority_with_ties_left_for_adjudication() -> None:
    opinions = from_wide(
        {
            "A": ["pos", "pos", "neg", "pos", None],
            "B": ["pos", "neg", "neg", None, None],
            "C": ["pos", "neg", "pos", None, "neg"],
            "D": ["neg", None, "pos", None, None],
        }
    )
    table = consensus(opinions)
    assert list(table.columns) == ["item_id", "label", "n_opinions", "agreement", "tie"]
    assert table["item_id"].tolist() == [1, 2, 3, 4, 5]
    assert table["label"].tolist() == ["pos", "neg", None, "pos", "neg"]
    assert table["n_opinions"].tolist() == [4, 3, 4, 1, 1]
    assert table["agreement"].tolist() == pytest.approx([0.75, 2 / 3, 0.5, 1.0, 1.0])
    assert table["tie"].tolist() == [False, False, True, False, False]
    assert disagreements(opinions).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="only 'majority'"):
        consensus(opinions, method="dawid-skene")


# ---------------------------------------------------------------------- tables
def test_agreement_table_overall_and_per_subgroup() -> None:
    opinions = random_opinions(3, n_items=80, n_annotators=4, coverage=0.7)
    items = sorted(opinions["item_id"].unique())
    groups = pd.Series(["short" if i % 3 else "long" for i in range(len(items))], index=items)
    groups = groups.drop(items[-1])  # one item not covered -> "(missing)"
    table = agreement_table(opinions, groups)
    assert table["subgroup"].tolist() == ["(all)", "(missing)", "long", "short"]
    assert table["scope"].tolist() == ["overall", "subgroup", "subgroup", "subgroup"]
    overall = table.iloc[0]
    assert overall["n_items"] == len(items)
    assert overall["n_annotators"] == 4
    assert overall["n_opinions"] == len(opinions)
    assert overall["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(opinions))
    assert overall["fleiss_kappa"] == pytest.approx(fleiss_kappa(opinions))
    kappas = cohen_kappa_pairs(opinions)["kappa"]
    assert overall["mean_pairwise_kappa"] == pytest.approx(kappas.mean())
    assert overall["n_pairs"] == 6
    long_items = groups.index[groups == "long"]
    part = opinions[opinions["item_id"].isin(long_items)]
    long_row = table.set_index("subgroup").loc["long"]
    assert long_row["n_items"] == len(long_items)
    assert long_row["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(part))
    assert long_row["fleiss_kappa"] == pytest.approx(fleiss_kappa(part))
    assert table.set_index("subgroup").loc["(missing)", "small"]
    assert agreement_table(opinions)["subgroup"].tolist() == ["(all)"]


def simulated_events(seed: int = 0, n: int = 120) -> tuple[pd.DataFrame, pd.Series]:
    """Two annotators on the same items, half with the suggestion shown, half blind.

    The model is right 70% of the time. "careful" labels correctly 90% of the time whatever
    is on screen; "stamper" does the same when blind but accepts 97% of shown suggestions.
    """
    rng = np.random.default_rng(seed)
    truth = rng.choice(["neg", "pos"], n)
    flip = {"neg": "pos", "pos": "neg"}
    suggestion = np.where(rng.random(n) < 0.7, truth, [flip[t] for t in truth])
    shown = np.arange(n) % 2 == 0
    rows = []
    for annotator in ("careful", "stamper"):
        for i in range(n):
            label = truth[i] if rng.random() < 0.9 else flip[truth[i]]
            if annotator == "stamper" and shown[i] and rng.random() < 0.97:
                label = suggestion[i]
            rows.append((f"i{i:03d}", annotator, label, suggestion[i], bool(shown[i])))
    columns = ["item_id", "annotator", "label", "suggestion", "suggestion_shown"]
    ids = [f"i{i:03d}" for i in range(n)]
    return pd.DataFrame(rows, columns=columns), pd.Series(truth, index=ids)


def test_annotator_report_agreement_with_consensus_and_wilson_interval() -> None:
    events, truth = simulated_events()
    report = annotator_report(events[["item_id", "annotator", "label"]], truth)
    assert report["annotator"].tolist() == ["careful", "stamper"]
    careful = report.iloc[0]
    mine = events[events["annotator"] == "careful"]
    agreed = int((mine["label"].to_numpy() == truth.loc[mine["item_id"]].to_numpy()).sum())
    assert careful["n_labels"] == careful["n_compared"] == len(mine)
    assert careful["consensus_agreed"] == agreed
    low, high = wilson_interval(agreed, len(mine))
    assert careful["consensus_low"] == pytest.approx(float(low))
    assert careful["consensus_high"] == pytest.approx(float(high))
    # no suggestion data: the model columns are empty and nobody is flagged
    assert report["n_shown"].eq(0).all() and report["shown_acceptance"].isna().all()
    assert not report["rubber_stamp_flag"].any()
    # ties (missing consensus) are not compared
    partial = truth.copy()
    partial.iloc[:10] = None
    assert annotator_report(events, partial)["n_compared"].tolist() == [len(mine) - 10] * 2


def test_rubber_stamp_flag_needs_gap_and_significance() -> None:
    events, truth = simulated_events()
    report = annotator_report(events, truth).set_index("annotator")
    stamper, careful = report.loc["stamper"], report.loc["careful"]
    assert stamper["n_shown"] == stamper["n_blind"] == 60
    assert stamper["shown_acceptance"] > 0.9
    assert stamper["gap"] == pytest.approx(stamper["shown_acceptance"] - stamper["blind_agreement"])
    assert stamper["p_value"] < 0.05 and stamper["shown_low"] > stamper["blind_high"]
    assert stamper["rubber_stamp_flag"]
    assert not careful["rubber_stamp_flag"]
    # the same events passed separately as model_predictions give the same answer
    separate = annotator_report(events[["item_id", "annotator", "label"]], truth, events)
    pd.testing.assert_frame_equal(separate, report.reset_index())
    # a large gap on too few events is not flagged
    few = events.groupby(["annotator", "suggestion_shown"]).head(6)
    assert not annotator_report(few, truth)["rubber_stamp_flag"].any()
    # a gap below the margin is not flagged however significant
    assert not annotator_report(events, truth, margin=0.9)["rubber_stamp_flag"].any()


def test_annotator_report_refuses_incomplete_event_columns() -> None:
    events, truth = simulated_events(n=10)
    with pytest.raises(ValueError, match="suggestion_shown"):
        annotator_report(events, truth, events.drop(columns="suggestion_shown"))
