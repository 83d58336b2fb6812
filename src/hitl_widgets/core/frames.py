"""Any dataframe in: pandas as it is, polars and pyarrow (and what narwhals reads) converted.

The core works on one pandas DataFrame whose index holds the item ids; every other
frame is converted once, at the door, through narwhals (the dataframe layer Altair
already depends on), so validation, messages and results are the same whatever the
user's library. A polars frame or an arrow table has no index, and row numbers are
not ids (re-sort the frame and every label would move), so such a frame must name
the column that holds the ids: `Session(frame, ids="review_id")`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .config import check_columns
from .dask_pool import build_dask_pool, is_dask_frame
from .pool import FeatureSpec, Pool, PoolError, build_pool

FRAMES_EXTRA = "pip install 'hitl_widgets[frames]'"


def open_pool(
    data: Any,
    features: FeatureSpec,
    *,
    subgroups: str | Sequence[str] | None,
    truth: str | None,
    ids: str | None,
    allow_nan: bool,
    client: Any,
) -> tuple[Pool, Any]:
    """The Session's pool from any frame; with the Dask client it started, if any.

    A Dask pool brings the `subgroups` and `truth` columns to the client whole.
    """
    if not is_dask_frame(data):
        return build_pool(as_pandas(data, ids), features, allow_nan=allow_nan), None
    present = [str(c) for c in data.columns]
    keep = [
        *check_columns(subgroups, present, "subgroups"),
        *check_columns(truth, present, "truth"),
    ]
    pool, client, made = build_dask_pool(
        data, features, keep, ids=ids, allow_nan=allow_nan, client=client
    )
    return pool, client if made else None


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
