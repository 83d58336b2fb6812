"""Pools on Dask, on a real LocalCluster (2 worker processes).

The Dask pool must be the same pool as the in-memory one built from the same rows:
same fingerprint, same queue after every refit, same labels and events; a worker that
dies while the pool is being rescored must cost time, never a label or a wrong ranking.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import cloudpickle
import dask.dataframe as dd
import distributed
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

import hitl_widgets as hw

pytestmark = pytest.mark.slow
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers get SlowModel by value

EVENT_FIELDS = ["item_id", "action", "label", "suggestion", "model_version", "audit", "strategy"]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, 5)), columns=list("abcde"))
    df["truth"] = np.where(df["a"] + df["b"] + 0.3 * rng.normal(size=n) > 0, "pos", "neg")
    df["region"] = rng.choice(["north", "south", "east"], n)
    df.index = pd.Index([f"r{i:06d}" for i in range(n)], name="row")
    return df


def open_session(data, tmp_path, name: str, **kwargs) -> hw.Session:
    return hw.Session(
        data,
        classes=["neg", "pos"],
        features=list("abcde"),
        truth="truth",
        subgroups="region",
        store=tmp_path / f"{name}.sqlite",
        random_state=0,
        progress=False,
        annotator="ann",
        **kwargs,
    )


def test_a_dask_pool_is_the_same_pool_as_in_memory(client, tmp_path):
    ddf = dd.from_pandas(frame(6000), npartitions=4)
    remote = open_session(ddf, tmp_path, "remote", client=client)
    local = open_session(ddf.compute(), tmp_path, "local")
    assert remote.pool.fingerprint == local.pool.fingerprint  # one pool, one store
    assert list(remote.data.columns) == ["region", "truth"]  # features stay on the workers
    for _ in range(4):
        for s in (remote, local):
            s.simulate(10)
        a, b = remote.queue(20), local.queue(20)
        assert list(a.index) == list(b.index)  # exact top-k after each full rescoring
        np.testing.assert_allclose(a["score"].to_numpy(float), b["score"].to_numpy(float))
    pd.testing.assert_series_equal(remote.labels["label"], local.labels["label"])
    pd.testing.assert_frame_equal(remote.events[EVENT_FIELDS], local.events[EVENT_FIELDS])
    shown = remote.rows(list(a.index[:3]))  # what the labeler shows: features fetched
    pd.testing.assert_frame_equal(
        shown[list("abcde")], local.data.loc[a.index[:3], list("abcde")], check_names=False
    )
    assert np.isfinite(remote.estimate()["estimate"].iloc[0])
    remote.close()
    local.close()


def test_the_widgets_show_a_dask_pool(client, tmp_path):
    """The labeler's cards carry the features fetched from the workers (never the truth);
    the dashboard draws from the same tables as for an in-memory pool."""
    import json

    ddf = dd.from_pandas(frame(3000), npartitions=3)
    s = open_session(ddf, tmp_path, "widgets", client=client)
    s.simulate(30)
    labeler = hw.Labeler(s)
    card = json.dumps(labeler.items[0]["view"])
    assert all(f'"{c}"' in card for c in "abcde") and "truth" not in card
    dashboard = hw.Dashboard(s)
    assert dashboard.wait(60) and dashboard.failure is None
    assert dashboard.data["uncertainty"].rows
    dashboard.close()
    labeler.close()
    s.close()


class SlowModel(ClassifierMixin, BaseEstimator):
    """A logistic regression whose scoring takes a while per chunk: time to kill a worker."""

    def fit(self, X, y):
        self.inner_ = LogisticRegression().fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict_proba(self, X):
        time.sleep(0.4)
        return self.inner_.predict_proba(X)


def test_a_worker_killed_mid_rescore_costs_time_not_labels(client, tmp_path):
    ddf = dd.from_pandas(frame(4000, seed=1), npartitions=8)
    s = open_session(ddf, tmp_path, "killed", client=client, model=SlowModel())
    reference = open_session(ddf.compute(), tmp_path, "reference", model=SlowModel())
    for session in (s, reference):
        session.simulate(12)
    before = len(client.scheduler_info()["workers"])
    victim = next(iter(client.scheduler_info()["workers"]))
    pid = client.run(os.getpid, workers=[victim])[victim]  # a process this test's cluster began
    s.submit(s.queue(1).index[0], "pos")  # a refit starts: 8 chunks x 0.4 s on 2 workers
    time.sleep(0.6)
    assert s.status.fit_state == "fitting"  # the rescoring is under way
    os.kill(pid, signal.SIGKILL)
    assert s.wait(180)
    assert victim not in client.scheduler_info()["workers"]  # it died (a nanny restarts it)
    assert s.status.fit_state == "ready", s.status.fit_error
    reference.submit(reference.queue(1).index[0], "pos")
    reference.wait()
    assert list(s.queue(10).index) == list(reference.queue(10).index)
    assert s.status.n_labeled == 13 and len(s.store.read_events()) == 13  # nothing lost
    deadline = time.monotonic() + 60  # the nanny brings the worker back
    while len(client.scheduler_info()["workers"]) < before and time.monotonic() < deadline:
        time.sleep(0.2)
    s.close()
    reference.close()


def test_bad_dask_pools_are_named(client, tmp_path):
    df = frame(200)
    with pytest.raises(hw.PoolError, match="item ids must be unique"):
        open_session(
            dd.from_pandas(df.reset_index(drop=True), npartitions=2).reset_index(drop=True),
            tmp_path,
            "dupes",
            client=client,
        )
    text = df.assign(note="some words")
    with pytest.raises(hw.PoolError, match="feature columns must be numeric"):
        hw.Session(
            dd.from_pandas(text, npartitions=2),
            ["neg", "pos"],
            features=["a", "note"],
            store=":memory:",
            client=client,
        )
    with pytest.raises(hw.PoolError, match="text and callables need an in-memory pool"):
        hw.Session(
            dd.from_pandas(text, npartitions=2),
            ["neg", "pos"],
            features="note",
            store=":memory:",
            client=client,
        )
    broken = df.copy()
    broken.iloc[3, 0] = np.inf
    with pytest.raises(hw.PoolError, match="feature column 'a' holds inf"):
        open_session(dd.from_pandas(broken, npartitions=2), tmp_path, "inf", client=client)


def test_a_cluster_that_goes_away_loses_no_label_and_says_so(tmp_path):
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    own = distributed.Client(cluster, set_as_default=False)
    s = open_session(dd.from_pandas(frame(2000), npartitions=2), tmp_path, "gone", client=own)
    s.simulate(12)
    served = list(s.queue(5).index)
    own.close()
    cluster.close()
    s.submit(served[0], "pos")  # durable: the store is local
    assert s.wait(60)
    assert s.status.fit_state == "failed"
    assert s.status.fit_error.startswith("ConnectionError: the Dask cluster cannot be reached")
    assert "every label is saved" in s.status.fit_error
    assert s.status.n_labeled == 13 and len(s.store.read_events()) == 13
    # the queue still serves: the new model (fitted on rows kept on the client) ranks the
    # candidate sample, and the status says the full ranking is an older model's
    after = s.queue(4)
    assert len(after) == 4 and served[0] not in after.index
    assert s.status.ranking.startswith(f"ranked by model v{s.status.model_version}, current")
    s.close()


def test_the_queue_follows_each_label_at_once_while_the_pool_is_rescored(client, tmp_path):
    """After a fit the newest model ranks the candidate sample at once; the slow rescoring
    of the whole pool follows and then the queue is the in-memory pool's again."""
    ddf = dd.from_pandas(frame(3000, seed=2), npartitions=6)
    s = open_session(ddf, tmp_path, "sample", client=client, model=SlowModel())
    reference = open_session(ddf.compute(), tmp_path, "sample_ref", model=SlowModel())
    for session in (s, reference):
        session.simulate(12)
    version = s.status.model_version
    item = s.queue(1).index[0]
    s.submit(item, "pos")
    deadline = time.monotonic() + 30
    while s.status.newest_model == version and time.monotonic() < deadline:
        time.sleep(0.02)
    status = s.status
    assert status.newest_model == version + 1 and status.model_version == version
    assert status.ranking.startswith(f"ranked by model v{version}, current v{version + 1}")
    served = s.queue(5)  # the sample (here every row) ranked by the new model
    assert served["reason"].str.contains("random sample of 3,000 items").any()
    assert item not in served.index
    s.wait()
    assert s.status.ranking is None and s.status.model_version == version + 1
    reference.submit(item, "pos")
    reference.wait()
    assert list(served.index) == list(reference.queue(5).index)  # the same items, earlier
    assert list(s.queue(10).index) == list(reference.queue(10).index)
    s.close()
    reference.close()


def test_whole_pool_analyses_run_on_the_workers(client, tmp_path, monkeypatch):
    """The stopping meter and per-class recall sum over every unlabeled row: on a Dask
    pool the workers compute those sums, and the results equal the in-memory pool's
    while no fetch larger than the stop set is allowed."""
    from hitl_widgets.core import dask_pool

    ddf = dd.from_pandas(frame(6000, seed=3), npartitions=5)
    remote = open_session(ddf, tmp_path, "passes", client=client)
    local = open_session(ddf.compute(), tmp_path, "passes_ref")
    for s in (remote, local):
        s.simulate(60)
    monkeypatch.setattr(dask_pool, "FETCH_LIMIT", 2500)  # the unlabeled rows: ~5,940
    for analysis in (
        lambda s: s.stopping(),
        lambda s: s.estimate(metric="recall", by="region"),
    ):
        a, b = analysis(remote), analysis(local)
        numbers = a.select_dtypes("number").columns
        assert len(numbers) and a[numbers].notna().any().any()
        pd.testing.assert_frame_equal(a[numbers], b[numbers], rtol=1e-6)
    remote.close()
    local.close()


def test_a_dask_frame_with_unknown_divisions_is_read_by_row_counts(client, tmp_path):
    df = frame(2000, seed=4).sample(frac=1.0, random_state=0)  # ids out of order
    ddf = dd.from_pandas(df, npartitions=3, sort=False)
    assert not ddf.known_divisions
    remote = open_session(ddf, tmp_path, "unknown", client=client)
    local = open_session(df, tmp_path, "unknown_ref")
    assert remote.pool.fingerprint == local.pool.fingerprint
    for s in (remote, local):
        s.simulate(15)
    assert list(remote.queue(10).index) == list(local.queue(10).index)
    remote.close()
    local.close()
