"""Featurize once: what is split from a model, the cache, progress, and what users see."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import (
    CountVectorizer,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.feature_selection import SelectKBest, chi2
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline

import hitl_widgets as hw
from hitl_widgets.core import features
from hitl_widgets.core.features import prepare, split_label_free
from hitl_widgets.core.progress import Progress
from hitl_widgets.datasets import product_reviews


def reviews(n: int = 300) -> pd.DataFrame:
    return product_reviews(n, random_state=1)


def label(session: hw.Session, data: pd.DataFrame, n: int = 12) -> None:
    for item in data.index[:n]:
        session.submit(item, data.loc[item, "truth"])
    assert session.wait(60)


def test_only_label_free_vectorizers_are_split():
    lr = LogisticRegression()
    front, tail, name = split_label_free(make_pipeline(TfidfVectorizer(), lr))
    assert (
        [type(s) for _, s in front] == [TfidfVectorizer]
        and tail is lr
        and name == "logisticregression"
    )
    front, tail, _ = split_label_free(make_pipeline(HashingVectorizer(), TfidfTransformer(), lr))
    assert [type(s) for _, s in front] == [HashingVectorizer, TfidfTransformer] and tail is lr
    # feature selection uses labels: it stays in the refit part
    front, tail, _ = split_label_free(
        make_pipeline(CountVectorizer(), SelectKBest(chi2, k=5), MultinomialNB())
    )
    assert len(front) == 1 and isinstance(tail, Pipeline) and len(tail.steps) == 2
    assert split_label_free(lr)[0] == []  # not a pipeline: refit whole
    assert split_label_free(make_pipeline(TfidfVectorizer()))[0] == []  # nothing left to fit


def test_the_vectorizer_runs_once_and_model_is_the_whole_pipeline():
    data = reviews()
    s = hw.Session(data, ["neg", "pos"], features="text", store=":memory:", random_state=0)
    label(s, data)
    snap = s.snapshot()
    assert snap.X.shape[0] == len(data) and hasattr(snap.X, "tocsr")  # vectorized once
    assert isinstance(snap.model, LogisticRegression)  # only the classifier is refit
    whole = s.model_
    assert isinstance(whole, Pipeline) and isinstance(whole.steps[0][1], HashingVectorizer)
    assert set(whole.predict(["great sturdy kettle", "awful broken toy"])) <= {"neg", "pos"}
    proba = whole.predict_proba(data["text"].tolist())
    queue = s.queue(len(data))
    shown = queue[~queue["audit"]]
    positions = data.index.get_indexer(shown.index)
    assert np.allclose(shown["confidence"].to_numpy(), proba.max(axis=1)[positions])
    s.close()


def test_scores_equal_those_of_the_whole_pipeline_refit_the_old_way():
    data = reviews()
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    s = hw.Session(
        data, ["neg", "pos"], features="text", model=model, store=":memory:", random_state=0
    )
    label(s, data)
    # the old way: the whole pipeline with the vectorizer fitted on the whole pool, then
    # the classifier on the labeled rows; the split must give the same probabilities
    vectorizer = TfidfVectorizer().fit(data["text"])
    labeled = s.labels.index
    clf = LogisticRegression(max_iter=1000).fit(
        vectorizer.transform(data.loc[labeled, "text"]), s.labels["label"]
    )
    expected = clf.predict_proba(vectorizer.transform(data["text"])).max(axis=1)
    queue = s.queue(len(data))
    shown = queue[~queue["audit"]]
    positions = data.index.get_indexer(shown.index)
    assert np.allclose(shown["confidence"].to_numpy(), expected[positions])


def test_a_model_that_cannot_be_split_is_refit_whole():
    data = reviews()
    model = make_pipeline(CountVectorizer(), SelectKBest(chi2, k=20), MultinomialNB())
    s = hw.Session(data, ["neg", "pos"], features="text", model=model, store=":memory:")
    label(s, data)
    assert s.status.fit_state == "ready"
    assert isinstance(s.snapshot().model, Pipeline)  # selector + classifier, refit per label
    assert s.model_.predict(["great"]).shape == (1,)


def test_a_large_pool_reads_its_features_back_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(features, "CACHE_MIN_ROWS", 100)
    data = reviews(400)
    progress = Progress(show=False)
    seen = []
    progress.listen(lambda state: seen.append(None if state is None else state.description))
    model = make_pipeline(TfidfVectorizer(), LogisticRegression())
    first = prepare(
        model, data["text"].to_numpy(), cache_dir=tmp_path, fingerprint="f", progress=progress
    )
    assert list(tmp_path.glob("hitl-features-*.pkl"))
    again = prepare(
        model, data["text"].to_numpy(), cache_dir=tmp_path, fingerprint="f", progress=progress
    )
    assert (first.X != again.X).nnz == 0 and "features read from cache" in seen
    other = prepare(
        make_pipeline(TfidfVectorizer(max_features=10), LogisticRegression()),
        data["text"].to_numpy(),
        cache_dir=tmp_path,
        fingerprint="f",
        progress=progress,
    )
    assert other.X.shape[1] < first.X.shape[1]  # other parameters: another cache entry
    assert len(list(tmp_path.glob("hitl-features-*.pkl"))) == 2


def test_a_broken_cache_file_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setattr(features, "CACHE_MIN_ROWS", 100)
    data = reviews(400)
    model = make_pipeline(TfidfVectorizer(), LogisticRegression())
    texts = data["text"].to_numpy()
    prepare(model, texts, cache_dir=tmp_path, fingerprint="f", progress=Progress(show=False))
    (cache,) = tmp_path.glob("hitl-features-*.pkl")
    cache.write_bytes(b"not a pickle")
    redone = prepare(
        model, texts, cache_dir=tmp_path, fingerprint="f", progress=Progress(show=False)
    )
    assert redone.X.shape[0] == 400


def test_vectorizing_reports_progress_to_listeners():
    data = reviews(300)
    progress = Progress(show=False)
    states = []
    progress.listen(lambda state: states.append(state))
    model = make_pipeline(HashingVectorizer(), TfidfTransformer(), LogisticRegression())
    prepare(model, data["text"].to_numpy(), cache_dir=None, fingerprint="f", progress=progress)
    described = [str(s) for s in states if s is not None]
    assert any(d.startswith("vectorizing") for d in described) and states[-1] is None


def test_a_failing_vectorizer_is_shown_as_the_fit_error():
    data = reviews(50)
    data["text"] = "the a an"  # nothing but stop words: an empty vocabulary
    model = make_pipeline(TfidfVectorizer(stop_words="english"), LogisticRegression())
    s = hw.Session(data, ["neg", "pos"], features="text", model=model, store=":memory:")
    assert len(s.queue(3)) == 3  # cold-start cards need no features
    s.submit(data.index[0], "neg")
    s.submit(data.index[1], "pos")
    assert s.wait(30)
    assert s.status.fit_state == "failed" and "vocabulary" in s.status.fit_error
    with pytest.raises(ValueError, match="vocabulary"):
        s.snapshot()


def test_a_sparse_logistic_regression_fit_on_active_columns_is_exact():
    from scipy import sparse

    from hitl_widgets.core.training import fit_estimator

    rng = np.random.default_rng(0)
    X = sparse.random(60, 5_000, density=0.002, format="csr", random_state=1)
    y = rng.integers(0, 3, 60)
    for template in (LogisticRegression(max_iter=1000), LogisticRegression(C=0.1, tol=1e-8)):
        fast = fit_estimator(template, X, y)
        full = LogisticRegression(**template.get_params()).fit(X, y)
        assert fast.coef_.shape == full.coef_.shape and fast.n_features_in_ == 5_000
        assert np.allclose(fast.predict_proba(X), full.predict_proba(X), atol=1e-4)
        unused = np.setdiff1d(np.arange(5_000), X.indices)
        assert not fast.coef_[:, unused].any()


def text_session(texts: list, **kwargs) -> hw.Session:
    frame = pd.DataFrame({"text": texts}, index=[f"d{i}" for i in range(len(texts))])
    return hw.Session(
        frame, ["a", "b"], features="text", store=":memory:", progress=False, **kwargs
    )


def test_hostile_documents_work_or_say_what_is_wrong():
    # empty and whitespace-only documents are documents: labeling them never fails
    s = text_session(["", "good film", " \n", "bad film"] * 5, random_state=0)
    s.submit("d0", "a")
    s.submit("d2", "b")
    assert s.wait(60)
    assert s.status.fit_state == "failed"  # two labels, no word among them: says so
    assert "labeled document is empty or holds no word" in s.status.fit_error
    s.submit("d1", "a")
    s.submit("d3", "b")
    assert s.wait(60) and s.status.fit_state == "ready"  # words arrived: it recovers
    assert len(s.queue(5)) == 5
    s.close()
    # a 10 MB document is vectorized like any other
    s = text_session(["good " * 2_000_000, "bad film", "nice", "awful"] * 2, random_state=0)
    s.submit("d0", "a")
    s.submit("d1", "b")
    assert s.wait(120) and s.status.fit_state == "ready"
    s.close()
    # cells that are not text are refused at the door, naming an id
    for cell, words in ((5, "holds int"), (b"x", "holds bytes"), (None, "missing values")):
        with pytest.raises(hw.PoolError, match=words):
            text_session(["good", cell, "bad", "ok"])


@pytest.mark.slow
def test_a_million_identical_documents_open_and_rank():
    s = text_session(["the same text"] * 1_000_000, random_state=0)
    s.submit("d0", "a")
    s.submit("d1", "b")
    assert s.wait(300) and s.status.fit_state == "ready"
    assert len(s.queue(10)) == 10  # every score ties: the seeded order breaks them
    s.close()
