"""The background refit loop: one worker thread, coalesced requests, no stale overwrite.

`request()` is what a submission calls: it only bumps a counter and returns, so the
submit path never waits for a fit. The worker fits the newest snapshot of labels;
requests that arrive during a fit collapse into one next fit. Results carry the
request generation they answered, and an older generation never replaces a newer one.
"""

from __future__ import annotations

import threading
import traceback
import warnings
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any


class Refitter:
    """Runs `fit()` in a daemon thread whenever a refit was requested."""

    def __init__(
        self,
        fit: Callable[[], Any],
        publish: Callable[[int, Any], None],
        fail: Callable[[int, BaseException, str], None],
        started: Callable[[int], None],
        finished: Callable[[str], None],
    ):
        # weak references: a forgotten Session (a re-run notebook cell) must be collectable
        self._fit = weakref.WeakMethod(fit)
        self._publish = weakref.WeakMethod(publish)
        self._fail = weakref.WeakMethod(fail)
        self._started = weakref.WeakMethod(started)
        self._finished = weakref.WeakMethod(finished)
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._running = False
        self._stopped = False
        self.warnings: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._loop, name="hitl-refit", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._running or self._requested > self._done

    def request(self) -> int:
        """Ask for a refit on the labels as they are now; returns at once."""
        with self._cond:
            self._requested += 1
            self._cond.notify_all()
            return self._requested

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every refit requested so far has finished; False on timeout."""
        with self._cond:
            target = self._requested
            return self._cond.wait_for(lambda: self._done >= target or self._stopped, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._requested > self._done or self._stopped)
                if self._stopped:
                    return
                generation = self._requested
                self._running = True
            outcome = self._run_once(generation)
            if outcome is None:
                return
            with self._cond:
                self._running = False
                self._done = max(self._done, generation)
                self._cond.notify_all()
            finished = self._finished()
            if finished is not None:
                finished(outcome)  # after `done`, so observers see the fit as finished

    def _run_once(self, generation: int) -> str | None:
        """One fit: "fit_done" or "fit_failed"; None once the session is gone."""
        fit, publish, fail, started = (self._fit(), self._publish(), self._fail(), self._started())
        if fit is None or publish is None or fail is None or started is None:
            self.stop()  # the session is gone
            return None
        started(generation)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = fit()
            for warning in caught:
                self.warnings[f"{warning.category.__name__}: {warning.message}"] += 1
        except Exception as exc:  # reported through `fail`, never swallowed
            fail(generation, exc, traceback.format_exc())
            return "fit_failed"
        publish(generation, result)
        return "fit_done"
