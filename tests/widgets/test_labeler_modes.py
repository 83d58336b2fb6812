"""The labeler's team modes: claims, adjudication and label-error review."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hitl_widgets as hw

CLASSES = ["neg", "pos"]


def pool(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n)})
    frame["truth"] = np.where(frame["x"] > 0, "pos", "neg")
    return frame


def send(widget: hw.Labeler, **content) -> None:
    """A custom message from the browser, through the widget's comm (as the kernel
    delivers it)."""
    message = {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    widget.comm.handle_msg(message)


def silence(widget: hw.Labeler) -> None:
    widget.comm.send = lambda *args, **kwargs: None


def test_two_labelers_with_claims_show_disjoint_items(tmp_path):
    path = tmp_path / "team.db"
    ana = hw.Session(pool(), classes=CLASSES, store=path, annotator="ana", random_state=0)
    bo = hw.Session(pool(), classes=CLASSES, store=path, annotator="bo", random_state=0)
    wa, wb = hw.Labeler(ana, claims=True), hw.Labeler(bo, claims=True)
    assert not {i["id"] for i in wa.items} & {i["id"] for i in wb.items}


def test_adjudication_mode_resolves_with_the_reviewers_label(tmp_path):
    path = tmp_path / "team.db"
    data = pool()
    ana = hw.Session(data, classes=CLASSES, store=path, annotator="ana", overlap=2, random_state=0)
    bo = hw.Session(data, classes=CLASSES, store=path, annotator="bo", overlap=2, random_state=0)
    rev = hw.Session(
        data,
        classes=CLASSES,
        store=path,
        annotator="rev",
        overlap=2,
        role="reviewer",
        random_state=0,
    )
    items = list(ana.claim(2).index)
    bo.claim(2)
    for item in items:
        ana.submit(item, "pos")
        bo.submit(item, "neg")
    with pytest.raises(PermissionError):
        hw.Labeler(ana, mode="adjudicate")
    w = hw.Labeler(rev, mode="adjudicate")
    silence(w)
    assert {item["id"] for item in w.items} == {str(i) for i in items}
    assert "ana → pos" in w.items[0]["reason"] and "bo → neg" in w.items[0]["reason"]
    send(w, kind="label", id=w.items[0]["id"], class_index=1, client_id="r1")
    assert w.wait(30)
    resolved = rev.events.iloc[-1]
    assert resolved["action"] == "resolve" and resolved["annotator"] == "rev"
    assert len(w.items) == 1
    send(w, kind="skip", id=w.items[0]["id"], client_id="r2")  # not now: dismissed here only
    assert w.wait(30)
    assert w.items == [] and len(rev.adjudication_queue()) == 1


def test_review_mode_shows_likely_errors_and_records_corrections(tmp_path):
    data = pool()
    s = hw.Session(data, classes=CLASSES, store=tmp_path / "l.db", random_state=0, audit_share=0)
    flipped = list(data.index[:6])
    for item in data.index[:80]:
        truth = data.loc[item, "truth"]
        wrong = ("neg" if truth == "pos" else "pos") if item in flipped else truth
        s.submit(item, wrong)
    s.wait()
    w = hw.Labeler(s, mode="review")
    silence(w)
    shown = [int(item["id"]) for item in w.items]
    assert shown and set(shown) & set(flipped)
    assert "cross-validated model says" in w.items[0]["reason"]
    first = shown[0]
    send(
        w,
        kind="label",
        id=str(first),
        class_index=CLASSES.index(data.loc[first, "truth"]),
        client_id="fix1",
    )
    assert w.wait(60)
    assert s.labels.loc[first, "label"] == data.loc[first, "truth"]
    assert first not in [int(item["id"]) for item in w.items]
    actions = s.events["action"].tolist()
    assert actions.count("label") == 81  # the correction is appended, nothing edited


def test_labels_from_a_simulated_oracle_refresh_the_widget(tmp_path):
    data = pool()
    s = hw.Session(data, classes=CLASSES, truth="truth", store=":memory:", random_state=0)
    w = hw.Labeler(s)
    before = [item["id"] for item in w.items]
    s.simulate(3, wait=False)
    assert [item["id"] for item in w.items] != before
    assert w.status["labeled"] == 3
