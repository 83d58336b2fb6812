"""One coalescing background worker: how refits and dashboard redraws leave the click path.

A `Worker` owns one daemon thread and one job. `request()` only bumps a counter and
returns, so whoever asks (a submit, a fit that finished) never waits. Requests that
arrive while the job runs collapse into one next run, which sees the newest state.

One failure policy for every background job: an exception is recorded as the worker's
`failure` (message and traceback), counted, handed to `on_failure` (which shows it in a
status or widget), and the thread keeps running; the next request runs the job again.
Warnings raised by the job are counted in `warnings`, not printed once per run: a cell
full of repeated ConvergenceWarnings buries the widget.

The job is held through a weak reference when it is a bound method, so a forgotten
owner (a re-run notebook cell) can be collected; the thread then ends by itself.

Refits and redraws use separate Worker instances on purpose: a redraw (charts, a second
or so) must never delay the next refit, and a refit must never wait for a chart.

Jobs run with BLAS limited to one thread (`single_blas_thread`). A background job's
linear algebra is small fits and memory-bound passes over the pool, where BLAS threads
add nothing; next to the kernel's own thread they oversubscribe a small machine, and
OpenBLAS threads that spin for work then starve everything else. Measured on a busy
2-core machine: a logistic regression on 20 labels and 64k text features took 1,641 ms
with two OpenBLAS threads and 59 ms with one; a 100k x 20 product, 16 ms and 5.5 ms.
"""

from __future__ import annotations

import threading
import traceback
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from threadpoolctl import ThreadpoolController

_blas_lock = threading.Lock()
_blas_users = 0
_blas_limit: Any = None
# Found once, at the first background job (numpy, scipy and scikit-learn are loaded by
# then): a fresh scan of the loaded libraries on every job cost 2-11 ms per refit.
_blas_controller: ThreadpoolController | None = None


@dataclass(frozen=True)
class Failure:
    """What went wrong in one run of a background job."""

    generation: int
    error: str  # "TypeError: ..." : short, for a status line
    traceback: str


def _weak(fn: Callable[..., Any] | None) -> Callable[[], Callable[..., Any] | None]:
    """A weak reference to a bound method; a strong one to anything else."""
    if fn is None:
        return lambda: None
    if hasattr(fn, "__self__") and hasattr(fn, "__func__"):
        return weakref.WeakMethod(fn)
    return lambda: fn


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread while any background job runs (the limit is process-wide,
    so overlapping jobs share one limit, set by the first and lifted by the last)."""
    global _blas_users, _blas_limit, _blas_controller
    with _blas_lock:
        if _blas_users == 0:
            if _blas_controller is None:
                _blas_controller = ThreadpoolController()
            _blas_limit = _blas_controller.limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limit.restore_original_limits()
                _blas_limit = None


class Worker:
    """Run `job()` on a daemon thread whenever it was requested; coalesce requests.

    Callbacks (all optional, all called on the worker thread, never with a lock held):
    `on_start(generation)` before a run; `on_result(generation, value)` after a run that
    returned; `on_failure(failure)` after one that raised; `on_idle(outcome)` once the
    run counts as done ("done" or "failed"), so observers that read `busy` see it idle.
    """

    def __init__(
        self,
        job: Callable[[], Any],
        *,
        name: str,
        on_start: Callable[[int], None] | None = None,
        on_result: Callable[[int, Any], None] | None = None,
        on_failure: Callable[[Failure], None] | None = None,
        on_idle: Callable[[str], None] | None = None,
    ):
        self.name = name
        self._job = _weak(job)
        self._on_start = _weak(on_start)
        self._on_result = _weak(on_result)
        self._on_failure = _weak(on_failure)
        self._on_idle = _weak(on_idle)
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._running = False
        self._stopped = False
        self.runs = 0
        self.failures = 0
        self.failure: Failure | None = None  # the latest run's failure; None after a success
        self.warnings: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """A run is going on or was requested and has not started yet."""
        with self._cond:
            return self._running or self._requested > self._done

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def request(self) -> int:
        """Ask for a run on the state as it is now; returns at once."""
        with self._cond:
            self._requested += 1
            self._cond.notify_all()
            return self._requested

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every run requested so far has finished; False on timeout."""
        with self._cond:
            target = self._requested
            return self._cond.wait_for(lambda: self._done >= target or self._stopped, timeout)

    def stop(self) -> None:
        """End the thread after the current run (if any); pending requests are dropped."""
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
            with self._cond:
                self._running = False
                self._done = max(self._done, generation)
                self._cond.notify_all()
            if outcome is None:
                self.stop()  # the owner is gone
                return
            on_idle = self._on_idle()
            if on_idle is not None:
                self._guard(on_idle, outcome)

    def _run_once(self, generation: int) -> str | None:
        """One run: "done" or "failed"; None once the owner of the job is gone."""
        job = self._job()
        if job is None:
            return None
        on_start = self._on_start()
        if on_start is not None:
            self._guard(on_start, generation)
        try:
            with warnings.catch_warnings(record=True) as caught, single_blas_thread():
                warnings.simplefilter("always")
                value = job()
            for warning in caught:
                self.warnings[f"{warning.category.__name__}: {warning.message}"] += 1
        except Exception as exc:  # recorded and shown, never swallowed, never fatal
            self.failures += 1
            self.failure = Failure(
                generation, f"{type(exc).__name__}: {exc}", traceback.format_exc()
            )
            on_failure = self._on_failure()
            if on_failure is not None:
                self._guard(on_failure, self.failure)
            return "failed"
        finally:
            del job
        self.runs += 1
        self.failure = None
        on_result = self._on_result()
        if on_result is not None:
            self._guard(on_result, generation, value)
        return "done"

    def _guard(self, callback: Callable[..., Any], *args: Any) -> None:
        """A failing callback is counted as a warning; it never kills the thread."""
        try:
            callback(*args)
        except Exception as exc:
            self.warnings[f"{self.name} callback failed: {type(exc).__name__}: {exc}"] += 1
