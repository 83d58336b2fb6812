"""Any dataframe in: pandas as it is, polars and pyarrow (and what narwhals reads) converted.

The core works on one pandas DataFrame whose index holds the item ids; every other
frame is converted once, at the door, through narwhals (the dataframe layer Altair
already depends on), so validation, messages and results are the same whatever the
user's library. A polars frame or an arrow table has no index, and row numbers are
not ids (re-sort the frame and every label would move), so such a frame must name
the column that holds the ids: `Session(frame, ids="review_id")`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .pool import PoolError

FRAMES_EXTRA = "pip install 'hitl_widgets[frames]'"


def as_pandas(data: Any, ids: str | None = None) -> pd.DataFrame:
    """`data` as a pandas DataFrame indexed by item id (the `ids` column, if named)."""
    if not isinstance(data, pd.DataFrame):
        data = _converted(data, ids)
    if ids is None:
        return data
    if not isinstance(ids, str):
        raise PoolError(f"ids must name one column, got {type(ids).__name__} {ids!r}")
    if ids not in data.columns:
        raise PoolError(f"ids={ids!r} is not a column of the pool: {list(data.columns)[:10]}")
    return data.set_index(ids)  # the id column leaves the features


def _converted(data: Any, ids: str | None) -> pd.DataFrame:
    kind = f"{type(data).__module__}.{type(data).__name__}"
    if kind.startswith("dask."):
        raise PoolError(
            "a Dask DataFrame is not supported as a pool yet: compute() a pandas frame "
            "that fits in memory, or sample it"
        )
    try:
        import narwhals.stable.v1 as nw
    except ImportError:
        raise PoolError(
            f"the pool is a {kind}, not a pandas DataFrame: reading it needs narwhals "
            f"({FRAMES_EXTRA})"
        ) from None
    try:
        frame = nw.from_native(data, eager_only=True)
    except TypeError:
        raise PoolError(
            f"the pool must be a DataFrame (pandas, polars, pyarrow, ...), got {kind}"
        ) from None
    if ids is None:
        raise PoolError(
            f"a {kind} has no index to hold item ids: pass ids='<column>' naming the "
            "column of unique ids (row numbers would move with every sort)"
        )
    return frame.to_pandas()
