"""Who hears of a session's changes, and what happens when one of them fails.

Observers (a labeler, a dashboard, a user's callback) are called on the thread that
made the change, after every session lock is released, so a callback may read the
session or wait on its own locks without a deadlock. A callback that raises is
counted (shown in `SessionStatus.warnings`), never allowed to break the refit worker
or turn a saved label into an exception.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable


class Observers:
    """The callbacks of one session and the count of their failures."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[str], None]] = []
        self._errors: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Subscribe; returns a function that unsubscribes."""
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    def notify(self, kind: str) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(kind)
            except Exception as exc:
                with self._lock:
                    self._errors[f"observer failed: {type(exc).__name__}: {exc}"] += 1

    def errors(self) -> Counter[str]:
        with self._lock:
            return Counter(self._errors)
