"""Session behaviour: inputs, queue, background refit, errors, export."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import hitl_widgets as hw
from hitl_widgets.core.pool import PoolError


def numeric_pool(n: int = 400, seed: int = 0) -> pd.DataFrame:
    X, y = make_classification(n_samples=n, n_features=5, random_state=seed)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    df["truth"] = np.where(y == 1, "pos", "neg")
    df["region"] = np.where(np.arange(n) % 3 == 0, "north", "south")
    return df


def label_some(s: hw.Session, df: pd.DataFrame, n: int) -> None:
    for _ in range(n):
        item = s.queue(1).index[0]
        s.submit(item, df.loc[item, "truth"])


@pytest.fixture
def df() -> pd.DataFrame:
    return numeric_pool()


def test_queue_submit_refit_loop(df, tmp_path):
    s = hw.Session(
        df,
        classes=["neg", "pos"],
        features=[f"x{i}" for i in range(5)],
        store=tmp_path / "l.db",
        random_state=0,
        annotator="ana",
    )
    cold = s.queue(5)
    assert list(cold.columns) == ["score", "suggestion", "confidence", "reason", "audit", "skipped"]
    assert cold["reason"].str.startswith("cold start").all()
    assert s.model_ is None
    label_some(s, df, 12)
    assert s.wait(timeout=30)
    assert s.model_ is not None and s.status.fit_state == "ready"
    q = s.queue(10)
    assert len(q) == 10
    assert q.loc[~q["audit"], "score"].is_monotonic_decreasing
    assert not q.index.isin(s.labels.index).any()
    assert set(q.loc[~q["audit"], "suggestion"]) <= {"neg", "pos"}
    audits = q[q["audit"]]  # withheld in the core: an audit must not anchor anyone
    assert audits["suggestion"].isna().all() and audits["confidence"].isna().all()
    confidence = q.loc[~q["audit"], "confidence"]
    assert ((confidence >= 0.5) & (confidence <= 1)).all()
    assert len(s.labels) == 12
    assert (s.labels["annotator"] == "ana").all()


def test_text_column_uses_the_hashed_tfidf_default():
    texts = ["good great fine", "bad awful poor"] * 30
    df = pd.DataFrame(
        {"text": [f"{t} {i}" for i, t in enumerate(texts)]}, index=[f"doc{i}" for i in range(60)]
    )
    s = hw.Session(df, classes=["neg", "pos"], features="text", store=":memory:", random_state=1)
    s.submit("doc0", "pos")
    s.submit("doc1", "neg")
    s.wait()
    assert {"hashingvectorizer", "tfidftransformer"} <= set(s.model_.named_steps)
    assert s.suggestion_for("doc2")[0] == "pos"
    assert s.labels.index.tolist() == ["doc0", "doc1"]


def test_callable_features_and_custom_model(df):
    s = hw.Session(
        df,
        classes=["neg", "pos"],
        features=lambda d: d[["x0", "x1"]].to_numpy() * 2,
        model=LogisticRegression(C=0.5),
        store=":memory:",
        random_state=0,
    )
    label_some(s, df, 6)
    s.wait()
    assert s.model_.coef_.shape == (1, 2)


def test_user_model_is_never_fitted(df):
    user_model = LogisticRegression()
    s = hw.Session(df, classes=["neg", "pos"], model=user_model, store=":memory:", random_state=0)
    label_some(s, df, 8)
    s.wait()
    assert not hasattr(user_model, "coef_")
    assert s.model_ is not user_model


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": ["only"]}, "at least two classes"),
        ({"classes": ["a", "a"]}, "distinct"),
        ({"classes": ["a", 1, "1"]}, "distinct"),
        ({"classes": "ab"}, "list of labels"),
        ({"classes": ["a", "\udcff"]}, "UTF-8"),
        ({"classes": ["a", "b"], "features": ["nope"]}, "not in the pool"),
        ({"classes": ["a", "b"], "features": ["region"]}, "must be numeric"),
        ({"classes": ["a", "b"], "strategy": "cleverest"}, "unknown strategy"),
        ({"classes": ["a", "b"], "subgroups": "nope"}, "subgroups"),
        ({"classes": ["a", "b"], "model": object()}, "predict_proba"),
    ],
)
def test_bad_construction_is_named(df, kwargs, message):
    with pytest.raises((ValueError, TypeError)) as info:
        hw.Session(df, store=":memory:", **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"x": []}), "empty"),
        (pd.DataFrame({"x": [1.0, 2.0]}, index=[1, 1]), "unique"),
        (pd.DataFrame({"x": [1.0, 2.0]}, index=["a", 2]), "all strings or all integers"),
        (
            pd.DataFrame({"x": [1.0, 2.0]}, index=pd.MultiIndex.from_tuples([(1, 1), (1, 2)])),
            "MultiIndex",
        ),
        (pd.DataFrame({"x": [1.0, np.nan]}), "'x' holds NaN"),
        (pd.DataFrame({"x": [1.0, np.inf]}), "'x' holds inf"),
        (pd.DataFrame({"x": [1.0, 2.0]}, index=pd.Index(["a", "\ud800"], dtype=object)), "UTF-8"),
        (pd.DataFrame({"name": ["a", "b"]}), "has none"),
    ],
)
def test_bad_pools_are_named(frame, message):
    with pytest.raises(PoolError) as info:
        hw.Session(frame, classes=["a", "b"], store=":memory:")
    assert message in str(info.value)


def test_nan_allowed_only_on_request():
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0]})
    s = hw.Session(frame, classes=["a", "b"], store=":memory:", allow_nan=True)
    assert np.isnan(s.pool.X).sum() == 1


def test_text_with_surrogate_is_refused():
    frame = pd.DataFrame({"text": pd.Series(["fine", "bad \udcff"], dtype=object)})
    with pytest.raises(PoolError, match="UTF-8"):
        hw.Session(frame, classes=["a", "b"], features="text", store=":memory:")


def test_bad_submissions_change_nothing(df, tmp_path):
    s = hw.Session(df, classes=["neg", "pos"], store=tmp_path / "l.db", random_state=0)
    label_some(s, df, 5)
    before = s.events
    with pytest.raises(ValueError, match="not one of the classes"):
        s.submit(df.index[300], "maybe")
    with pytest.raises(ValueError, match="not one of the classes"):
        s.submit(df.index[300], True)
    with pytest.raises(ValueError, match="not one of the classes"):
        s.submit(df.index[300], ["pos"])
    with pytest.raises(KeyError, match="not in the pool"):
        s.submit(10**9, "pos")
    with pytest.raises(ValueError, match="UTF-8"):
        s.submit(df.index[300], "pos", event_id="\udcff")
    labeled = s.labels.index[0]
    with pytest.raises(ValueError, match="already labeled"):
        s.skip(labeled)
    after = s.events
    pd.testing.assert_frame_equal(before, after)


def test_skip_undo_and_relabel(df):
    s = hw.Session(df, classes=["neg", "pos"], store=":memory:", random_state=3)
    first, second = s.queue(2).index
    s.skip(first)
    q = s.queue(len(df))
    assert q.index[-1] == first and bool(q["skipped"].iloc[-1])
    s.submit(second, "pos")
    s.submit(second, "neg")  # a correction: appended, not edited
    assert s.labels.loc[second, "label"] == "neg"
    assert s.undo() == second
    assert s.labels.loc[second, "label"] == "pos"
    assert s.undo() == second
    assert second not in s.labels.index
    assert s.undo() == first  # the skip is undone too
    assert not s.queue(len(df))["skipped"].any()
    assert s.undo() is None
    actions = s.events["action"].tolist()
    assert actions == ["skip", "label", "label", "undo", "undo", "undo"]


def test_undo_survives_restart(df, tmp_path):
    path = tmp_path / "l.db"
    s = hw.Session(df, classes=["neg", "pos"], store=path, annotator="ana", random_state=0)
    label_some(s, df, 3)
    last = s.labels.sort_values("labeled_at").index[-1]
    s.close()
    again = hw.Session(df, classes=["neg", "pos"], store=path, annotator="ana", random_state=0)
    assert again.undo() == last
    assert len(again.labels) == 2


class ExplodingModel(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        raise RuntimeError("boom: the model cannot fit")

    def predict_proba(self, X):
        raise AssertionError("never fitted")


def test_fit_failure_is_reported_and_labeling_continues(df):
    s = hw.Session(
        df, classes=["neg", "pos"], model=ExplodingModel(), store=":memory:", random_state=0
    )
    label_some(s, df, 4)
    s.wait()
    assert s.status.fit_state == "failed"
    assert "boom: the model cannot fit" in s.fit_error
    label_some(s, df, 2)  # still accepted and saved
    assert len(s.labels) == 6


def test_warnings_are_collected_not_printed(df, recwarn):
    s = hw.Session(
        df,
        classes=["neg", "pos"],
        model=LogisticRegression(max_iter=1),
        store=":memory:",
        random_state=0,
    )
    label_some(s, df, 10)
    s.wait()
    warnings = s.status.warnings
    assert any("ConvergenceWarning" in w for w in warnings)
    assert not [w for w in recwarn if "Convergence" in str(w.category)]


class SlowModel(LogisticRegression):
    gate: threading.Event | None = None
    fits: list[int] = []  # noqa: RUF012 - shared on purpose, read by the test

    def fit(self, X, y, sample_weight=None):
        SlowModel.fits.append(len(y))
        if SlowModel.gate is not None:
            SlowModel.gate.wait(10)
        return super().fit(X, y, sample_weight)


def test_submissions_during_a_fit_coalesce_and_never_wait(df):
    SlowModel.gate = threading.Event()
    SlowModel.fits = []
    s = hw.Session(df, classes=["neg", "pos"], model=SlowModel(), store=":memory:", random_state=0)
    ids = df.index[:12]
    s.submit(ids[0], "neg")
    s.submit(ids[1], "pos")  # the first fit starts and blocks on the gate
    for item in ids[2:]:
        s.submit(item, "pos")  # returns although a fit is running
    assert s.status.fit_state == "fitting"
    SlowModel.gate.set()
    s.wait(timeout=30)
    assert SlowModel.fits[-1] == 12
    assert len(SlowModel.fits) <= 3  # 10 submissions during the fit became one next fit
    assert s.model_ is not None and s.status.fit_state == "ready"


def test_observers_hear_about_labels_and_fits(df):
    s = hw.Session(df, classes=["neg", "pos"], store=":memory:", random_state=0)
    heard: list[str] = []
    stop = s.observe(heard.append)
    label_some(s, df, 3)
    s.wait()
    assert heard.count("labels") == 3 and "fit_done" in heard
    stop()
    label_some(s, df, 1)
    assert heard.count("labels") == 3


def test_int_classes_and_integer_ids(df):
    s = hw.Session(df, classes=[0, 1], store=":memory:", random_state=0)
    for item in df.index[:6]:
        s.submit(item, int(df.loc[item, "truth"] == "pos"))
    s.wait()
    assert set(s.labels["label"]) <= {0, 1}
    assert s.labels.index.dtype.kind == "i"
    assert s.queue(3)["suggestion"].isin([0, 1]).all()


def test_default_store_is_a_durable_file_in_cwd(df, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = hw.Session(df, classes=["neg", "pos"])
    assert s.store.durable and s.store_path.startswith(str(tmp_path))
    s.submit(df.index[0], "pos")
    s.close()
    resumed = hw.Session(df, classes=["neg", "pos"])
    assert resumed.store_path == s.store_path
    assert resumed.labels.index.tolist() == [df.index[0]]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_export(df, tmp_path, suffix):
    s = hw.Session(df, classes=["neg", "pos"], store=":memory:", random_state=0)
    label_some(s, df, 4)
    path = s.export(tmp_path / f"labels{suffix}")
    if suffix == ".parquet":
        back = pd.read_parquet(path)
    elif suffix == ".csv":
        back = pd.read_csv(path)
    else:
        back = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    assert len(back) == 4 and set(back["label"]) <= {"neg", "pos"}
    events = s.export(tmp_path / f"events{suffix}", what="events")
    assert events.exists()
    with pytest.raises(ValueError, match="unknown export format"):
        s.export(tmp_path / "labels.xlsx")


def test_audit_items_are_uniform_random_and_recorded(df):
    s = hw.Session(df, classes=["neg", "pos"], store=":memory:", random_state=0, audit_share=0.3)
    assert not s.queue(10)["audit"].any()  # cold start: no model to audit yet
    label_some(s, df, 6)
    s.wait()
    audited = 0
    for _ in range(60):
        q = s.queue(5)
        item = q.index[0]
        s.submit(item, df.loc[item, "truth"])
        audited += bool(q["audit"].iloc[0])
        assert (q.loc[q["audit"], "reason"].str.startswith("random audit")).all()
    s.wait()
    events = s.events
    assert events["audit"].sum() == audited
    assert 8 <= audited <= 30  # about 30% of 60, seeded
    # an audit item's uncertainty is typical of the pool, not the top of the ranking
    audit_scores = events.loc[events["audit"], "query_score"]
    picked_scores = events.loc[~events["audit"] & events["query_score"].notna(), "query_score"]
    assert audit_scores.median() < picked_scores.median()


def test_no_audit_when_share_is_zero(df):
    s = hw.Session(df, classes=["neg", "pos"], store=":memory:", random_state=0, audit_share=0)
    label_some(s, df, 30)
    assert not s.events["audit"].any()
    with pytest.raises(ValueError, match="audit_share"):
        hw.Session(df, classes=["neg", "pos"], store=":memory:", audit_share=2)


def test_focus_restricts_the_queue_to_a_slice(df):
    s = hw.Session(df, classes=["neg", "pos"], subgroups="region", store=":memory:", random_state=0)
    s.focus({"region": "north"})
    assert (df.loc[s.queue(50).index, "region"] == "north").all()
    assert s.focused == {"region": "north"}
    with pytest.raises(ValueError, match="no subgroup"):
        s.focus({"region": "west"})
    s.focus(None)
    assert set(df.loc[s.queue(50).index, "region"]) == {"north", "south"}


def test_history_tracks_truth_accuracy(df):
    s = hw.Session(df, classes=["neg", "pos"], truth="truth", store=":memory:", random_state=0)
    label_some(s, df, 20)
    s.wait()
    last = s.history_[-1]
    assert last.n_labels == 20 and last.truth_n == len(df) - 20
    expected = (
        s.model_.predict(df.drop(s.labels.index)[[f"x{i}" for i in range(5)]].to_numpy())
        == df.drop(s.labels.index)["truth"]
    ).mean()
    assert last.truth_accuracy == pytest.approx(expected)


def test_fit_done_observers_see_the_fit_finished(df):
    s = hw.Session(df, classes=["neg", "pos"], store=":memory:", random_state=0)
    seen: list[str] = []
    s.observe(lambda kind: seen.append(s.status.fit_state) if kind == "fit_done" else None)
    s.submit(df.index[0], "neg")
    s.submit(df.index[1], "pos")
    s.wait()
    assert seen and seen[-1] == "ready"  # not "fitting": a status line would stick


def test_a_failing_observer_breaks_neither_submit_nor_the_refit(df):
    s = hw.Session(df, classes=["neg", "pos"], store=":memory:", random_state=0)
    s.observe(lambda kind: 1 / 0)
    label_some(s, df, 6)  # each submit notifies: no exception reaches the caller
    assert s.wait(timeout=30)
    assert s.model_ is not None
    assert any("observer failed: ZeroDivisionError" in w for w in s.status.warnings)
