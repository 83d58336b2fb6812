"""The labeler while labels arrive from elsewhere (a cell, `session.simulate`), driven
through its comm messages with no browser.

`Browser` below applies the front end's card rule (js/labeler.js: `getItems` and
`pickCurrent`) to the messages the widget really sends, so these tests check what a
person would see: the card is never an item already labeled.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

import hitl_widgets as hw


class Browser:
    """The front end's view of the widget, fed by the comm messages Python sends.

    The card is held while a new `items` leaves it out only because Python computed that
    queue before hearing which card is shown (`status.current_seen` differs), unless
    Python names it in `closed`. Like the real browser, its `current` reaches Python only
    when the kernel is free (`deliver_current`).
    """

    def __init__(self, widget: hw.Labeler):
        self.widget = widget
        self.state: dict[str, Any] = json.loads(json.dumps(widget.get_state()))
        self.card: str | None = None
        self.updates = 0
        widget.comm.send = self._send  # type: ignore[method-assign]
        self._pick()

    def _send(self, data=None, metadata=None, buffers=None):
        json.dumps(data, allow_nan=False)
        if data and data.get("method") == "update":
            self.updates += 1
            self.state.update(data["state"])
            self._pick()

    def _pick(self) -> None:
        closed = set(self.state.get("closed") or [])
        ids = [item["id"] for item in self.state["items"] if item["id"] not in closed]
        seen = (self.state.get("status") or {}).get("current_seen")
        if self.card in ids:
            return
        if self.card is not None and seen != self.card and self.card not in closed:
            return  # held: Python did not know this card when it computed the queue
        self.card = ids[0] if ids else None

    def up_next(self) -> list[str]:
        closed = set(self.state.get("closed") or [])
        return [i["id"] for i in self.state["items"] if i["id"] not in closed | {self.card}]

    def deliver_current(self) -> None:
        """The browser's `current` reaches the kernel (after the cells have run)."""
        self.widget.set_state({"current": self.card})


def send(widget: hw.Labeler, **content: Any) -> None:
    """A custom message from the browser, through the widget's comm."""
    message = {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    widget.comm.handle_msg(message)


def pool_id(s: hw.Session, wire_id: str) -> Any:
    return next(i for i in s.data.index if str(i) == wire_id)


def pool_frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    df["truth"] = np.where(df["x1"] + 0.3 * df["x2"] > 0, "blue", "orange")
    return df


def session(tmp_path, **kwargs) -> hw.Session:
    return hw.Session(
        pool_frame(),
        classes=["orange", "blue"],
        features=["x1", "x2"],
        truth="truth",
        store=tmp_path / "labels.db",
        random_state=0,
        **kwargs,
    )


def labeled(s: hw.Session) -> set[str]:
    return {str(i) for i in s.labels.index}


def test_a_cell_labels_the_shown_card_before_python_hears_of_it(tmp_path):
    """quickstart.ipynb under Run All: the widget is displayed, then a cell labels the
    first 20 queued items through the API while the browser's `current` still waits."""
    s = session(tmp_path)
    w = hw.Labeler(s)
    browser = Browser(w)
    first = browser.card
    assert first == w.items[0]["id"]
    for item_id in s.queue(20).index:
        s.submit(item_id, s.data.loc[item_id, "truth"])
        assert browser.card not in labeled(s), f"stale card {browser.card}"
    s.wait(30)
    assert first in labeled(s)
    assert browser.card is not None and browser.card not in labeled(s)
    assert first in w.closed
    assert not set(w.closed) - labeled(s)  # only labeled items are called closed
    # the card is Python's first item, or one a refit re-ranked away (held: it is not
    # swapped under the user's finger), never a labeled one
    # then the kernel is free and hears the card: the card is in the queue it sends,
    # with the current model's suggestion (no stale "cold start" copy)
    browser.deliver_current()
    card = browser.card
    assert card not in labeled(s)
    assert w.status["current_seen"] == card
    assert w.items[0]["id"] == card
    assert w.items[0]["suggestion"] is not None or w.items[0]["audit"]
    w.close()


def test_hearing_a_card_in_the_last_queue_costs_no_rebuild(tmp_path):
    s = session(tmp_path)
    w = hw.Labeler(s)
    browser = Browser(w)
    before = browser.updates
    browser.card = w.items[2]["id"]  # ArrowRight, ArrowRight
    browser.deliver_current()
    assert browser.updates == before


def test_simulate_40_never_leaves_a_labeled_card(tmp_path):
    """teaching.ipynb: `session.simulate(40)` after the widget is displayed."""
    s = session(tmp_path)
    w = hw.Labeler(s)
    browser = Browser(w)
    shown: list[str | None] = []

    def after_each_label(kind: str) -> None:  # runs after the widget's own observer
        if kind == "labels":
            shown.append(browser.card)
            assert browser.card not in labeled(s), f"stale card {browser.card}"

    unsubscribe = s.observe(after_each_label)
    s.simulate(10)
    s.simulate(30)
    unsubscribe()
    s.wait(30)
    assert len(labeled(s)) == 40 and len(shown) == 40
    assert browser.card not in labeled(s)
    assert browser.card not in browser.up_next()
    w.close()


def test_closed_forgets_an_item_that_comes_back(tmp_path):
    s = session(tmp_path)
    w = hw.Labeler(s)
    browser = Browser(w)
    first = browser.card
    s.submit(pool_id(s, first), "blue")  # from a cell
    assert first in w.closed and browser.card != first
    s.wait(30)
    s.undo()  # from a cell: the item is open again
    w.refresh()
    assert first not in w.closed
    assert first in [item["id"] for item in w.items]
    w.close()


def test_labels_from_the_browser_close_their_items_too(tmp_path):
    s = session(tmp_path)
    w = hw.Labeler(s)
    browser = Browser(w)
    for i in range(5):
        card = browser.card
        send(w, kind="label", id=card, class_index=i % 2, client_id=f"c{i}")
        assert w.wait(30)  # the queue after a label comes from the widget's worker
        assert card in w.closed
        assert card not in [item["id"] for item in w.items]
    assert len(w.closed) == 5


def test_closed_is_bounded(tmp_path):
    from hitl_widgets.widgets.labeler import CLOSED_MAX

    s = session(tmp_path, audit_share=0)
    w = hw.Labeler(s, window=4)
    Browser(w)
    s.simulate(CLOSED_MAX + 10, wait=False)
    assert len(w.closed) <= CLOSED_MAX
    s.wait(30)
    w.close()


def test_items_say_which_are_audit_items(tmp_path):
    s = session(tmp_path, audit_share=0.5)
    w = hw.Labeler(s, window=8)
    s.simulate(12)
    s.wait(30)
    w.refresh()
    audits = [item for item in w.items if item["audit"]]
    others = [item for item in w.items if not item["audit"]]
    assert audits and others
    assert all(item["suggestion"] is None and item["confidence"] is None for item in audits)
    assert all(item["reason"].startswith("random audit") for item in audits)
    assert all(item["suggestion"] is not None for item in others)
    w.close()
