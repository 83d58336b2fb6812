"""Label events: the append-only facts the store keeps, and the state derived from them.

Nothing is ever updated in place. A correction is a new `label` event, an undo is an
`undo` event that names the event it cancels; the current label of an item is whatever
the surviving events say. That keeps a full audit trail and makes replays exact.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from typing import Any, Literal

SCHEMA_VERSION = 2
Action = Literal["label", "skip", "undo", "resolve"]
ACTIONS: tuple[str, ...] = ("label", "skip", "undo", "resolve")


@dataclass(frozen=True)
class LabelEvent:
    """One thing a person (or the model, or a script) did to one item."""

    event_id: str
    item_id: str  # str(id): the pool's ids are all strings or all integers
    item_hash: str
    annotator: str
    session_id: str
    seq: int
    created_at: str  # ISO 8601, UTC
    action: Action
    label: str | None = None
    target_event_id: str | None = None  # the event an undo cancels
    suggestion: str | None = None
    suggestion_shown: bool | None = None
    suggestion_confidence: float | None = None
    model_version: int | None = None
    strategy: str | None = None
    query_score: float | None = None
    time_spent_ms: float | None = None
    audit: bool = False  # picked uniformly at random: an unbiased check of the model
    basis: str | None = None  # for "resolve": the opinion event ids it decided between
    selection_probability: float | None = None  # how likely the queue was to pick the item
    query_policy: str | None = None  # the policy that set that probability
    schema_version: int = SCHEMA_VERSION

    def as_row(self) -> dict[str, Any]:
        return asdict(self)

    def same_decision(self, other: LabelEvent) -> bool:
        """True if `other` records the same act (a retry), whatever its time and sequence."""
        keys = ("event_id", "item_id", "annotator", "action", "label", "target_event_id")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


EVENT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(LabelEvent))


def new_event_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def text_problem(value: str) -> str | None:
    """What makes a string unstorable, or None: the one text check of the package.

    Every store encodes text as UTF-8, and PostgreSQL refuses NUL characters, so a lone
    surrogate or a NUL must be refused before anything is acknowledged, not by the driver.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"cannot be encoded as UTF-8 ({exc.reason})"
    if "\x00" in value:
        return "contains a NUL character"
    return None


def check_text(value: str, what: str) -> str:
    """`value` if it can be stored; a ValueError that names `what` otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(f"{what} {value[:40]!r} {problem}; nothing was saved")
    return value


class LabelState:
    """The current labels, skips and undo stacks, folded from events in commit order.

    An item's label is decided by, in order: the latest surviving "resolve" event (an
    adjudicator's decision), else the majority of the annotators' opinions (each
    annotator's latest surviving label). A tie decides nothing: the item waits for
    adjudication. With one annotator this is simply her latest label.

    `apply` is idempotent per event id, so replaying a store (or an event that was
    retried) never counts anything twice.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, LabelEvent] = {}
        self._labels: dict[str, list[LabelEvent]] = {}  # item -> surviving label events
        self._resolutions: dict[str, list[LabelEvent]] = {}  # item -> surviving resolves
        self._decided: dict[str, LabelEvent] = {}  # item -> the event that decides it
        self._ties: set[str] = set()
        self._position: dict[str, int] = {}
        self._skips: dict[str, dict[str, LabelEvent]] = {}  # annotator -> item -> skip
        self._stacks: dict[str, list[LabelEvent]] = {}  # annotator -> undoable events
        self.n_events = 0

    def apply_all(self, events: Iterable[LabelEvent]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: LabelEvent) -> bool:
        """Fold one event in; False if it was already applied."""
        if event.event_id in self._by_id:
            return False
        self._position[event.event_id] = len(self._by_id)
        self._by_id[event.event_id] = event
        self.n_events += 1
        stack = self._stacks.setdefault(event.annotator, [])
        skips = self._skips.setdefault(event.annotator, {})
        if event.action == "label":
            self._labels.setdefault(event.item_id, []).append(event)
            skips.pop(event.item_id, None)
            stack.append(event)
        elif event.action == "resolve":
            self._resolutions.setdefault(event.item_id, []).append(event)
            stack.append(event)
        elif event.action == "skip":
            skips[event.item_id] = event
            stack.append(event)
        elif event.action == "undo":
            target = self._cancel(event.target_event_id)
            if target is not None:
                self._decide(target.item_id)
            return True
        self._decide(event.item_id)
        return True

    def _decide(self, item_id: str) -> None:
        resolutions = self._resolutions.get(item_id)
        self._ties.discard(item_id)
        if resolutions:
            self._decided[item_id] = resolutions[-1]
            return
        opinions = self.opinions(item_id)
        if not opinions:
            self._decided.pop(item_id, None)
            return
        counts: dict[str | None, int] = {}
        for opinion in opinions.values():
            counts[opinion.label] = counts.get(opinion.label, 0) + 1
        top = max(counts.values())
        winners = [label for label, n in counts.items() if n == top]
        if len(winners) > 1:
            self._decided.pop(item_id, None)
            self._ties.add(item_id)
            return
        latest = [e for e in opinions.values() if e.label == winners[0]]
        self._decided[item_id] = max(latest, key=lambda e: self._order(e))

    def _order(self, event: LabelEvent) -> int:
        return self._position[event.event_id]

    def opinions(self, item_id: str) -> dict[str, LabelEvent]:
        """Each annotator's latest surviving label of the item."""
        latest: dict[str, LabelEvent] = {}
        for event in self._labels.get(item_id, []):
            latest[event.annotator] = event
        return latest

    def ties(self) -> set[str]:
        """Items whose opinions are split evenly and that nobody has resolved."""
        return set(self._ties)

    def items_with_opinions(self) -> list[str]:
        return list(self._labels)

    def _cancel(self, target_id: str | None) -> LabelEvent | None:
        target = self._by_id.get(target_id or "")
        if target is None:
            return None  # an undo of an unknown event changes nothing
        stack = self._stacks.get(target.annotator, [])
        if target in stack:
            stack.remove(target)
        if target.action == "label":
            surviving = self._labels.get(target.item_id, [])
            if target in surviving:
                surviving.remove(target)
            if not surviving:
                self._labels.pop(target.item_id, None)
        elif target.action == "resolve":
            surviving = self._resolutions.get(target.item_id, [])
            if target in surviving:
                surviving.remove(target)
        elif target.action == "skip":
            skips = self._skips.get(target.annotator, {})
            if skips.get(target.item_id) is target:
                del skips[target.item_id]
        return target

    def current(self) -> dict[str, LabelEvent]:
        """The deciding event (resolve or majority label) per decided item."""
        return dict(self._decided)

    def label_of(self, item_id: str) -> LabelEvent | None:
        return self._decided.get(item_id)

    def skipped(self, annotator: str) -> dict[str, LabelEvent]:
        return dict(self._skips.get(annotator, {}))

    def last_undoable(self, annotator: str) -> LabelEvent | None:
        stack = self._stacks.get(annotator)
        return stack[-1] if stack else None

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._by_id

    def get(self, event_id: str) -> LabelEvent | None:
        return self._by_id.get(event_id)

    def log(self) -> list[LabelEvent]:
        """Every applied event, in the order applied (commit order on replay)."""
        return list(self._by_id.values())
