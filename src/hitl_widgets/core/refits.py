"""The model a session serves, kept current by one background worker.

`Refits` owns the current `FitResult`, the history of fits, and the last failure. A
request returns at once; the worker reads the training set (through a callback that
takes the session lock for a moment), fits a clone and scores the pool with no lock
held, then swaps the result in. A fit made from older labels never replaces one made
from newer labels, and a failure is recorded and shown while the worker keeps going.

A pool whose rescoring is slow and that keeps a candidate sample (a Dask pool: see
`training.SampleFit`) is refit in two stages on two workers: "hitl-refit" fits the
model and ranks the sample (milliseconds; published as `sample`, which the queue
serves at once), "hitl-rescore" scores the whole pool with the newest such model and
publishes it as `current`. Labels that arrive during a rescoring are fitted and
ranked on the sample meanwhile; the rescoring that follows takes the newest model.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from .features import ModelInput
from .strategies import QueryStrategy
from .training import (
    FitResult,
    FitSummary,
    SampleFit,
    TrainingSet,
    fit_once,
    fit_sample,
    rescore,
    summarize,
)
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
        self.sample: SampleFit | None = None  # a newer model's ranking of the candidates
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
        self._rescorer: Worker | None = None  # made when a pool first needs one

    def serving(self) -> tuple[FitResult | None, SampleFit | None]:
        """The current fit, and the sample fit when it is newer (else None)."""
        with self._lock:
            fit, sample = self.current, self.sample
        if sample is not None and fit is not None and fit.version >= sample.version:
            sample = None
        return fit, sample

    def ranking(self) -> str | None:
        """How stale the full ranking is while the pool is rescored; None when it is not."""
        fit, sample = self.serving()
        if sample is None:
            return None
        ranked = f"ranked by model v{fit.version}" if fit else "no full ranking yet"
        size = len(sample.positions)
        return f"{ranked}, current v{sample.version} on {size:,} random items: rescoring"

    @property
    def busy(self) -> bool:
        return any(worker.busy for worker in self._workers())

    @property
    def warnings(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for worker in self._workers():
            counts.update(worker.warnings)
        return dict(counts)

    def state(self) -> str:
        """ "fitting", "failed", "ready" or "cold" (no model yet)."""
        if self.busy:
            return "fitting"
        return "failed" if self.error else "ready" if self.current or self.sample else "cold"

    def request(self) -> None:
        self._worker.request()

    def wait(self, timeout: float | None = None, *, ranked_only: bool = False) -> bool:
        """Wait for the fits requested so far and (unless `ranked_only`: their sample
        ranking is enough) for the rescorings they started."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._worker.wait(timeout):
            return False
        if ranked_only or self._rescorer is None:
            return True
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._rescorer.wait(left)

    def stop(self) -> None:
        for worker in self._workers():
            worker.stop()

    def _workers(self) -> list[Worker]:
        return [self._worker] + ([self._rescorer] if self._rescorer is not None else [])

    def _job(self) -> tuple[FitResult, FitSummary] | SampleFit | None:
        training = self._training()
        if len(set(training.y.tolist())) < 2:
            return None  # cold start (or undone back to one class): nothing to fit
        inputs = self._inputs()  # waits while a large pool is still being vectorized
        with self._lock:
            version = 1 + max((f.version for f in (self.current, self.sample) if f), default=0)
        args = (inputs.template, inputs.X, training, self._strategy, self._class_index, version)
        if getattr(inputs.X, "candidates", None) is not None:
            return fit_sample(*args)
        result = fit_once(*args)
        self._prepare(result)
        return result, summarize(result, training.unlabeled, self._truth_codes)

    def _rescore_job(self) -> tuple[FitResult, FitSummary] | None:
        _, sample = self.serving()
        if sample is None:
            return None  # a newer full fit is in place already
        result = rescore(sample, self._inputs().X, self._strategy, self._class_index)
        self._prepare(result)
        return result, summarize(result, sample.unlabeled, self._truth_codes)

    def _publish(
        self, generation: int, outcome: tuple[FitResult, FitSummary] | SampleFit | None
    ) -> None:
        if isinstance(outcome, SampleFit):
            with self._lock:
                self.error, self.traceback = None, None
                newest = self.sample or self.current
                if newest is None or outcome.label_version >= newest.label_version:
                    self.sample = outcome
            self._rescoring().request()
            return
        with self._lock:
            self.error, self.traceback = None, None
            if outcome is None:
                self.current, self.sample = None, None
                return
            self._swap(*outcome)

    def _publish_rescored(
        self, generation: int, outcome: tuple[FitResult, FitSummary] | None
    ) -> None:
        if outcome is not None:
            with self._lock:
                self.error, self.traceback = None, None
                self._swap(*outcome)

    def _swap(self, result: FitResult, summary: FitSummary) -> None:
        """Make `result` current unless a newer one is (the caller holds `_lock`)."""
        current = self.current
        if current is None or result.label_version >= current.label_version:
            self.current = result  # a stale fit never replaces a newer one
            self.history.append(summary)

    def _rescoring(self) -> Worker:
        if self._rescorer is None:  # only the refit thread gets here: no race
            self._rescorer = Worker(
                self._rescore_job,
                name="hitl-rescore",
                on_start=self._started,
                on_result=self._publish_rescored,
                on_failure=self._failed,
                on_idle=self._idle,
            )
        return self._rescorer

    def _started(self, generation: int) -> None:
        self._notify("fit_started")

    def _failed(self, failure: Failure) -> None:
        with self._lock:
            self.error, self.traceback = failure.error, failure.traceback

    def _idle(self, outcome: str) -> None:
        self._notify("fit_done" if outcome == "done" else "fit_failed")
