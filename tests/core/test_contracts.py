"""The Session's written contracts, tried as a user would break them.

Ownership (the caller's DataFrame is copied), locking (observers never run under the
session lock; a snapshot is consistent), threads (a failing background job is recorded
and the worker keeps going), CSV exports that survive spreadsheets, and bad arguments
that fail at the call with a message naming the argument.
"""

from __future__ import annotations

import csv
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import hitl_widgets as hw
from hitl_widgets.core.pool import PoolError
from hitl_widgets.core.worker import Worker


def pool(n: int = 60, seed: int = 0) -> pd.DataFrame:
    X, y = make_classification(n_samples=n, n_features=4, random_state=seed)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)])
    df["truth"] = np.where(y == 1, "pos", "neg")
    df.index = [f"r{i:02d}" for i in range(n)]
    return df


def session(df: pd.DataFrame, **kwargs) -> hw.Session:
    options = dict(classes=["neg", "pos"], features=["x0", "x1", "x2", "x3"], random_state=0)
    options.setdefault("store", ":memory:")
    return hw.Session(df, **{**options, **kwargs})


# ------------------------------------------------------------------ ownership
@pytest.mark.filterwarnings("ignore:The inplace keyword")  # pandas 3 deprecates, users still do
def test_sorting_the_callers_frame_in_place_moves_no_label(tmp_path):
    df = pool()
    s = session(df, store=tmp_path / "l.db")
    df.sort_index(ascending=False, inplace=True)
    s.submit("r00", "pos")
    assert s.labels.index.tolist() == ["r00"]
    assert s.events["item_id"].tolist() == ["r00"]
    s.close()
    again = session(pool(), store=tmp_path / "l.db")  # the original data opens the store
    assert again.labels.index.tolist() == ["r00"]


def test_renaming_adding_rows_and_editing_cells_change_nothing(tmp_path):
    df = pool()
    s = session(df, store=tmp_path / "l.db")
    before = s.data.copy()
    df.index = [f"other{i}" for i in range(len(df))]
    df.loc["extra"] = [0.0, 0.0, 0.0, 0.0, "pos"]
    df.iloc[0, 0] = 1e9
    assert s.data.equals(before)
    assert len(s.queue(100)) == 60  # the added row is not in the pool
    s.submit("r01", "neg")
    s.submit("r02", "pos")
    assert s.wait(30)
    s.close()
    again = session(pool(), store=tmp_path / "l.db")
    assert sorted(again.labels.index) == ["r01", "r02"]


def test_features_are_the_ones_the_labeler_shows():
    df = pool()
    s = session(df)
    df["x0"] = 0.0  # edits after construction reach neither the model nor the views
    assert s.pool.X[0, 0] == s.data["x0"].iloc[0] != 0.0


# ------------------------------------------------------------------ locking
def test_observers_never_run_with_the_session_lock_held():
    s = session(pool())
    seen = []

    def observer(kind: str) -> None:
        # another thread must be able to take the lock while we run: a held lock
        # would deadlock against anything that waits for this observer
        done = threading.Event()
        threading.Thread(target=lambda: (s.snapshot(), done.set()), daemon=True).start()
        seen.append((kind, done.wait(5)))

    s.observe(observer)
    s.submit("r00", "pos")
    s.submit("r01", "neg")
    s.undo()
    s.focus(None)
    assert s.wait(30)
    assert seen and all(ok for _, ok in seen), seen


def test_a_snapshot_is_frozen_and_consistent():
    s = session(pool())
    s.submit("r00", "pos")
    s.submit("r01", "neg")
    assert s.wait(30)
    snap = s.snapshot()
    s.submit("r02", "pos")
    assert snap.n_labeled == 2 and len(snap.current) == 2 and len(snap.log) == 2
    assert snap.fit is not None and snap.fit.n_labels == 2
    assert s.snapshot().n_labeled == 3


# ------------------------------------------------------------------ threads
def test_a_worker_records_a_failure_shows_it_and_keeps_running():
    calls = []
    failures = []

    def job() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom once")
        return len(calls)

    results = []
    worker = Worker(
        job,
        name="test",
        on_result=lambda g, v: results.append(v),
        on_failure=failures.append,
    )
    worker.request()
    assert worker.wait(10)
    assert worker.failure is not None and "boom once" in worker.failure.error
    assert failures and "RuntimeError" in failures[0].traceback
    worker.request()
    assert worker.wait(10)
    assert worker.failure is None and results == [2] and worker.alive
    worker.stop()


def test_a_failing_fit_is_shown_and_the_next_fit_recovers():
    class FlakyModel(ClassifierMixin, BaseEstimator):
        """Fails every fit while `broken`: two quick submits may cause one fit or two,
        so the failure is a state of the model, not a count of calls."""

        broken = True

        def fit(self, X, y):
            if FlakyModel.broken:
                raise RuntimeError("first fit fails")
            self.inner_ = LogisticRegression().fit(X, y)
            self.classes_ = self.inner_.classes_
            return self

        def predict_proba(self, X):
            return self.inner_.predict_proba(X)

    s = session(pool(), model=FlakyModel())
    s.submit("r00", "pos")
    s.submit("r01", "neg")
    assert s.wait(30)
    assert s.status.fit_state == "failed" and "first fit fails" in s.status.fit_error
    FlakyModel.broken = False
    s.submit("r02", "pos")
    assert s.wait(30)
    assert s.status.fit_state == "ready" and s.status.fit_error is None


# ------------------------------------------------------------------ CSV
def test_csv_round_trip_keeps_rows_whole_and_defuses_formulas(tmp_path):
    ids = [f"id{i}" for i in range(8)]
    ids[1], ids[2], ids[3] = "line\rbreak", "new\nline", 'quote "x", comma'
    ids[4], ids[5], ids[6], ids[7] = "=1+2", "+cmd", "-2", "@SUM(A1)"
    df = pd.DataFrame({"x": np.arange(8.0), "y": np.arange(8.0) % 3}, index=ids)
    s = hw.Session(df, classes=["=bad", "ok"], store=":memory:", annotator="\tann")
    for item in ids:
        s.submit(item, "=bad" if ids.index(item) % 2 else "ok")
    path = s.export(tmp_path / "labels.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 9  # header + 8: no \r or \n split a row
    back = pd.read_csv(path, keep_default_na=False)
    assert back["item_id"].tolist()[:4] == ids[:4]
    assert back["item_id"].tolist()[4:] == ["'=1+2", "'+cmd", "'-2", "'@SUM(A1)"]
    assert set(back["label"]) == {"'=bad", "ok"} and set(back["annotator"]) == {"'\tann"}
    exact = pd.read_csv(s.export(tmp_path / "raw.csv", csv_formulas="keep"), keep_default_na=False)
    assert exact["item_id"].tolist() == ids and set(exact["label"]) == {"=bad", "ok"}
    jsonl = pd.read_json(s.export(tmp_path / "l.jsonl"), lines=True)
    assert jsonl["item_id"].tolist() == ids  # JSONL stays exact
    with pytest.raises(ValueError, match="csv_formulas"):
        s.export(tmp_path / "x.csv", csv_formulas="drop")


# ------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"claim_ttl": float("nan")}, ValueError, "claim_ttl must be a finite number"),
        ({"claim_ttl": -1}, ValueError, "claim_ttl must not be negative"),
        ({"overlap": True}, TypeError, "overlap must be an integer"),
        ({"overlap": 0}, ValueError, "overlap must be at least 1"),
        ({"audit_share": float("nan")}, ValueError, "audit_share must be a finite"),
        ({"audit_share": "0.1"}, TypeError, "audit_share must be a number"),
        ({"random_state": 1.5}, TypeError, "random_state must be an integer"),
        ({"role": "boss"}, ValueError, "role must be 'annotator' or 'reviewer'"),
    ],
)
def test_bad_settings_fail_at_the_call(kwargs, error, message):
    with pytest.raises(error, match=message):
        session(pool(), **kwargs)


@pytest.mark.parametrize(("k", "error"), [(2.5, TypeError), ("3", TypeError), (-1, ValueError)])
def test_bad_queue_sizes_are_named(k, error):
    s = session(pool())
    with pytest.raises(error, match="k must"):
        s.queue(k)
    with pytest.raises(error, match="k must"):
        s.claim(k)


@pytest.mark.parametrize("bad", ["a\x00b", "lone \ud800"])
def test_unstorable_item_ids_are_refused_at_construction(bad):
    df = pool(4)
    df.index = pd.Index(["a", "b", "c", bad], dtype=object)
    with pytest.raises(PoolError, match="item id"):
        session(df)


def test_a_model_with_more_probability_columns_than_classes_is_named():
    class ThreeColumns(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict_proba(self, X):
            return np.full((len(X), 3), 1 / 3)

    s = session(pool(), model=ThreeColumns())
    s.submit("r00", "pos")
    s.submit("r01", "neg")
    assert s.wait(30)
    assert "predict_proba returned shape" in s.status.fit_error
    assert "one column per class" in s.status.fit_error


def test_time_spent_must_be_a_duration():
    s = session(pool())
    with pytest.raises(ValueError, match="time_spent_ms must be a finite"):
        s.submit("r00", "pos", time_spent_ms=float("inf"))
    assert s.labels.empty


def test_an_audit_row_carries_no_suggestion_for_any_client():
    s = session(pool(200), audit_share=0.5)
    for item in ["r00", "r01", "r02", "r03"]:
        s.submit(item, "pos" if item in ("r00", "r02") else "neg")
    assert s.wait(30)
    q = s.queue(20)
    assert q["audit"].any()
    audit = q[q["audit"]]
    assert audit["suggestion"].isna().all()
    assert audit["confidence"].isna().all() and audit["score"].isna().all()
    assert q.loc[~q["audit"], "suggestion"].notna().all()


def test_submit_from_many_threads_loses_nothing():
    s = session(pool(200))
    items = [f"r{i:02d}" for i in range(60)]

    def label(chunk: list[str]) -> None:
        for item in chunk:
            s.submit(item, "pos" if int(item[1:]) % 2 else "neg")
            time.sleep(0)

    threads = [threading.Thread(target=label, args=(items[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert s.wait(60)
    assert sorted(s.labels.index) == sorted(items)
    assert len(s.events) == 60 and s.model_ is not None
