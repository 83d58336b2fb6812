"""Any dataframe in: polars and pyarrow pools behave exactly like the same pandas pool."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import hitl_widgets as hw


def pandas_pool(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "review_id": [f"r{i:03d}" for i in range(n)],
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "region": rng.choice(["north", "south"], n),
        }
    )
    frame["truth"] = np.where(frame["a"] + frame["b"] > 0, "pos", "neg")
    return frame


def open_session(data, **kwargs) -> hw.Session:
    return hw.Session(
        data,
        classes=["neg", "pos"],
        features=["a", "b"],
        subgroups="region",
        truth="truth",
        store=":memory:",
        random_state=0,
        progress=False,
        **kwargs,
    )


@pytest.mark.parametrize("convert", [pl.from_pandas, pa.Table.from_pandas], ids=["polars", "arrow"])
def test_a_polars_or_arrow_pool_is_the_same_pool_as_pandas(convert):
    reference = open_session(pandas_pool().set_index("review_id"))
    other = open_session(convert(pandas_pool()), ids="review_id")
    assert other.pool.fingerprint == reference.pool.fingerprint  # the same items, same store
    for s in (reference, other):
        s.simulate(30)
    assert isinstance(other.labels, pd.DataFrame)
    pd.testing.assert_frame_equal(
        other.labels[["label"]], reference.labels[["label"]], check_index_type=False
    )
    pd.testing.assert_frame_equal(other.queue(10), reference.queue(10))
    assert "review_id" not in other.data.columns  # the id column is not a feature
    reference.close()
    other.close()


def test_a_pandas_pool_may_name_its_id_column_too():
    s = open_session(pandas_pool(), ids="review_id")
    assert s.data.index[0] == "r000"
    s.close()


@pytest.mark.parametrize(
    ("data", "ids", "message"),
    [
        (pl.from_pandas(pandas_pool()), None, r"has no index to hold item ids: pass ids="),
        (pl.from_pandas(pandas_pool()), "nope", r"ids='nope' is not a column of the pool"),
        (pandas_pool(), ["review_id"], r"ids must name one column"),
        ([1, 2, 3], "x", r"must be a DataFrame \(pandas, polars, pyarrow"),
        (
            pl.from_pandas(pandas_pool()).with_columns(pl.lit("same").alias("review_id")),
            "review_id",
            r"item ids must be unique",
        ),
    ],
)
def test_bad_frames_are_named(data, ids, message):
    with pytest.raises(hw.PoolError, match=message):
        open_session(data, ids=ids)
