"""The labeler widget driven through its comm messages, with no browser."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import hitl_widgets as hw
from hitl_widgets.widgets.labeler import class_keys


class Recorder:
    """Stands in for the comm: keeps what Python sends to the browser."""

    def __init__(self, widget: hw.Labeler):
        self.sent: list[dict] = []
        widget.comm.send = self._send  # type: ignore[method-assign]

    def _send(self, data=None, metadata=None, buffers=None):
        json.dumps(data, allow_nan=False)  # everything on the wire is strict JSON
        self.sent.append(data)

    def custom(self, kind: str) -> list[dict]:
        return [
            m["content"]
            for m in self.sent
            if m.get("method") == "custom" and m["content"].get("kind") == kind
        ]


def make_session(tmp_path, n: int = 60, **kwargs) -> hw.Session:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"x": rng.normal(size=n), "y": rng.normal(size=n)}, index=[f"item{i}" for i in range(n)]
    )
    df["truth"] = np.where(df["x"] > 0, "pos", "neg")
    return hw.Session(
        df,
        classes=["neg", "pos"],
        features=["x", "y"],
        truth="truth",
        store=tmp_path / "labels.db",
        random_state=0,
        **kwargs,
    )


def send(widget: hw.Labeler, **content) -> None:
    """A custom message from the browser, through the widget's comm (as the kernel
    delivers it)."""
    message = {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    widget.comm.handle_msg(message)


def test_labels_reach_the_store_and_are_acknowledged(tmp_path):
    s = make_session(tmp_path)
    w = hw.Labeler(s)
    rec = Recorder(w)
    assert [c["key"] for c in w.classes] == ["1", "2"]
    first = w.items[0]["id"]
    send(
        w,
        kind="label",
        id=first,
        class_index=1,
        suggestion_shown=False,
        time_spent_ms=812.5,
        client_id="c-1",
    )
    assert rec.custom("ack") == [{"kind": "ack", "client_id": "c-1", "ok": True}]
    assert s.labels.loc[first, "label"] == "pos"
    assert w.wait(30)  # the next queue comes from the widget's worker
    event = s.events.iloc[-1]
    assert event["event_id"] == "c-1" and event["time_spent_ms"] == 812.5
    assert first not in [item["id"] for item in w.items]
    assert w.status["labeled"] == 1
    # the same message again (a retry) is idempotent
    send(w, kind="label", id=first, class_index=1, client_id="c-1")
    assert len(s.events) == 1


def test_many_labels_then_refit_reranks(tmp_path):
    s = make_session(tmp_path, audit_share=0)
    w = hw.Labeler(s)
    Recorder(w)
    for i in range(10):
        item = w.items[0]["id"]
        send(
            w,
            kind="label",
            id=item,
            class_index=int(s.data.loc[item, "truth"] == "pos"),
            client_id=f"c{i}",
        )
        assert w.wait(30)
    s.wait()
    w.refresh()
    assert w.status["model_version"] >= 1
    assert w.items[0]["suggestion"] in (0, 1)
    assert 0.5 <= w.items[0]["confidence"] <= 1
    assert w.items[0]["reason"] == "uncertainty (margin)"


def test_skip_and_undo(tmp_path):
    s = make_session(tmp_path)
    w = hw.Labeler(s)
    rec = Recorder(w)
    a, b = w.items[0]["id"], w.items[1]["id"]
    send(w, kind="skip", id=a, client_id="s1")
    send(w, kind="label", id=b, class_index=0, client_id="l1")
    send(w, kind="undo", client_id="u1")
    assert rec.custom("undone") == [{"kind": "undone", "id": b}]
    assert w.current == b and w.items[0]["id"] == b
    assert b not in s.labels.index
    send(w, kind="undo", client_id="u2")
    assert rec.custom("undone")[-1] == {"kind": "undone", "id": a}
    send(w, kind="undo", client_id="u3")
    assert rec.custom("undone")[-1] == {"kind": "undone", "id": None}


def test_errors_are_surfaced_not_raised(tmp_path):
    s = make_session(tmp_path)
    w = hw.Labeler(s)
    rec = Recorder(w)
    send(w, kind="label", id="no-such-item", class_index=0, client_id="bad1")
    send(w, kind="label", id=w.items[0]["id"], class_index=7, client_id="bad2")
    acks = rec.custom("ack")
    assert [a["ok"] for a in acks] == [False, False]
    assert "not in the pool" in acks[0]["error"]
    assert "out of range" in acks[1]["error"]
    assert "out of range" in w.status["message"]
    send(w, kind="explode")
    assert "unknown message kind" in w.status["message"]
    assert len(s.events) == 0


def test_current_item_is_kept_across_reranking(tmp_path):
    s = make_session(tmp_path)
    w = hw.Labeler(s, window=3)
    Recorder(w)
    last = s.queue(len(s.data)).index[-1]
    w.current = last
    w.refresh()
    assert last in [item["id"] for item in w.items]


def test_blind_mode_records_suggestion_not_shown(tmp_path):
    s = make_session(tmp_path)
    w = hw.Labeler(s, blind=True)
    Recorder(w)
    for i in range(4):
        item = w.items[0]["id"]
        send(w, kind="label", id=item, class_index=i % 2, suggestion_shown=True, client_id=f"b{i}")
        s.wait()
    assert not s.events["suggestion_shown"].any()


def test_a_label_answers_the_queue_its_card_came_from(tmp_path):
    s = make_session(tmp_path)
    w = hw.Labeler(s)
    Recorder(w)
    items = w.items
    assert len({item["plan"] for item in items}) == 1  # one queue behind the list
    first, later = items[0], items[2]
    send(w, kind="label", id=first["id"], class_index=0, plan=first["plan"], client_id="p0")
    send(w, kind="label", id=later["id"], class_index=1, plan=later["plan"], client_id="p1")
    events = s.events.set_index("item_id")
    assert events.loc[first["id"], "selection_probability"] > 0
    assert pd.isna(events.loc[later["id"], "selection_probability"])  # items[1] was open
    assert events.loc[later["id"], "query_policy"].startswith("picked out of the queue's order")


def test_a_bad_queue_id_from_the_browser_never_costs_the_label(tmp_path):
    s = make_session(tmp_path)
    w = hw.Labeler(s)
    Recorder(w)
    item = w.items[0]["id"]
    send(w, kind="label", id=item, class_index=0, plan=-5, client_id="bad")
    assert item in s.events["item_id"].tolist()


def test_truth_column_is_hidden_and_views_are_json(tmp_path):
    s = make_session(tmp_path)
    w = hw.Labeler(s)
    view = w.items[0]["view"]
    assert view["kind"] == "row"
    assert [name for name, _ in view["fields"]] == ["x", "y"]


def test_text_image_and_custom_views(tmp_path):
    n = 6
    df = pd.DataFrame(
        {
            "text": ["<script>alert(1)</script>", "x" * 50_000, "plain", "a", "b", "c"],
            "img": [np.zeros((4, 4), dtype=np.uint8)] * n,
            "score": [np.nan, 1.0, np.inf, 2.0, 3.0, 4.0],
        }
    )
    s = hw.Session(df, classes=["a", "b"], features="text", store=":memory:", random_state=0)
    text = hw.Labeler(s, highlight=["alert"])
    views = {item["id"]: item["view"] for item in text.items}
    assert views["0"] == {
        "kind": "text",
        "text": "<script>alert(1)</script>",
        "truncated": False,
        "highlight": ["alert"],
    }
    assert views["1"]["truncated"] and len(views["1"]["text"]) < 50_000
    image = hw.Labeler(s, view="image", column="img")
    assert image.items[0]["view"]["src"].startswith("data:image/png;base64,")
    custom = hw.Labeler(s, render=lambda row: {"score": row["score"]})
    values = {item["id"]: item["view"]["fields"][0][1] for item in custom.items}
    assert values["0"] == "NaN" and values["2"] == "inf"
    pil = hw.Labeler(s, render=lambda row: Image.new("RGB", (3, 3)))
    assert pil.items[0]["view"]["kind"] == "image"
    broken = hw.Labeler(s, render=lambda row: 1 / 0)
    assert "cannot show item" in broken.items[0]["view"]["text"]


def test_class_keys_skip_reserved_letters():
    keys = class_keys(40)
    assert keys[:9] == [str(i) for i in range(1, 10)]
    assert "s" not in keys and "z" not in keys
    assert keys[-1] == ""
    assert len(set(keys[:33])) == 33


def test_bad_widget_arguments(tmp_path):
    s = make_session(tmp_path)
    with pytest.raises(ValueError, match="view must be"):
        hw.Labeler(s, view="carousel")
    with pytest.raises(ValueError, match="not in the pool"):
        hw.Labeler(s, column="nope")


def test_audit_items_hide_the_suggestion(tmp_path):
    s = make_session(tmp_path, audit_share=0.5)
    w = hw.Labeler(s)
    Recorder(w)
    for i in range(8):
        item = w.items[0]["id"]
        send(w, kind="label", id=item, class_index=i % 2, client_id=f"a{i}")
        assert w.wait(30)
    s.wait()
    w.refresh()
    audits = [item for item in w.items if item["reason"].startswith("random audit")]
    others = [item for item in w.items if item["reason"].startswith("uncertainty")]
    assert audits and others
    assert all(item["suggestion"] is None and item["confidence"] is None for item in audits)
    assert all(item["suggestion"] is not None for item in others)
