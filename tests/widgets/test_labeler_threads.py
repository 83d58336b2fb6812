"""The labeler and the session under threads: no deadlock between refits and a cell.

Regression: with a Labeler displayed, `session.undo()` from a cell while refits ran froze
the kernel within a few submit/undo pairs: the session lock was held while observers ran
(undo -> notify -> Labeler.refresh waiting for the refresh lock) while the refit thread
held the refresh lock and waited for the session lock.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

import hitl_widgets as hw


@pytest.mark.slow
def test_submit_and_undo_from_another_thread_never_deadlock():
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    df["truth"] = np.where(y == 1, "pos", "neg")
    s = hw.Session(df, classes=["neg", "pos"], truth="truth", store=":memory:", random_state=0)
    labeler = hw.Labeler(s)
    for item in df.index[:6]:
        s.submit(item, df.loc[item, "truth"])
    errors: list[BaseException] = []

    def cell() -> None:
        try:
            for _ in range(200):
                item = s.queue(1).index[0]
                s.submit(item, df.loc[item, "truth"])  # a refit starts on the worker
                s.undo()  # while it runs, from a thread that is not the worker's
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=cell, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "deadlock: submit/undo pairs did not finish within 120 s"
    assert not errors, errors
    assert s.wait(30)
    assert len(s.labels) == 6
    labeler.close()
    s.close()
