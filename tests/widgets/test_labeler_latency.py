"""The labeler's click path, driven through its comm messages with no browser: a label is
committed and acknowledged with nothing in between (no refit, no queue), the next queue
comes from the widget's worker, and while a large text pool is still being vectorized the
status line says so and cold-start cards can be labeled.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import HashingVectorizer

import hitl_widgets as hw
from hitl_widgets.core import features
from hitl_widgets.datasets import product_reviews


class Wire:
    """Stands in for the comm: what Python sends, on which thread, and what the session
    was doing at that moment."""

    def __init__(self, widget: hw.Labeler, session: hw.Session):
        self.session = session
        self.sent: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        widget.comm.send = self._send  # type: ignore[method-assign]

    def _send(self, data=None, metadata=None, buffers=None):
        json.dumps(data, allow_nan=False)
        record = {
            "data": data,
            "thread": threading.get_ident(),
            "fit_state": self.session.status.fit_state,
        }
        with self.lock:
            self.sent.append(record)

    def since(self, n: int) -> list[dict[str, Any]]:
        with self.lock:
            return self.sent[n:]

    def statuses(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r["data"]["state"]["status"]
                for r in self.sent
                if r["data"].get("method") == "update" and "status" in r["data"]["state"]
            ]


def send(widget: hw.Labeler, **content: Any) -> None:
    message = {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    widget.comm.handle_msg(message)


def is_ack(record: dict[str, Any]) -> bool:
    data = record["data"]
    return data.get("method") == "custom" and data["content"].get("kind") == "ack"


def numeric_session(tmp_path, n: int = 400) -> hw.Session:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n)})
    df["truth"] = np.where(df["x"] > 0, "pos", "neg")
    return hw.Session(
        df,
        classes=["neg", "pos"],
        features=["x", "y"],
        truth="truth",
        store=tmp_path / "labels.db",
        random_state=0,
    )


def test_nothing_runs_between_a_label_and_its_ack(tmp_path):
    s = numeric_session(tmp_path)
    w = hw.Labeler(s)
    wire = Wire(w, s)
    here = threading.get_ident()
    for i in range(6):
        assert w.wait(30)  # the previous label's refit and refreshes are over
        before = len(wire.sent)
        card = w.items[0]["id"]
        send(w, kind="label", id=card, class_index=i % 2, client_id=f"c{i}")
        answered = wire.since(before)
        # the first thing the browser hears is the ack: no queue or status before it
        assert is_ack(answered[0]), answered[0]
        assert answered[0]["data"]["content"] == {"kind": "ack", "client_id": f"c{i}", "ok": True}
        assert answered[0]["thread"] == here
        # ... sent before the refit was even asked for (the session refits after telling
        # its observers, and this widget answers in its observer)
        assert answered[0]["fit_state"] != "fitting"
        assert s.labels.loc[int(card), "label"] == ["neg", "pos"][i % 2]  # durable
        assert w.wait(30)
        # the next queue (the labeled card gone) came from another thread
        updates = [
            r
            for r in wire.since(before)
            if r["data"].get("method") == "update" and "items" in r["data"]["state"]
        ]
        assert updates and all(r["thread"] != here for r in updates)
        assert card not in [item["id"] for item in w.items]
        assert card in w.closed
    assert w.status["labeled"] == 6 and w.status["model_version"] >= 1
    timing = w.timings()[-1]
    assert timing["kind"] == "label" and timing["client_id"] == "c5"
    assert 0 <= timing["committed"] <= timing["acked"] <= timing["flushed"] <= timing["done"]
    w.close()
    s.close()


def test_a_failed_label_is_answered_at_once_and_starts_nothing(tmp_path):
    s = numeric_session(tmp_path)
    w = hw.Labeler(s)
    wire = Wire(w, s)
    before = len(wire.sent)
    send(w, kind="label", id="999999", class_index=0, client_id="bad")
    acks = [r for r in wire.since(before) if is_ack(r)]
    assert [a["data"]["content"]["ok"] for a in acks] == [False]
    assert "not in the pool" in w.status["message"]
    assert w.wait(30)
    assert len(s.events) == 0
    w.close()
    s.close()


def test_a_burst_of_labels_keeps_the_queue_right(tmp_path):
    """Labels faster than the refreshes: every label acked, none shown again, the
    refreshes coalesce (fewer queues than labels are fine, a stale one is not)."""
    s = numeric_session(tmp_path)
    w = hw.Labeler(s, window=8)
    Wire(w, s)
    labeled: list[str] = []
    for i in range(40):
        open_items = [item["id"] for item in w.items if item["id"] not in labeled]
        if not open_items:
            assert w.wait(30)
            open_items = [item["id"] for item in w.items if item["id"] not in labeled]
        card = open_items[0]
        send(w, kind="label", id=card, class_index=i % 2, client_id=f"b{i}")
        labeled.append(card)
    assert w.wait(60)
    assert len(set(labeled)) == 40
    assert not {item["id"] for item in w.items} & set(labeled)
    assert set(labeled) <= {str(i) for i in s.labels.index}
    w.close()
    s.close()


def test_a_failing_refresh_is_shown_and_the_next_one_recovers(tmp_path, monkeypatch):
    s = numeric_session(tmp_path)
    w = hw.Labeler(s)
    wire = Wire(w, s)
    queue = s.queue
    failed = threading.Event()

    def queue_failing_once_on_the_worker(k: int = 10) -> pd.DataFrame:
        if threading.current_thread().name == "hitl-labeler" and not failed.is_set():
            failed.set()
            raise RuntimeError("boom")
        return queue(k)

    monkeypatch.setattr(s, "queue", queue_failing_once_on_the_worker)
    first, second = w.items[0]["id"], w.items[1]["id"]
    before = len(wire.sent)
    send(w, kind="skip", id=first, client_id="f1")  # a skip: no refit refreshes after it
    assert [r["data"]["content"]["ok"] for r in wire.since(before) if is_ack(r)] == [True]
    assert until(lambda: "boom" in str(w.status.get("message")))
    assert w.status["message"] == "the queue could not be updated: RuntimeError: boom"
    send(w, kind="label", id=second, class_index=1, client_id="f2")  # the worker goes on
    assert w.wait(30)
    assert w.status["message"] is None
    assert second not in [item["id"] for item in w.items]
    assert list(s.labels.index) == [int(second)]
    w.close()
    s.close()


def until(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_vectorizing_progress_is_shown_and_cold_start_cards_can_be_labeled(tmp_path, monkeypatch):
    """A text pool still being vectorized when the Session opens (a background thread):
    the status line says "vectorizing N%" and updates, cold-start cards need no model and
    are labeled and acknowledged meanwhile, and the first fit comes once it is done."""
    data = product_reviews(1200, random_state=3)
    monkeypatch.setattr(features, "CHUNK_DOCUMENTS", 100)
    gate = threading.Event()
    chunks = {"n": 0}
    transform = HashingVectorizer.transform

    def slow_transform(self, X):  # holds the vectorizer at its third chunk
        chunks["n"] += 1
        if chunks["n"] == 3:
            assert gate.wait(60), "the test never released the vectorizer"
        return transform(self, X)

    monkeypatch.setattr(HashingVectorizer, "transform", slow_transform)
    s = hw.Session(
        data,
        classes=["neg", "pos"],
        features="text",
        truth="truth",
        store=tmp_path / "labels.db",
        random_state=0,
    )
    try:
        w = hw.Labeler(s)
        wire = Wire(w, s)
        assert until(lambda: str(w.status.get("progress")).startswith("vectorizing")), w.status
        assert re.fullmatch(r"vectorizing \d+%", w.status["progress"])
        assert w.status["model_version"] == 0
        assert s.status.progress == w.status["progress"]
        # cold-start cards are there and can be labeled while the pool is vectorized
        assert w.items and all(item["reason"].startswith("cold start") for item in w.items)
        for i in range(4):
            before = len(wire.sent)
            card = w.items[0]["id"]
            send(w, kind="label", id=card, class_index=i % 2, client_id=f"v{i}")
            acks = [r["data"]["content"] for r in wire.since(before) if is_ack(r)]
            assert acks == [{"kind": "ack", "client_id": f"v{i}", "ok": True}]
            # the next queue comes from the worker (the refit waits for the features)
            assert until(lambda card=card: card not in [item["id"] for item in w.items])
        assert chunks["n"] == 3 and not gate.is_set()  # still vectorizing all along
        assert str(w.status["progress"]).startswith("vectorizing")
        assert w.status["fitting"] is True  # the first refit waits for the features
        gate.set()
        assert w.wait(120)
        assert w.status["progress"] is None
        assert w.status["model_version"] >= 1 and w.status["labeled"] == 4
        shown = [status.get("progress") for status in wire.statuses()]
        assert any(str(p).startswith("vectorizing") for p in shown)
        assert shown[-1] is None
        w.close()
    finally:
        gate.set()
        s.close()
