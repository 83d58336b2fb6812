"""Slice discovery: SliceLine's top slices, honest tests on audit labels, focus on a slice."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sliceline.slicefinder import Slicefinder

import hitl_widgets as hw
from hitl_widgets.core.analysis.slices import (
    NOT_ENOUGH,
    WORSE,
    Audits,
    build_lattice,
    count_family,
    fisher_worse,
    frame_of,
    frame_text,
    holm,
    labels_to_judge,
    sliceline_score,
)
from hitl_widgets.core.queue import SlotPolicy
from hitl_widgets.core.store import SQLiteStore
from hitl_widgets.datasets import product_reviews

PLANTED = {"region": "east", "plan": "pro"}


def planted_pool(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Truth follows x0 and x1, except inside region = east & plan = pro (~8%): flipped."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x0": rng.normal(size=n),
            "x1": rng.normal(size=n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "channel": rng.choice(["web", "app", "store"], n),
        },
        index=pd.Index([f"c{i:04d}" for i in range(n)], name="customer"),
    )
    truth = np.where(df["x0"] + 0.5 * df["x1"] > 0, "pos", "neg")
    inside = ((df["region"] == "east") & (df["plan"] == "pro")).to_numpy()
    df["oracle"] = np.where(inside, np.where(truth == "pos", "neg", "pos"), truth)
    return df


def open_session(df: pd.DataFrame, store: str | SQLiteStore, **kwargs) -> hw.Session:
    return hw.Session(
        df,
        ["neg", "pos"],
        features=["x0", "x1"],
        truth="oracle",
        subgroups=["region"],
        store=store,
        random_state=0,
        progress=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def labeled() -> tuple[hw.Session, SQLiteStore]:
    """200 labels, half of them random audits, on a pool with one planted error slice."""
    store = SQLiteStore(":memory:")  # shared by the sessions that resume it
    session = open_session(planted_pool(), store, audit_share=0.5)
    session.simulate(200)
    return session, store


# ---------------------------------------------------------------------- SliceLine
def top_slices(X: np.ndarray, errors: np.ndarray, k: int, max_order: int, min_size: int):
    """Our lattice and score on rows X: the k best slices with a positive score."""
    domains = X.max(axis=0) + 1
    found = []
    for block in build_lattice(X, domains, min_size, max_order):
        totals = block.count(X, domains, errors)
        scores = sliceline_score(block.sizes, totals, len(X), errors.mean(), 0.95)
        for values, score in zip(block.values(domains), scores, strict=True):
            if score > 0:
                found.append((score, tuple(zip(block.columns, values.tolist(), strict=True))))
    found.sort(key=lambda item: -item[0])
    return found[:k]


@pytest.mark.parametrize("seed", range(4))
def test_top_slices_match_the_sliceline_package(seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 4, size=(3000, 6))
    X[:, 1] = rng.integers(0, 3, size=3000)
    errors = rng.random(3000) * 0.3  # continuous errors: no ties at the k-th place
    errors[(X[:, 0] == 1) & (X[:, 2] == 3)] += 0.8
    errors[X[:, 4] == 2] += 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "numba not available"
        reference = Slicefinder(alpha=0.95, k=10, max_l=3, min_sup=20, verbose=False)
        reference.fit(X, errors)
    theirs = [
        tuple((j, int(v)) for j, v in enumerate(row) if v is not None)
        for row in reference.top_slices_
    ]
    ours = top_slices(X, errors, 10, 3, 20)
    assert [slice_ for _, slice_ in ours] == theirs
    expected = [s["slice_score"] for s in reference.top_slices_statistics_]
    np.testing.assert_allclose([score for score, _ in ours], expected)


def test_the_lattice_keeps_every_slice_of_min_size_and_no_other():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 5, size=(800, 4))
    domains = X.max(axis=0) + 1
    blocks = build_lattice(X, domains, 30, 2)
    found = {
        tuple(zip(b.columns, v.tolist(), strict=True)): size
        for b in blocks
        for v, size in zip(b.values(domains), b.sizes, strict=True)
    }
    frame = pd.DataFrame(X)
    expected = {}
    for a in range(4):
        for value, size in frame[a].value_counts().items():
            if size >= 30:
                expected[((a, value),)] = size
        for b in range(a + 1, 4):
            for (va, vb), size in frame.groupby([a, b]).size().items():
                if size >= 30:
                    expected[((a, va), (b, vb))] = size
    assert found == expected


# ---------------------------------------------------------------------- the tests
def test_fisher_holm_keep_the_family_wise_error_rate_under_the_global_null():
    """Errors independent of every column: declaring any slice worse happens <= alpha."""
    rng = np.random.default_rng(0)
    runs, alpha, hits = 300, 0.05, 0
    for _ in range(runs):
        codes = rng.integers(0, 4, size=(2000, 5)).astype(np.int64)
        domains = np.full(5, 4)
        blocks = build_lattice(codes, domains, 20, 2)
        drawn = rng.choice(2000, size=300, replace=False)
        audits = Audits(
            drawn,
            (rng.random(300) < 0.15).astype(float),
            tuple(frozenset() for _ in drawn),
            np.ones(300, dtype=bool),
        )
        family = count_family(blocks, codes, domains, audits)
        p = fisher_worse(family.errors, family.n, family.rest_errors, family.rest_n)
        hits += bool((holm(p) <= alpha).any())
    assert hits / runs <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / runs)


def test_holm_adjusts_in_step_down_order():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    expected = np.array([4 * 0.01, max(3 * 0.03, 2 * 0.04), 3 * 0.03, 5 * 0.005, 0.5])
    np.testing.assert_allclose(holm(p), expected)


@pytest.mark.parametrize(("rest_errors", "rest_n", "threshold"), [(10, 100, 1e-4), (0, 40, 0.01)])
def test_labels_to_judge_is_the_fewest_that_could_be_significant(rest_errors, rest_n, threshold):
    needed = int(labels_to_judge(np.array([rest_errors]), np.array([rest_n]), threshold)[0])

    def all_wrong(n: int) -> float:
        return float(fisher_worse(np.array([n]), np.array([n]), rest_errors, rest_n)[0])

    assert all_wrong(needed) <= threshold < all_wrong(needed - 1)


def test_a_rest_without_correct_labels_can_never_judge():
    assert labels_to_judge(np.array([5]), np.array([5]), 0.01, cap=1000)[0] == 1000


# ---------------------------------------------------------------------- the session
def test_find_slices_ranks_the_planted_slice_first_and_significant(labeled):
    session, _ = labeled
    table = session.find_slices(columns="all")
    top = table.iloc[0]
    assert top["where"] == PLANTED and top["slice"] == "region = east & plan = pro"
    assert top["rank"] == 1 and top["verdict"] == WORSE and top["significant"]
    assert top["low"] > top["rest_rate"] and top["gap_low"] > 0
    assert top["size"] == int(
        (session.subgroup_labels("plan") == "pro")[
            session.subgroup_labels("region") == "east"
        ].sum()
    )
    assert table.attrs["correction"].startswith("Holm")
    assert "oracle" in table.attrs["skipped_columns"]  # the truth column is never sliced
    assert {"x0", "x1", "channel"} <= set(table.attrs["columns"])


def test_the_correction_counts_every_slice_tried_not_only_the_shown(labeled):
    session, _ = labeled
    table = session.find_slices(columns="all", k=3)
    tried = table.attrs["tried"]
    assert tried > len(table)
    best = table.loc[table["p_value"].idxmin()]
    assert best["p_adjusted"] == pytest.approx(min(1.0, tried * best["p_value"]))
    assert (table["p_adjusted"] >= table["p_value"]).all()


def test_error_rates_come_from_audit_labels_only(labeled):
    session, _ = labeled
    snap = session.snapshot()
    audits = snap.labeled[snap.labeled["audit"]]
    table = session.find_slices(columns=["region", "plan"], k=20)
    region = session.subgroup_labels("region").to_numpy()
    plan = session.subgroup_labels("plan").to_numpy()
    for row in table.itertuples():
        inside = np.ones(len(region), dtype=bool)
        for column, value in row.where.items():
            inside &= (region if column == "region" else plan) == value
        mine = audits[inside[audits["position"]]]
        assert row.n_audit == len(mine) and row.errors == mine["disagree"].sum()
        assert row.n_labeled == int((inside & snap.decided).sum()) >= row.n_audit


def test_slices_with_too_few_labels_are_listed_not_ranked():
    session = open_session(planted_pool(), ":memory:", audit_share=0.5)
    session.simulate(40)
    table = session.find_slices(columns="all", k=5)
    unjudged = table[table["verdict"] == NOT_ENOUGH]
    assert len(unjudged) and unjudged["rank"].isna().all() and unjudged["score"].isna().all()
    assert (unjudged["labels_needed"] > 0).all() and not unjudged["significant"].any()
    assert (unjudged["focus_labels"] == np.ceil(unjudged["labels_needed"] / 0.5)).all()
    assert table["rank"].dropna().tolist() == list(range(1, table["rank"].notna().sum() + 1))


def test_focus_on_a_slice_row_asks_inside_it_and_narrows_its_interval(labeled):
    _, store = labeled
    session = open_session(planted_pool(), store, audit_share=0.5)  # resumes the labels
    before = session.find_slices(columns="all").iloc[0]
    session.focus(before)
    assert session.focused == PLANTED
    queue = session.queue(20)
    assert set(session.data.loc[queue.index, "region"]) == {"east"}
    assert set(session.data.loc[queue.index, "plan"]) == {"pro"}
    wide = session.find_slices(columns="all").attrs["audit_labels"]
    session.simulate(30)
    after_table = session.find_slices(columns="all")
    after = after_table[after_table["slice"] == before["slice"]].iloc[0]
    assert after["n_audit"] > before["n_audit"] + 5
    assert after["high"] - after["low"] < before["high"] - before["low"]
    assert after_table.attrs["audit_labels"] == wide  # focused audits say nothing of the rest
    assert after_table.attrs["focused_audit_labels"] == after["n_audit"] - before["n_audit"]
    focused = [e for e in session.event_log() if e.audit and "within=" in (e.query_policy or "")]
    assert len(focused) == after["n_audit"] - before["n_audit"]
    for event in focused:  # the queue wrote the frame; the estimates still read the policy
        assert frame_of(event.query_policy) == PLANTED
        assert SlotPolicy.parse(event.query_policy) is not None
    # the frame is stored: a fresh session reading the store counts the same
    fresh = open_session(planted_pool(), store, audit_share=0.5)
    again = fresh.find_slices(columns="all")
    assert again[again["slice"] == before["slice"]].iloc[0]["n_audit"] == after["n_audit"]
    session.focus(None)
    assert session.focused is None


def test_focus_still_takes_a_dict_and_rejects_a_row_without_where():
    session = open_session(planted_pool(), ":memory:")
    session.focus({"region": "east"})
    assert session.focused == {"region": "east"}
    with pytest.raises(ValueError, match=r"row of session\.find_slices"):
        session.focus(pd.Series({"slice": "region = east"}))
    with pytest.raises(ValueError, match="no subgroup"):
        session.focus(pd.Series({"where": {"region": "atlantis"}}))


def test_the_audit_frame_round_trips_through_the_policy_text():
    assert frame_text(None, routed=False) is None
    text = frame_text({"région": "est", "plan": 'a "b"'}, routed=False)
    assert text is not None and text.isascii()
    policy = f"margin: audit 0.1 uniform; within={text}; support=12; floor=0.1"
    assert frame_of(policy) == {"région": "est", "plan": 'a "b"'}
    assert frame_of("margin: audit 0.1 uniform; support=12; floor=0.1") == {}
    routed = f"margin; within={frame_text(None, routed=True)}; support=3; floor=0.1"
    assert frame_of(routed) is None
    assert frame_of("margin; within={not json}; support=3; floor=0.1") is None


# ---------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def plain() -> hw.Session:
    df = planted_pool(n=10_000)
    df["account"] = [f"acct-{i}" for i in range(len(df))]
    df["country"] = "NZ"
    return open_session(df, ":memory:")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"columns": ["nope"]}, "column 'nope' is not a column of the pool"),
        ({"columns": ["country"]}, "column 'country' has one value .'NZ'. in the whole pool"),
        ({"columns": ["account"]}, "column 'account' has 10000 distinct values: too many to slice"),
        ({"columns": ["oracle"]}, "column 'oracle' is the truth column"),
        ({"columns": []}, "columns is empty"),
        ({"max_order": 0}, "max_order must be an integer >= 1, got 0"),
        ({"k": 0}, "k must be an integer >= 1"),
        ({"alpha": 1.5}, "alpha must be a number strictly between 0 and 1"),
        ({"min_size": -3}, "min_size must be an integer >= 1"),
    ],
)
def test_bad_input_names_the_problem(plain, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plain.find_slices(**kwargs)


def test_all_columns_skip_what_cannot_be_sliced_and_say_why(plain):
    table = plain.find_slices(columns="all")
    skipped = table.attrs["skipped_columns"]
    assert set(skipped) == {"account", "country", "oracle"}
    assert "too many to slice" in skipped["account"]
    assert table.empty  # no labels yet: nothing to judge, nothing suspect


def test_a_text_pool_never_slices_its_text():
    reviews = product_reviews(300)
    session = hw.Session(
        reviews, ["neg", "pos"], features="text", truth="truth", store=":memory:", progress=False
    )
    table = session.find_slices(columns="all")
    assert set(table.attrs["columns"]) == {"category", "length"}
    assert "text the model reads" in table.attrs["skipped_columns"]["text"]
    with pytest.raises(ValueError, match="column 'text' is the text the model reads"):
        session.find_slices(columns=["text"])
