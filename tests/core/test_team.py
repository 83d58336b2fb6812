"""Several annotators on one store: claims, overlap, sync, adjudication, training labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hitl_widgets as hw

CLASSES = ["neg", "pos"]


def pool(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n)})
    frame["truth"] = np.where(frame["x"] > 0, "pos", "neg")
    return frame


def member(path, name, **kwargs) -> hw.Session:
    return hw.Session(
        pool(), classes=CLASSES, store=path, annotator=name, random_state=0, audit_share=0, **kwargs
    )


def test_claims_never_hand_one_item_to_two_people(tmp_path):
    path = tmp_path / "team.db"
    ana, bo = member(path, "ana"), member(path, "bo")
    a, b = ana.claim(10), bo.claim(10)
    assert len(a) == 10 and len(b) == 10
    assert not set(a.index) & set(b.index)


def test_overlap_two_gives_each_item_to_two_people(tmp_path):
    path = tmp_path / "team.db"
    ana, bo, cy = (member(path, n, overlap=2) for n in ("ana", "bo", "cy"))
    a, b = ana.claim(5), bo.claim(5)
    assert list(a.index) == list(b.index)  # both may take the same items
    c = cy.claim(5)
    assert not set(c.index) & set(a.index)  # a third person may not
    for item in a.index:
        ana.submit(item, "pos")
        bo.submit(item, "neg" if item == a.index[0] else "pos")
    cy.sync()
    assert not set(cy.queue(200).index) & set(a.index)  # two opinions each: done


def test_claimed_items_labeled_in_order_are_draws(tmp_path):
    """A claim hands out the queue minus the items teammates won: labeling one's own
    claimed items in their order answers that queue, so each label keeps its selection
    probability, while teammates label in between."""
    path = tmp_path / "team.db"
    ana, bo = member(path, "ana"), member(path, "bo")
    truth = pool()["truth"]
    bo_items = iter(bo.claim(10).index)  # bo won the best ten: ana's claim skips them
    for item in ana.claim(5).index:
        ana.submit(item, truth[item])
        bo.submit(next(bo_items), truth.iloc[0])
        ana.sync()
    events = ana.events[ana.events["annotator"] == "ana"]
    assert len(events) == 5 and events["selection_probability"].notna().all()


def test_claims_expire(tmp_path):
    path = tmp_path / "team.db"
    ana = member(path, "ana", claim_ttl=0.0)
    bo = member(path, "bo")
    taken = ana.claim(3)
    assert set(bo.claim(3).index) == set(taken.index)  # ana's claims lapsed at once


def test_sync_brings_other_labels_and_refits(tmp_path):
    path = tmp_path / "team.db"
    ana, bo = member(path, "ana"), member(path, "bo")
    for item in ana.claim(6).index:
        ana.submit(item, pool().loc[item, "truth"])
    assert bo.model_ is None
    assert bo.sync() == 6
    bo.wait()
    assert bo.model_ is not None and len(bo.labels) == 6


def test_disagreement_goes_to_adjudication_and_a_reviewer_resolves(tmp_path):
    path = tmp_path / "team.db"
    ana, bo = member(path, "ana", overlap=2), member(path, "bo", overlap=2)
    rev = member(path, "rev", overlap=2, role="reviewer")
    items = list(ana.claim(3).index)
    bo.claim(3)
    for item in items:
        ana.submit(item, "pos")
    bo.submit(items[0], "neg")  # disagree
    bo.submit(items[1], "pos")  # agree
    queue = rev.adjudication_queue()
    assert list(queue.index) == [items[0]]
    assert queue.loc[items[0], "opinions"] == {"ana": "pos", "bo": "neg"}
    assert queue.loc[items[0], "majority"] is None  # a tie decides nothing
    with pytest.raises(PermissionError, match="only a reviewer"):
        ana.resolve(items[0], "neg")
    event = rev.resolve(items[0], "neg")
    assert event.action == "resolve" and event.annotator == "rev"
    assert set(event.basis.split(",")) == set(
        rev.opinions.query("item_id == @items[0]")["event_id"]
    )
    assert rev.adjudication_queue().empty
    assert rev.labels.loc[items[0], "label"] == "neg"
    assert rev.labels.loc[items[1], "label"] == "pos"


def test_training_on_resolved_labels_only(tmp_path):
    path = tmp_path / "team.db"
    ana = member(path, "ana", overlap=2, training="resolved")
    bo = member(path, "bo", overlap=2)
    items = list(ana.claim(4).index)
    for i, item in enumerate(items):
        ana.submit(item, CLASSES[i % 2])
    ana.wait()
    assert ana.model_ is None  # single opinions are not settled yet
    bo.claim(4)
    for i, item in enumerate(items):
        bo.submit(item, CLASSES[i % 2])
    ana.sync()
    ana.wait()
    assert ana.model_ is not None
    assert ana.history_[-1].n_labels == 4  # the settled items only


def test_opinions_table_and_blind_labels(tmp_path):
    path = tmp_path / "team.db"
    ana, bo = member(path, "ana", overlap=2), member(path, "bo", overlap=2)
    item = ana.claim(1).index[0]
    ana.submit(item, "pos")
    bo.sync()
    assert item in bo.claim(5).index  # bo still gets it: overlap 2
    assert item not in ana.claim(5).index  # ana gave her opinion
    bo.submit(item, "pos")
    opinions = bo.opinions
    assert set(opinions["annotator"]) == {"ana", "bo"}
    assert (opinions["label"] == "pos").all()


def test_annotator_disagreement_by_subgroup(tmp_path):
    from hitl_widgets.core.analysis.metrics import annotator_disagreement_by_subgroup

    path = tmp_path / "team.db"
    data = pool()
    data["side"] = np.where(data["y"] > 0, "up", "down")
    kwargs = dict(
        classes=CLASSES, store=path, overlap=2, subgroups="side", audit_share=0, random_state=0
    )
    ana = hw.Session(data, annotator="ana", **kwargs)
    bo = hw.Session(data, annotator="bo", **kwargs)
    items = list(ana.claim(12).index)
    bo.claim(12)
    for i, item in enumerate(items):
        ana.submit(item, "pos")
        bo.submit(item, "neg" if i % 3 == 0 else "pos")
    ana.sync()
    table = annotator_disagreement_by_subgroup(ana.snapshot())
    expected = (
        pd.DataFrame({"side": data.loc[items, "side"], "split": [i % 3 == 0 for i in range(12)]})
        .groupby("side")["split"]
        .agg(["size", "sum"])
    )
    assert table["subgroup"].tolist() == expected.index.tolist()
    assert table["n"].tolist() == expected["size"].tolist()
    assert table["successes"].tolist() == expected["sum"].tolist()
