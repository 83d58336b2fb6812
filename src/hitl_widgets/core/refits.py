"""The model a session serves, kept current by one background worker.

`Refits` owns the current `FitResult`, the history of fits, and the last failure. A
request returns at once; the worker reads the training set (through a callback that
takes the session lock for a moment), fits a clone and scores the pool with no lock
held, then swaps the result in. A fit made from older labels never replaces one made
from newer labels, and a failure is recorded and shown while the worker keeps going.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .features import ModelInput
from .strategies import QueryStrategy
from .training import FitResult, FitSummary, TrainingSet, fit_once, summarize
from .worker import Failure, Worker


class Refits:
    """Background refits of one session; observers hear "fit_started/done/failed"."""

    def __init__(
        self,
        inputs: Callable[[], ModelInput],
        strategy: QueryStrategy,
        class_index: dict[Any, int],
        truth_codes: np.ndarray | None,
        training: Callable[[], TrainingSet],
        notify: Callable[[str], None],
        prepare: Callable[[FitResult], None] = lambda fit: None,
    ):
        self._inputs, self._strategy = inputs, strategy
        self._class_index, self._truth_codes = class_index, truth_codes
        self._training, self._notify = training, notify
        self._prepare = prepare  # derived state of a fit (the queue's head), before publishing
        self._lock = threading.Lock()
        self.current: FitResult | None = None  # swapped whole, so a plain read is safe
        self.history: list[FitSummary] = []
        self.error: str | None = None
        self.traceback: str | None = None
        self._worker = Worker(
            self._job,
            name="hitl-refit",
            on_start=self._started,
            on_result=self._publish,
            on_failure=self._failed,
            on_idle=self._idle,
        )

    @property
    def busy(self) -> bool:
        return self._worker.busy

    @property
    def warnings(self) -> dict[str, int]:
        return dict(self._worker.warnings)

    def state(self) -> str:
        """ "fitting", "failed", "ready" or "cold" (no model yet)."""
        if self._worker.busy:
            return "fitting"
        return "failed" if self.error else "ready" if self.current else "cold"

    def request(self) -> None:
        self._worker.request()

    def wait(self, timeout: float | None = None) -> bool:
        return self._worker.wait(timeout)

    def stop(self) -> None:
        self._worker.stop()

    def _job(self) -> tuple[FitResult, FitSummary] | None:
        training = self._training()
        if len(set(training.y.tolist())) < 2:
            return None  # cold start (or undone back to one class): nothing to fit
        inputs = self._inputs()  # waits while a large pool is still being vectorized
        fit = self.current
        version = (fit.version if fit else 0) + 1
        result = fit_once(
            inputs.template, inputs.X, training, self._strategy, self._class_index, version
        )
        self._prepare(result)
        return result, summarize(result, training.unlabeled, self._truth_codes)

    def _publish(self, generation: int, outcome: tuple[FitResult, FitSummary] | None) -> None:
        with self._lock:
            self.error, self.traceback = None, None
            if outcome is None:
                self.current = None
                return
            result, summary = outcome
            current = self.current
            if current is None or result.label_version >= current.label_version:
                self.current = result  # a stale fit never replaces a newer one
                self.history.append(summary)

    def _started(self, generation: int) -> None:
        self._notify("fit_started")

    def _failed(self, failure: Failure) -> None:
        with self._lock:
            self.error, self.traceback = failure.error, failure.traceback

    def _idle(self, outcome: str) -> None:
        self._notify("fit_done" if outcome == "done" else "fit_failed")
