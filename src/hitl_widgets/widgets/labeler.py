"""The labeler widget: a thin view over a Session.

Wire protocol (the front end in js/labeler.js implements the other half):
  traits   classes [{label, key}], items [{id, view, score, suggestion, confidence,
           reason, audit, skipped, plan}], blind, current (set by the browser),
           status {...}, closed [ids]
  browser  {kind: "label", id, class_index, suggestion_shown, plan, time_spent_ms,
            client_id}  (plan: that of the items list the card came from)
           {kind: "skip", id, client_id}   {kind: "undo", client_id}
  kernel   {kind: "ack", client_id, ok, error?}   {kind: "undone", id}
An "ack" with ok=true is sent only after the store committed the event.

The click path: a label message is committed and acknowledged, and nothing runs between
the two. The session tells its observers "labels" once the event is durable and before it
asks for the refit; this widget answers the browser right there and waits (at most
ACK_FLUSH_SECONDS) until the kernel's IOPub thread has put the answer on the wire, so the
refit, which starts next, cannot hold it up; the refit then gives the answer a head start
(ACK_HEAD_START_SECONDS) on the machine's cores. The queue that follows a label (the
labeled item gone, the window topped up) usually comes from that refit, which refreshes
the widget on its own thread when done; this widget's coalescing `Worker` ("hitl-labeler")
sends it instead when no refresh came within QUEUE_AFTER_LABEL_SECONDS (a skip, a slow
refit, a pool still being vectorized). No queue is ever computed on the thread that reads
the next message. `timings()` says when each message arrived, was committed and was
answered (benchmarks/bench_browser.py reads it).

`closed` names items this widget sent earlier that are no longer open (labeled from a
cell, by `session.simulate`, by a teammate; dismissed here). The browser holds the card
it shows when a new `items` leaves it out only because Python computed that queue before
hearing which card is shown (`status.current_seen`): during Run All, the browser's
`current` waits behind the queued cells, so without `closed` it kept showing a card that
a later cell had labeled, and the next key press labeled it again.
"""

from __future__ import annotations

import string
import threading
import time
from collections import deque
from typing import Any

import anywidget
import pandas as pd
import traitlets

from ..core.session import Session
from ..core.store import SQLiteStore
from ..core.worker import Failure, Worker
from .chart import static_file
from .views import Renderer, image_view, row_view, safe_number, text_view, view_of_value

RESERVED_KEYS = {"s", "z"}  # skip and undo
SENT_MEMORY = 512  # ids of earlier `items` watched for being closed
CLOSED_MAX = 64  # closed ids kept on the wire (the browser holds at most one card)
TIMINGS_KEPT = 2000  # per-message timings kept for benchmarks (`Labeler.timings`)
ACK_FLUSH_SECONDS = 0.05  # longest wait for the kernel's IOPub thread to send an ack
# A refit or queue refresh that a browser label caused starts this long after its ack, so
# the ack's way to the browser (the Jupyter server and the browser, on the same few cores)
# is not slowed by the work it caused. benchmarks/bench_browser.py --rows 100000, 3 runs
# each, interleaved, on a 2-core machine at load ~8: median click -> "saved" 38.6 -> 35.1
# ms, key -> "saved" 34.9 -> 29.5 ms (without -> with the head start).
ACK_HEAD_START_SECONDS = 0.025
# The queue after a label usually comes from the refit the label causes (it refreshes the
# widget when done); the worker sends one itself only if no refresh came this long after
# the ack: after a skip (no refit), or while the refit is slow (a large text pool still
# being vectorized). That spares a queue computation, a message and a redraw per label
# (same runs: median click -> "saved" 41.9 -> 38.6 ms, key 42.1 -> 34.9 ms).
QUEUE_AFTER_LABEL_SECONDS = 0.25
CLASS_KEYS = [str(d) for d in range(1, 10)] + [
    c for c in string.ascii_lowercase if c not in RESERVED_KEYS
]


def class_keys(n: int) -> list[str]:
    """1-9, then letters except the reserved ones; classes past that get no key."""
    return [CLASS_KEYS[i] if i < len(CLASS_KEYS) else "" for i in range(n)]


class Labeler(anywidget.AnyWidget):
    """Uncertainty-ranked cards with a button and a key per class.

    Parameters
    ----------
    session : the Session to label in.
    view : "auto" (text column for text pools, else the row's fields), "text",
        "image" or "row".
    column : the column to show for view="text" or view="image".
    render : a function row -> str | image | dict, for anything else.
    highlight : terms to highlight in text views.
    blind : hide the model's suggestion so the human is not anchored to it.
    window : how many queued items the browser holds (the current one included).
    mode : "label" (the ranked queue), "adjudicate" (items whose opinions disagree; a
        reviewer's label resolves them) or "review" (likely label errors found by
        confident learning; a label is a correction, appended as a new event).
    claims : reserve the shown items in the store so teammates are not handed them;
        default: on when the session wants several opinions (overlap > 1) or the store
        is a team database.
    """

    _esm = static_file("labeler.js")
    _css = static_file("labeler.css")

    classes: traitlets.List[dict[str, str]] = traitlets.List().tag(sync=True)
    items: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    blind = traitlets.Bool(False).tag(sync=True)
    current = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    status = traitlets.Dict().tag(sync=True)
    closed: traitlets.List[str] = traitlets.List().tag(sync=True)

    def __init__(
        self,
        session: Session,
        *,
        view: str = "auto",
        column: str | None = None,
        render: Renderer | None = None,
        highlight: list[str] | None = None,
        blind: bool = False,
        window: int = 8,
        mode: str = "label",
        claims: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if view not in ("auto", "text", "image", "row"):
            raise ValueError(f"view must be 'auto', 'text', 'image' or 'row', got {view!r}")
        if column is not None and column not in session.data.columns:
            raise ValueError(f"column {column!r} is not in the pool")
        if mode not in ("label", "adjudicate", "review"):
            raise ValueError(f"mode must be 'label', 'adjudicate' or 'review', got {mode!r}")
        if mode == "adjudicate" and session.role != "reviewer":
            raise PermissionError("mode='adjudicate' needs a Session with role='reviewer'")
        self.session = session
        self.mode = mode
        self._claims = (
            claims
            if claims is not None
            else (session.overlap > 1 or not isinstance(session.store, SQLiteStore))
        )
        self._issues: pd.DataFrame | None = None
        self._handling: int | None = None  # the thread handling a browser message
        self._ack: str | None = None  # client_id to acknowledge once its event is durable
        self._timing: dict[str, Any] | None = None  # of the message being handled
        self._timings: deque[dict[str, Any]] = deque(maxlen=TIMINGS_KEPT)
        self._views: dict[Any, dict[str, Any]] = {}  # view per item of the last `items`
        self._labeled: dict[Any, bool] = {}  # is_labeled of the ids in _sent and _closed
        self._events_seen = 0  # events of the session's log that _labeled accounts for
        self._fits = threading.Condition()  # refits begun and not yet heard done
        self._fits_running = 0
        self._refresh_error: str | None = None
        self._acked_at: float | None = None  # perf_counter of the last ack to the browser
        self._acks = 0  # labels and skips acknowledged so far
        self._refreshed = threading.Condition()  # notified after each refresh
        self._acks_refreshed = 0  # the most acks a finished refresh had seen when it began
        self._reviewed_from = 0
        self._refresh_lock = threading.RLock()
        self._dismissed: set[Any] = set()
        self._sent: dict[Any, None] = {}  # ids sent in `items`, oldest first (bounded)
        self._closed: dict[Any, None] = {}  # of those, the ones no longer open
        self._view = view
        self._column = column
        self._render = render
        self._highlight = list(highlight or [])
        self._window = window
        self._refresher = Worker(
            self._queue_after_label, name="hitl-labeler", on_failure=self._refresh_failed
        )
        self._unsubscribe = session.observe(self._on_session)
        self.blind = blind
        self.classes = [
            {"label": str(c), "key": key}
            for c, key in zip(session.classes, class_keys(len(session.classes)), strict=True)
        ]
        self.refresh()
        self.on_msg(self._on_message)

    # ----------------------------------------------------------------- pushing
    def refresh(self) -> None:
        """Send the current queue and status (after labels, fits and undos).

        Refreshes come from the refit thread (after a fit), this widget's worker (labels
        no refit answered in time), a cell's thread (labels from elsewhere, a focus) and
        the kernel's thread (an undo): computing and sending under one lock keeps them in
        order, so a queue computed before a label can never overwrite one computed after.
        """
        with self._refresh_lock, self.hold_sync():
            acks = self._acks  # every label acked by now is in the queue computed below
            current = self.current  # read once: items and status must agree on it
            table = self._table()
            items = self._items(current, table)
            self.closed = self._closed_ids(table, items)
            self.items = items
            self.status = self._status(current)
        with self._refreshed:
            self._acks_refreshed = max(self._acks_refreshed, acks)
            self._refreshed.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the refits requested so far and the queue refreshes that they and
        this widget's labels asked for are done (scripts, tests); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        if not self.session.wait(left()):
            return False
        with self._fits:  # a refit refreshes this widget just after `session.wait` returns
            if not self._fits.wait_for(lambda: self._fits_running == 0, left()):
                return False
        return self._refresher.wait(left())

    def _queue_after_label(self) -> None:
        """The worker's job after this widget's labels and skips (requests coalesce): the
        next queue, unless a refresh begun after the last ack (the refit's, usually) sent
        it within QUEUE_AFTER_LABEL_SECONDS of that ack."""
        with self._refreshed:
            acks, acked = self._acks, self._acked_at
            deadline = (acked or 0.0) + QUEUE_AFTER_LABEL_SECONDS
            self._refreshed.wait_for(
                lambda: self._acks_refreshed >= acks, max(0.0, deadline - time.perf_counter())
            )
            if self._acks_refreshed >= acks:
                return
        self._refresh_job()

    def _refresh_job(self) -> None:
        """One refresh (after a refit, or for labels no refit has answered yet); a success
        clears the failure a previous one showed."""
        self._let_the_ack_land()
        self.refresh()
        if self._refresh_error is not None:
            self._refresh_error = None
            self._refresh_status()

    def _refresh_failed(self, failure: Failure) -> None:
        """Shown in the status line; the next label or refit refreshes again."""
        self._refresh_error = failure.error
        self._refresh_status()

    def _closed_ids(self, table: pd.DataFrame, items: list[dict[str, Any]]) -> list[str]:
        """Wire ids sent earlier that are no longer open; records the ids sent now."""
        shown = {item["id"] for item in items}
        self._forget_touched()

        def still_open(item_id: Any) -> bool:
            return self._wire_id(item_id) in shown or self._is_open(item_id, table)

        for item_id in [i for i in self._closed if still_open(i)]:  # undone, re-queued
            del self._closed[item_id]
        for item_id in [i for i in self._sent if not still_open(i)]:
            del self._sent[item_id]
            self._closed.pop(item_id, None)
            self._closed[item_id] = None  # most recent last
        for item_id in [self._pool_id(item["id"]) for item in items]:
            self._sent.pop(item_id, None)
            self._sent[item_id] = None
        for memory, limit in ((self._sent, SENT_MEMORY), (self._closed, CLOSED_MAX)):
            for item_id in list(memory)[: max(0, len(memory) - limit)]:
                del memory[item_id]
        for item_id in [i for i in self._labeled if i not in self._sent and i not in self._closed]:
            del self._labeled[item_id]
        return [self._wire_id(item_id) for item_id in self._closed]

    def _forget_touched(self) -> None:
        """Drop what `_labeled` knows of items that events since the last refresh touched.

        An item's labeled state changes only through an event on it (a label, skip,
        undo or resolve, here or synced from a teammate), and the log only grows; so
        the hundreds of ids remembered in `_sent` are looked up again only when touched.
        """
        log = self.session.event_log()
        if len(log) < self._events_seen:  # cannot happen (append-only); start over
            self._labeled.clear()
        else:
            for event in log[self._events_seen :]:
                self._labeled.pop(self._pool_id(event.item_id), None)
        self._events_seen = len(log)

    def _is_open(self, item_id: Any, table: pd.DataFrame) -> bool:
        """Could the queue still hand out this item (in this widget's mode)?"""
        if item_id in self._dismissed:
            return False
        if self.mode == "label":
            labeled = self._labeled.get(item_id)
            if labeled is None:
                labeled = self._labeled[item_id] = not self._unlabeled(item_id)
            return not labeled
        return item_id in table.index

    def _table(self) -> pd.DataFrame:
        """The items the mode offers, best first: index = ids; columns reason, audit,
        skipped (label mode: the next `window`; the other modes: all of them)."""
        if self.mode == "adjudicate":
            table = self.session.adjudication_queue()
            reasons = [
                "opinions differ: " + ", ".join(f"{a} → {label}" for a, label in o.items())
                for o in table["opinions"]
            ]
            frame = pd.DataFrame(
                {"reason": reasons, "audit": False, "skipped": False}, index=table.index
            )
        elif self.mode == "review":
            if self._issues is None:
                self._issues = self.session.label_issues()
                self._reviewed_from = len(self.session.event_log())  # later events = reviewed
            table = self._issues[self._issues["is_issue"]]
            touched = {e.item_id for e in self.session.event_log()[self._reviewed_from :]}
            table = table[[str(i) not in touched for i in table.index]]
            reasons = [
                f"labeled {r.given_label!r}; cross-validated model says {r.suggested_label!r} "
                f"(it gives the label {r.self_confidence:.0%})"
                for r in table.itertuples()
            ]
            frame = pd.DataFrame(
                {"reason": reasons, "audit": False, "skipped": False}, index=table.index
            )
        elif self._claims:
            frame = self.session.claim(self._window)
        else:
            frame = self.session.queue(self._window)
        return frame[[i not in self._dismissed for i in frame.index]]

    def _refresh_status(self) -> None:
        """Send only the status line; `current_seen` stays that of the items sent last,
        since the browser uses it to judge those items."""
        with self._refresh_lock:
            seen = self.status.get("current_seen") if self.status else None
            self.status = self._status(seen)

    def _items(
        self, wire_current: str | None, table: pd.DataFrame | None = None
    ) -> list[dict[str, Any]]:
        queue = (self._table() if table is None else table).head(self._window)
        plan = queue.attrs.get("plan")  # the queue these rows come from: a label names it
        ids = list(queue.index)
        current = self._pool_id(wire_current) if wire_current is not None else None
        if (
            current is not None
            and current not in ids
            and self.mode == "label"
            and self._unlabeled(current)
        ):
            ids.insert(0, current)  # never steal the card being looked at
        frame_rows = []
        views: dict[Any, dict[str, Any]] = {}
        # an item's view never changes: build it once while it stays in the window
        new = [item_id for item_id in ids if item_id not in self._views]
        rows = self.session.rows(new) if new else None
        for item_id in ids:
            view = self._views.get(item_id)
            if view is None:
                assert rows is not None
                view = self._view_of(item_id, rows.loc[item_id])
            views[item_id] = view
            suggestion, confidence, score = self.session.suggestion_for(item_id)
            queued = item_id in queue.index
            audit = bool(queue.at[item_id, "audit"]) if queued else False
            if audit:  # an audit label must not be anchored by the model it checks
                suggestion = confidence = None
            frame_rows.append(
                {
                    "id": self._wire_id(item_id),
                    "view": view,
                    "score": safe_number(score),
                    "suggestion": None
                    if suggestion is None
                    else self.session.classes.index(suggestion),
                    "confidence": safe_number(confidence),
                    "reason": str(queue.at[item_id, "reason"])
                    if queued
                    else f"kept on screen: no longer among the next {len(queue)}",
                    "audit": audit,
                    "skipped": bool(queue.at[item_id, "skipped"]) if queued else False,
                    "plan": plan if queued else None,
                }
            )
        self._views = views
        return frame_rows

    def _status(self, current: str | None = None) -> dict[str, Any]:
        s = self.session.status
        message = None if s.durable else "labels are kept in memory only (store=':memory:')"
        if self._refresh_error is not None:
            message = f"the queue could not be updated: {self._refresh_error}"
        return {
            "labeled": s.n_labeled,
            "total": s.n_items,
            "remaining": s.n_remaining,
            "fitting": s.fit_state == "fitting",
            "fit_error": s.fit_error,
            "store": s.store,
            "unsaved": 0,
            "model_version": s.model_version,
            "message": message,
            "warnings": [f"{text} (x{count})" for text, count in s.warnings.items()][:5],
            "current_seen": current,  # the card this queue was computed around
            # long work under way, e.g. "vectorizing 40%", or a pool being rescored
            "progress": s.progress or s.ranking,
        }

    def _view_of(self, item_id: Any, row: pd.Series) -> dict[str, Any]:
        try:
            if self._render is not None:
                return view_of_value(self._render(row), self._highlight)
            if self._view == "image":
                return image_view(row[self._image_column()], alt=str(item_id))
            text_column = self._text_column()
            if text_column is not None:
                return text_view(row[text_column], self._highlight)
            hidden = self._hidden_columns()
            return row_view(row[~row.index.isin(hidden)] if hidden else row)
        except Exception as exc:  # one unrenderable item must not break the widget
            return text_view(f"[cannot show item {item_id!r}: {type(exc).__name__}: {exc}]")

    def _text_column(self) -> str | None:
        if self._view == "text":
            return self._column or (
                self.session.pool.feature_names[0] if self.session.pool.kind == "text" else None
            )
        if self._view == "auto" and self.session.pool.kind == "text":
            return self.session.pool.feature_names[0]
        return None

    def _image_column(self) -> str:
        if self._column is None:
            raise ValueError("view='image' needs column=<the image column>")
        return self._column

    def _hidden_columns(self) -> list[str]:
        """The truth column is the answer key: never show it to the human."""
        return [self.session.truth] if self.session.truth else []

    # ---------------------------------------------------------------- receiving
    def _on_message(self, widget: Any, content: dict[str, Any], buffers: list) -> None:
        self._timing = {
            "kind": content.get("kind") if isinstance(content, dict) else None,
            "client_id": content.get("client_id") if isinstance(content, dict) else None,
            "received_at": time.time() * 1000,  # wall clock: benchmarks match the browser's
            "start": time.perf_counter(),
        }
        self._handling = threading.get_ident()
        try:
            self._handle(content)
        finally:
            self._handling = None
            self._mark("done")
            timing, self._timing = self._timing, None
            del timing["start"]
            self._timings.append(timing)

    def _mark(self, name: str) -> None:
        """Note when a step of the message being handled ended (ms after it arrived)."""
        if self._timing is not None:
            self._timing[name] = (time.perf_counter() - self._timing["start"]) * 1000

    def timings(self) -> list[dict[str, Any]]:
        """Per browser message, oldest first (the last 2,000): kind, client_id,
        received_at (wall clock, ms since the epoch) and, in ms after it arrived,
        committed (the store returned), acked (the answer was sent), flushed (the kernel
        put it on the wire) and done (the handler returned). For benchmarks."""
        return list(self._timings)

    def _handle(self, content: dict[str, Any]) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        client_id = str(content.get("client_id", "")) if isinstance(content, dict) else ""
        try:
            if kind == "label":
                self._ack = client_id  # answered once the event is durable: `_on_session`
                self._label(content)
            elif kind == "skip" and self.mode != "label":
                self._dismissed.add(self._pool_id(content["id"]))  # not now, in this widget
                self._ack = client_id
            elif kind == "skip":
                self._ack = client_id
                self.session.skip(self._pool_id(content["id"]))
            elif kind == "undo":
                # under the refresh lock: the refit this undo starts must not send a
                # queue computed before `current` names the item coming back
                with self._refresh_lock:
                    item_id = self.session.undo()
                    if item_id is not None:
                        self.current = self._wire_id(item_id)
                    self.send(
                        {
                            "kind": "undone",
                            "id": None if item_id is None else self._wire_id(item_id),
                        }
                    )
                    self.refresh()  # the undone item comes back as the card: at once
                return
            else:
                raise ValueError(f"unknown message kind {kind!r}")
        except Exception as exc:
            self._ack = None
            if kind in ("label", "skip"):
                self.send(
                    {
                        "kind": "ack",
                        "client_id": client_id,
                        "ok": False,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                )
            with self._refresh_lock:
                self.status = {
                    **self._status(self.current),
                    "message": f"{type(exc).__name__}: {exc}",
                }
            return
        self._send_ack()  # if the session did not say "labels" (a skip dismissed here)
        self._refresher.request()  # the next queue, off this thread (`_queue_after_label`)

    def _send_ack(self) -> None:
        """Acknowledge the message being handled (its event is durable), once."""
        client_id, self._ack = self._ack, None
        if client_id is None:
            return
        self._mark("committed")
        self.send({"kind": "ack", "client_id": client_id, "ok": True})
        self._mark("acked")
        self._flush_iopub()
        self._mark("flushed")
        with self._refreshed:
            self._acks += 1
            self._acked_at = time.perf_counter()

    def _let_the_ack_land(self) -> None:
        """Before work a browser label caused (its refit, its queue): wait until its ack
        has had ACK_HEAD_START_SECONDS to reach the browser. Labels from cells and
        scripts send no ack and wait for nothing."""
        acked = self._acked_at
        if acked is not None:
            rest = acked + ACK_HEAD_START_SECONDS - time.perf_counter()
            if rest > 0:
                time.sleep(rest)

    def _flush_iopub(self) -> None:
        """Wait until the kernel's IOPub thread has sent what this thread sent so far.

        ipykernel sends every message from its IOPub thread, which needs the GIL to do
        it; the refit thread, which the session starts right after the "labels"
        notification, holds the GIL in long stretches of Python (a fit, a threadpool
        scan), and the ack then waited behind it. Waiting here (the GIL released) lets
        the IOPub thread run first. Without an IOPub thread (no kernel, a test) or past
        ACK_FLUSH_SECONDS, it goes on at once.
        """
        kernel = getattr(self.comm, "kernel", None) if self.comm is not None else None
        io_thread = getattr(kernel, "iopub_thread", None)
        schedule = getattr(io_thread, "schedule", None)
        thread = getattr(io_thread, "thread", None)
        if schedule is None or not isinstance(thread, threading.Thread):
            return
        if not thread.is_alive() or thread is threading.current_thread():
            return
        sent = threading.Event()
        try:
            schedule(sent.set)  # runs after the sends queued before it
        except Exception:  # a kernel shutting down: the ack is already handed over
            return
        sent.wait(ACK_FLUSH_SECONDS)

    def _label(self, content: dict[str, Any]) -> None:
        index = content.get("class_index")
        if not isinstance(index, int) or not 0 <= index < len(self.session.classes):
            raise ValueError(f"class_index {index!r} is out of range")
        time_spent = content.get("time_spent_ms")
        plan = content.get("plan")
        if self.session.role == "reviewer" and self.mode != "label":
            self.session.resolve(
                self._pool_id(content["id"]),
                self.session.classes[index],
                event_id=content.get("client_id") or None,
            )
            return
        self.session.submit(
            self._pool_id(content["id"]),
            self.session.classes[index],
            suggestion_shown=bool(content.get("suggestion_shown")) and not self.blind,
            # which queue the card came from: metadata, so a bad one never costs the label
            plan=plan
            if isinstance(plan, int) and not isinstance(plan, bool) and plan >= 0
            else None,
            time_spent_ms=time_spent if isinstance(time_spent, (int, float)) else None,
            event_id=content.get("client_id") or None,
        )

    @traitlets.observe("current")
    def _on_current(self, change: dict[str, Any]) -> None:
        """The browser shows a card the last queue left out (it held it while Python
        lagged, e.g. under Run All): send a queue that has it, fresh, or says it is closed.
        A card that is in the last queue needs nothing (the usual click: no extra rebuild)."""
        shown = change["new"]
        if self._handling is not None or shown is None or not self.items:
            return
        if shown not in {item["id"] for item in self.items}:
            self.refresh()

    def _on_session(self, kind: str) -> None:
        if kind == "labels" and self._handling == threading.get_ident():
            # this widget's own label or skip is durable: answer the browser now, before
            # the session starts the refit; the queue follows from the worker
            self._send_ack()
        elif kind == "labels":
            # labels from elsewhere (a cell, `simulate`, another widget or thread): on
            # that thread, so a cell's next line sees a widget that knows of its label
            self.refresh()
        elif kind == "fit_started":  # on the refit thread, before the fit
            with self._fits:
                self._fits_running += 1
            self._let_the_ack_land()
            self._refresh_status()  # the queue has not changed yet: only "refitting…"
        elif kind in ("fit_done", "fit_failed"):
            try:
                # on the refit thread, which is done with the fit and has nothing else
                # to do (a hop to this widget's worker would cost a threadpool scan)
                self._refresh_job()
            except Exception as exc:  # shown like the worker's failures; the next retries
                self._refresh_failed(Failure(0, f"{type(exc).__name__}: {exc}", ""))
            finally:
                with self._fits:
                    self._fits_running = max(0, self._fits_running - 1)
                    self._fits.notify_all()
        elif kind == "focus":
            self.refresh()
        elif kind == "progress":
            self._refresh_status()  # "vectorizing 40%" (the session throttles these)

    # -------------------------------------------------------------------- ids
    def _wire_id(self, item_id: Any) -> str:
        return str(item_id)

    def _pool_id(self, wire_id: Any) -> Any:
        wire = str(wire_id)
        return int(wire) if self.session.pool.int_ids else wire

    def _unlabeled(self, item_id: Any) -> bool:
        try:
            return not self.session.is_labeled(item_id)
        except KeyError:
            return False

    def close(self) -> None:
        self._unsubscribe()
        self._refresher.stop()
        super().close()
