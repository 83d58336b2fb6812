"""Progress of long work: a bar in Jupyter, text in a terminal, nothing when asked.

Anything that can take more than about two seconds (vectorizing a large pool,
`simulate`, `race`, cross-validated `label_issues`) reports through a `Progress`. It
draws with tqdm (`tqdm.auto` picks the notebook bar under Jupyter and plain text in a
terminal) and also tells listeners, so a widget can say "vectorizing 40%" in its status
line. `Progress(show=False)` is silent but still tells listeners.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SHOW_AFTER_SECONDS = 2.0  # a bar appears only for work that lasts longer than this


@dataclass(frozen=True)
class ProgressState:
    """What a status line shows about the running task, if any."""

    description: str
    done: int
    total: int

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def __str__(self) -> str:
        return f"{self.description} {self.fraction:.0%}"


class Progress:
    """Reports one task at a time to a tqdm bar (optional) and to listeners."""

    def __init__(self, show: bool = True):
        self.show = show
        self._lock = threading.Lock()
        self._state: ProgressState | None = None
        self._listeners: list[Callable[[ProgressState | None], None]] = []

    @property
    def state(self) -> ProgressState | None:
        """The running task, or None when idle."""
        return self._state

    def listen(self, callback: Callable[[ProgressState | None], None]) -> None:
        self._listeners.append(callback)

    @contextmanager
    def task(self, total: int, description: str) -> Iterator[Callable[[int], None]]:
        """Run a task of `total` steps; the context gives `advance(n)`.

        The bar is created only once the task has run SHOW_AFTER_SECONDS: in Jupyter a
        tqdm bar is a set of widgets (about 13 KB of messages and an output that stays),
        even when its own `delay` keeps it hidden; a one-label `simulate` shows nothing.
        """
        bar: Any = None
        done = 0
        last = 0.0
        started = time.monotonic()

        def advance(n: int) -> None:
            nonlocal done, last, bar
            done += n
            now = time.monotonic()
            if bar is None and self.show and now - started > SHOW_AFTER_SECONDS:
                bar = self._bar(total, description, done)
            elif bar is not None:
                bar.update(n)
            if now - last > 0.2 or done >= total:  # listeners redraw: not on every step
                last = now
                self._set(ProgressState(description, done, total))

        self._set(ProgressState(description, 0, total))
        try:
            yield advance
        finally:
            if bar is not None:
                bar.close()
            self._set(None)

    def done(self, message: str) -> None:
        """A one-off note (e.g. "features read from cache") for listeners."""
        self._set(ProgressState(message, 1, 1))
        self._set(None)

    def _bar(self, total: int, description: str, done: int) -> Any:
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=done, desc=description, leave=False)

    def _set(self, state: ProgressState | None) -> None:
        with self._lock:
            self._state = state
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback(state)
            except Exception:  # a listener's failure must not stop the work it watches
                continue


def steps(items: Any, total: int, description: str, progress: Progress | None) -> Iterator[Any]:
    """Iterate `items` while reporting to `progress` (None: silent)."""
    if progress is None:
        yield from items
        return
    with progress.task(total, description) as advance:
        for item in items:
            yield item
            advance(1)
