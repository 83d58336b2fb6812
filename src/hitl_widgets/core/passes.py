"""Sums over the whole pool, chunk by chunk, wherever its rows live.

An analysis that needs something of every unlabeled row (the stopping meter's accuracy
gain, per-class recall) asks for a sum of per-chunk terms instead of for the rows. In
memory the chunks are slices of X, a few MB each, so no pool-sized temporary is made;
on a Dask pool (`dask_pool.ClusterRows.pool_sum`) every worker computes the terms of
its own chunks and only the sums come back, so no analysis brings the pool to the
client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .scoring import chunk_rows

# terms(rows of one chunk, keep: bool per row of it, values: that chunk of `per_row`)
ChunkTerms = Callable[[Any, np.ndarray, np.ndarray | None], np.ndarray]


def pool_sum(
    X: Any, terms: ChunkTerms, skip: np.ndarray, per_row: np.ndarray | None = None
) -> np.ndarray:
    """The sum over X's chunks of `terms(chunk, keep, values)`.

    `skip`: row positions left out (keep is False there: the labeled rows, say).
    `per_row`: an optional small array with one value per row (a subgroup code), handed
    to `terms` chunk by chunk. `terms` must return arrays of one shape, and must be
    picklable when X lives on a cluster (it runs on the workers).
    """
    remote = getattr(X, "pool_sum", None)
    if remote is not None:
        return np.asarray(remote(terms, skip, per_row))
    n = X.shape[0]
    keep = np.ones(n, dtype=bool)
    keep[skip] = False
    step = chunk_rows(X)
    total: np.ndarray | None = None
    for start in range(0, n, step):
        stop = min(n, start + step)
        values = None if per_row is None else per_row[start:stop]
        part = np.asarray(terms(X[start:stop], keep[start:stop], values))
        total = part if total is None else total + part
    if total is None:  # an empty pool: the terms of no rows
        total = np.asarray(terms(X[0:0], keep, per_row))
    return total
