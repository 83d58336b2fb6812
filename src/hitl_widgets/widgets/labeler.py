"""The labeler widget: a thin view over a Session.

Wire protocol (the front end in js/labeler.js implements the other half):
  traits   classes [{label, key}], items [{id, view, score, suggestion, confidence,
           reason, skipped}], blind, current (set by the browser), status {...}
  browser  {kind: "label", id, class_index, suggestion_shown, time_spent_ms, client_id}
           {kind: "skip", id, client_id}   {kind: "undo", client_id}
  kernel   {kind: "ack", client_id, ok, error?}   {kind: "undone", id}
An "ack" with ok=true is sent only after the store committed the event.
"""

from __future__ import annotations

import string
import threading
from pathlib import Path
from typing import Any

import anywidget
import pandas as pd
import traitlets

from ..core.session import Session
from ..core.store import SQLiteStore
from .views import Renderer, image_view, row_view, safe_number, text_view, view_of_value

STATIC = Path(__file__).resolve().parent.parent / "static"
RESERVED_KEYS = {"s", "z"}  # skip and undo
CLASS_KEYS = [str(d) for d in range(1, 10)] + [
    c for c in string.ascii_lowercase if c not in RESERVED_KEYS
]


def class_keys(n: int) -> list[str]:
    """1-9, then letters except the reserved ones; classes past that get no key."""
    return [CLASS_KEYS[i] if i < len(CLASS_KEYS) else "" for i in range(n)]


def _static(name: str) -> Path:
    path = STATIC / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the front end was not built. Install the package with "
            "`pip install .` (or run `npm ci && npm run build` in a source checkout)"
        )
    return path


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

    _esm = _static("labeler.js")
    _css = _static("labeler.css")

    classes = traitlets.List().tag(sync=True)
    items = traitlets.List().tag(sync=True)
    blind = traitlets.Bool(False).tag(sync=True)
    current = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    status = traitlets.Dict().tag(sync=True)

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
        self._handling = False
        self._reviewed_from = 0
        self._refresh_lock = threading.RLock()
        self._dismissed: set[Any] = set()
        self._view = view
        self._column = column
        self._render = render
        self._highlight = list(highlight or [])
        self._window = window
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

        Refreshes come from the kernel's thread (labels) and the refit thread (fits):
        computing and sending under one lock keeps them in order, so a queue computed
        before a label can never overwrite one computed after it.
        """
        with self._refresh_lock, self.hold_sync():
            current = self.current  # read once: items and status must agree on it
            self.items = self._items(current)
            self.status = self._status(current)

    def _queue(self) -> pd.DataFrame:
        """The items to show, by mode: index = ids; columns reason, audit, skipped."""
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
        frame = frame[[i not in self._dismissed for i in frame.index]]
        return frame.head(self._window)

    def _refresh_status(self) -> None:
        """Send only the status line; `current_seen` stays that of the items sent last,
        since the browser uses it to judge those items."""
        with self._refresh_lock:
            seen = self.status.get("current_seen") if self.status else None
            self.status = self._status(seen)

    def _items(self, wire_current: str | None) -> list[dict[str, Any]]:
        queue = self._queue()
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
        for item_id in ids:
            suggestion, confidence, score = self.session.suggestion_for(item_id)
            queued = item_id in queue.index
            audit = bool(queue.at[item_id, "audit"]) if queued else False
            if audit:  # an audit label must not be anchored by the model it checks
                suggestion = confidence = None
            frame_rows.append(
                {
                    "id": self._wire_id(item_id),
                    "view": self._view_of(item_id),
                    "score": safe_number(score),
                    "suggestion": None
                    if suggestion is None
                    else self.session.classes.index(suggestion),
                    "confidence": safe_number(confidence),
                    "reason": str(queue.at[item_id, "reason"]) if queued else "current item",
                    "skipped": bool(queue.at[item_id, "skipped"]) if queued else False,
                }
            )
        return frame_rows

    def _status(self, current: str | None = None) -> dict[str, Any]:
        s = self.session.status
        message = None if s.durable else "labels are kept in memory only (store=':memory:')"
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
        }

    def _view_of(self, item_id: Any) -> dict[str, Any]:
        row = self.session.data.loc[item_id]
        try:
            if self._render is not None:
                return view_of_value(self._render(row), self._highlight)
            if self._view == "image":
                return image_view(row[self._image_column()], alt=str(item_id))
            text_column = self._text_column()
            if text_column is not None:
                return text_view(row[text_column], self._highlight)
            return row_view(row.drop(labels=self._hidden_columns(), errors="ignore"))
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
        self._handling = True
        try:
            self._handle(content)
        finally:
            self._handling = False

    def _handle(self, content: dict[str, Any]) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        client_id = str(content.get("client_id", "")) if isinstance(content, dict) else ""
        try:
            if kind == "label":
                self._label(content)
            elif kind == "skip" and self.mode != "label":
                self._dismissed.add(self._pool_id(content["id"]))  # not now, in this widget
            elif kind == "skip":
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
            else:
                raise ValueError(f"unknown message kind {kind!r}")
        except Exception as exc:
            if kind in ("label", "skip"):
                self.send(
                    {
                        "kind": "ack",
                        "client_id": client_id,
                        "ok": False,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                )
            self.status = {**self._status(self.current), "message": f"{type(exc).__name__}: {exc}"}
            return
        if kind in ("label", "skip"):
            self.send({"kind": "ack", "client_id": client_id, "ok": True})
        self.refresh()

    def _label(self, content: dict[str, Any]) -> None:
        index = content.get("class_index")
        if not isinstance(index, int) or not 0 <= index < len(self.session.classes):
            raise ValueError(f"class_index {index!r} is out of range")
        time_spent = content.get("time_spent_ms")
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
            time_spent_ms=time_spent if isinstance(time_spent, (int, float)) else None,
            event_id=content.get("client_id") or None,
        )

    def _on_session(self, kind: str) -> None:
        if kind == "fit_started":
            self._refresh_status()  # the queue has not changed yet: only "refitting…"
        elif kind in ("fit_done", "fit_failed", "focus"):
            self.refresh()
        elif kind == "labels" and not self._handling:
            self.refresh()  # labels from elsewhere (a simulated oracle, a script)

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
        super().close()
