"""Pools on Dask: the features stay on the cluster's workers, the loop stays the same.

`Session(ddf, ...)` with a `dask.dataframe.DataFrame` builds a `Pool` whose `X` is a
`ClusterRows`: the numeric feature columns as a Dask array persisted on the workers
(with known chunk sizes, so row positions mean the same on both sides).

What comes to the client, once, in its smallest exact form: the ids (the index or the
`ids` column; a RangeIndex when they are contiguous integers), the subgroup and truth
columns (text as categoricals), one content hash per row (computed on the workers, the
same hash as an in-memory pool's, so both fingerprint the same pool and can share a
store), and a fixed random sample of 20,000 rows with their features (`candidates`).

What moves per label: the new labeled row's features if the client does not hold them
yet (it keeps the sample's rows, the rows it served and fetched; the head of each new
ranking is fetched ahead), and the fitted model, which ranks the sample at once on the
client (`training.SampleFit`: the queue follows the label in milliseconds). Then, on
a second worker thread, the model goes to the workers, every worker scores its own
chunks with the code an in-memory pool uses (`scoring.score_pool`), and the per-row
scores, suggestions and confidences (14 bytes a row) come back chunk by chunk for
ranking, routing and the analyses; until they do, `status.ranking` says the full
ranking is an older model's. Analyses that need every unlabeled row's features (the
stopping meter, per-class recall) run on the workers as sums (`ClusterRows.pool_sum`).

Why the per-row scores come back rather than a per-partition top-k: routing, the
estimates, slices and the dashboard read every row's confidence and suggestion; at 14
bytes a row the client holds them for 10M rows within its memory budget (measured in
`benchmarks/bench_scale.py`), and each analysis stays one code path for both kinds of
pool instead of a round trip to the cluster per chart.

Failure: distributed re-runs the tasks of a worker that dies (its persisted chunks are
recomputed from their source), so a rescoring in flight finishes late, not wrong; a
refit that fails anyway (the cluster gone) is recorded in `status.fit_error` like any
other failed fit, and labels, which live in the store, are never touched by it.

Dask and distributed are optional: `pip install 'hitl_widgets[dask]'`. Nothing here is
imported unless a Dask frame is given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from .pool import Pool, PoolError, check_ids
from .scoring import PoolScores, score_pool
from .strategies import QueryStrategy

DASK_EXTRA = "pip install 'hitl_widgets[dask]'"
FETCH_LIMIT = 1_000_000  # rows one fetch may bring to the client: more is a full pass
CANDIDATES = 20_000  # random rows kept on the client, ranked at once after each fit
CACHE_ROWS = 100_000  # rows fetched once are kept (the sample, served and labeled rows)


def is_dask_frame(data: Any) -> bool:
    """A Dask DataFrame, recognised without importing Dask."""
    return type(data).__module__.startswith("dask.") and hasattr(data, "npartitions")


class ClusterRows:
    """The pool's feature matrix on the workers, indexed by row position like an array.

    `rows[positions]` fetches those rows (a refit's labeled rows, a stop set); a pass
    over the whole pool goes through `score_pool` on the workers instead.
    """

    def __init__(self, array: Any, client: Any, seed: int = 0):
        self.array = array  # dask.array, persisted, chunks of known size along rows
        self.client = client
        self.shape = tuple(int(d) for d in array.shape)
        self.dtype = array.dtype
        self.ndim = 2
        # Rows once fetched are kept: most labeled rows come from the sample, so a refit
        # fetches only the audit items' rows, and the labeler shows a card without a trip.
        self._cache: dict[int, np.ndarray] = {}
        # a fixed uniform sample of rows (positions ascending, their features) that each
        # new model ranks at once while the workers rescore the pool (`SampleFit`)
        rng = np.random.default_rng(seed)
        positions = np.sort(rng.choice(self.shape[0], min(CANDIDATES, self.shape[0]), False))
        self.candidates = (positions, self[positions])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        positions = _positions(key, self.shape[0])
        if len(positions) > FETCH_LIMIT:
            raise MemoryError(
                f"fetching {len(positions):,} rows of a Dask pool to the client would "
                "materialise it; this analysis needs a pass on the workers instead"
            )
        missing = np.unique([p for p in positions.tolist() if p not in self._cache])
        found: dict[int, np.ndarray] = {}
        if len(missing):
            fetched = self._gather(self.array[missing])  # ascending: one slice per chunk
            found = dict(zip(missing.tolist(), fetched, strict=True))
            if len(self._cache) + len(missing) <= CACHE_ROWS:  # a big one-off: not kept
                self._cache.update(found)
        if len(positions) == 0:
            return np.empty((0, self.shape[1]), dtype=self.dtype)
        return np.stack([found[p] if p in found else self._cache[p] for p in positions.tolist()])

    def pool_sum(
        self, terms: Callable[..., np.ndarray], skip: np.ndarray, per_row: np.ndarray | None
    ) -> np.ndarray:
        """`passes.pool_sum` on the workers: each chunk's terms where the chunk lives,
        summed here (only the sums cross)."""
        import dask

        starts = np.cumsum((0, *self.array.chunks[0]))
        skip = np.sort(np.asarray(skip, dtype=np.int64))
        tasks = []
        for i, block in enumerate(self.array.to_delayed()[:, 0]):
            low, high = int(starts[i]), int(starts[i + 1])
            keep = np.ones(high - low, dtype=bool)
            keep[skip[np.searchsorted(skip, low) : np.searchsorted(skip, high)] - low] = False
            values = None if per_row is None else per_row[low:high]
            tasks.append(dask.delayed(terms, pure=True)(block, keep, values))
        with self._reaching():
            parts = self.client.compute(tasks, sync=True)
        return np.sum(parts, axis=0)

    def warm(self, positions: np.ndarray) -> None:
        """Fetch rows likely to be asked for next (the head of a new ranking) ahead of
        time, on the refit thread: a label's refit and its card then find them here."""
        self[positions]

    def score_pool(
        self, model: Any, strategy: QueryStrategy, class_index: dict[Any, int]
    ) -> PoolScores:
        """Every row scored on the workers by the in-memory code path, chunk by chunk."""
        blocks = self.array.map_blocks(
            _score_block,
            model,
            strategy,
            class_index,
            dtype=np.float64,
            chunks=(self.array.chunks[0], (3,)),
        )
        # each chunk's three columns cut on its worker (14 bytes a row cross) and written
        # into arrays made here as the chunks arrive: no pool-long message, no concatenation.
        # Confidence is kept in float32 (7 significant digits, ample for a threshold):
        # at 10M rows that is 40 MB less for each of the two fits alive during a refit.
        n = self.shape[0]
        out = PoolScores(np.empty(n), np.empty(n, np.int16), np.empty(n, np.float32))
        starts = np.cumsum((0, *self.array.chunks[0]))
        with self._reaching():
            futures = self.client.compute([_columns(block) for block in blocks.to_delayed()[:, 0]])
            where = {future.key: i for i, future in enumerate(futures)}
            for future in distributed_as_completed(futures):
                i = where[future.key]
                rows = slice(starts[i], starts[i + 1])
                out.scores[rows], out.suggestion[rows], out.confidence[rows] = future.result()
                future.release()
        return out

    def _gather(self, work: Any) -> Any:
        with self._reaching():
            return self.client.compute(work, sync=True)

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """Work on the cluster; a cluster that is gone says so, in words.

        An error raised inside a task (the user's model failing) passes through as it
        is; the connection's own errors become one message that says what still holds.
        """
        try:
            yield
        except Exception as exc:
            if not (isinstance(exc, OSError) or type(exc).__module__.startswith("distributed")):
                raise
            raise ConnectionError(
                f"the Dask cluster cannot be reached ({type(exc).__name__}: {exc}); every "
                "label is saved in the store, and the next label refits once it is back "
                "(or open the session again with a new client)"
            ) from exc


def _positions(key: Any, n: int) -> np.ndarray:
    """Row positions from an index key (ints, a bool mask or a slice) without an
    n-long temporary for the common case, a short list of positions."""
    if isinstance(key, slice):
        return np.arange(*key.indices(n))
    key = np.asarray(key)
    if key.dtype == bool:
        return np.flatnonzero(key)
    positions = key.reshape(-1).astype(np.int64)
    if len(positions) and (positions.min() < -n or positions.max() >= n):
        raise IndexError(f"row positions out of range for a pool of {n:,} rows")
    return np.where(positions < 0, positions + n, positions)


def distributed_as_completed(futures: list[Any]) -> Iterator[Any]:
    from distributed import as_completed

    return iter(as_completed(futures))


def _columns(block: Any) -> Any:
    """A delayed (scores, suggestion as int16, confidence) of one scored chunk."""
    import dask

    @dask.delayed(pure=True)
    def split(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return b[:, 0].copy(), b[:, 1].astype(np.int16), b[:, 2].astype(np.float32)

    return split(block)


def _score_block(
    block: np.ndarray, model: Any, strategy: QueryStrategy, class_index: dict[Any, int]
) -> np.ndarray:
    scores = score_pool(model, block, strategy, class_index)
    return np.column_stack([scores.scores, scores.suggestion, scores.confidence])


def build_dask_pool(
    ddf: Any,
    features: Any,
    keep: Sequence[str],
    *,
    ids: str | None = None,
    allow_nan: bool = False,
    client: Any = None,
) -> tuple[Pool, Any, bool]:
    """A Pool over a Dask DataFrame; returns (pool, client, whether this made the client).

    `features`: numeric columns (None: every numeric one; text and callables are
    refused with a message). `keep`: the columns the client needs whole (subgroups,
    truth). `ids`: the id column, else the index. Arguments are checked on the frame's
    metadata before anything is read; a cluster made here is closed again on an error.
    """
    try:
        import distributed
    except ImportError:
        raise PoolError(f"a Dask pool needs dask and distributed ({DASK_EXTRA})") from None
    if features is not None and (isinstance(features, str) or callable(features)):
        raise PoolError(
            "a Dask pool takes numeric feature columns (a list, or None for every numeric "
            "column); text and callables need an in-memory pool"
        )
    names = _feature_columns(ddf, features)
    columns = [str(c) for c in ddf.columns]
    missing = [c for c in [*keep, *([ids] if ids else [])] if c not in columns]
    if missing:
        raise PoolError(f"columns not in the Dask pool: {missing!r}")
    made = False
    if client is None:
        try:
            client = distributed.get_client()
        except ValueError:  # no client yet: a local cluster sized to the machine
            client = distributed.Client(distributed.LocalCluster(processes=True))
            made = True
    try:
        return _read(ddf, names, columns, keep, ids, allow_nan, client), client, made
    except BaseException:
        if made:
            client.close()
        raise


def _read(
    ddf: Any,
    names: list[str],
    columns: list[str],
    keep: Sequence[str],
    ids: str | None,
    allow_nan: bool,
    client: Any,
) -> Pool:
    """Read the frame once onto the workers and bring over what the client keeps.

    Memory on the client is what limits a pool here, so each column comes over in its
    smallest exact form: text columns as categoricals (a code per row), contiguous
    integer ids as a RangeIndex, row hashes partition by partition into one array.
    """
    ddf = client.persist(ddf)  # every later step derives from the same partitions
    lengths = tuple(int(n) for n in client.compute(ddf.map_partitions(len)).result())
    index = ddf[ids] if ids else ddf.index
    id_values = _compact(pd.Index(client.compute(index).result(), name=ids or ddf.index.name))
    check_ids(id_values)
    data = _client_columns(ddf, [c for c in keep if c != ids], client).set_axis(id_values)
    hashes = _row_hashes(ddf, ids, lengths, client)
    array = ddf[names].to_dask_array(lengths=lengths).astype(np.float64)
    _check_finite(array, names, client, allow_nan)
    array = client.persist(array)
    del ddf  # the features live on in `array`; the other columns were brought over
    digest = hashlib.sha256()
    digest.update(hashes.data)  # no copy of the 80 MB
    hashed_columns = [c for c in columns if c != ids]
    digest.update("\x1f".join(hashed_columns).encode("utf-8", "backslashreplace"))
    fingerprint = digest.hexdigest()[:32]
    return Pool(
        data=data,
        X=ClusterRows(array, client, seed=int(fingerprint[:8], 16)),
        kind="numeric",
        feature_names=tuple(names),
        row_hashes=hashes,
        fingerprint=fingerprint,
        int_ids=pd.api.types.is_integer_dtype(id_values),
        _positions=id_values,
    )


def _feature_columns(ddf: Any, features: Sequence[str] | None) -> list[str]:
    dtypes = ddf.dtypes
    if features is None:
        names = [
            str(c)
            for c, t in dtypes.items()
            if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
        ]
        if not names:
            raise PoolError("features=None takes every numeric column, but the pool has none")
        return names
    names = [str(c) for c in features]
    if not names:
        raise PoolError("features is an empty list: name at least one column")
    unknown = [c for c in names if c not in dtypes.index]
    if unknown:
        raise PoolError(f"feature columns not in the pool: {unknown!r}")
    not_numeric = [c for c in names if not pd.api.types.is_numeric_dtype(dtypes[c])]
    if not_numeric:
        raise PoolError(f"feature columns must be numeric, these are not: {not_numeric!r}")
    return names


def _compact(ids: pd.Index) -> pd.Index:
    """Contiguous increasing integer ids as a RangeIndex: the same ids in no memory."""
    if len(ids) < 2 or not pd.api.types.is_integer_dtype(ids):
        return ids
    values = ids.to_numpy()
    step = int(values[1]) - int(values[0])
    if step <= 0 or not bool((np.diff(values) == step).all()):
        return ids
    return pd.RangeIndex(int(values[0]), int(values[-1]) + step, step, name=ids.name)


def _client_columns(ddf: Any, names: list[str], client: Any) -> pd.DataFrame:
    """The columns the client keeps whole; text ones as categoricals, made on the
    workers (10M strings of a few categories: 10 MB of codes instead of 120 MB)."""

    def coded(frame: pd.DataFrame) -> pd.DataFrame:
        text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        return frame.astype(dict.fromkeys(text, "category"))

    return client.compute(ddf[names].map_partitions(coded)).result()


def _row_hashes(ddf: Any, ids: str | None, lengths: tuple[int, ...], client: Any) -> np.ndarray:
    """The in-memory pool's row hash, computed on the workers partition by partition and
    written into one array as the partitions arrive."""

    def part(frame: pd.DataFrame) -> np.ndarray:
        if ids:
            frame = frame.set_index(ids)
        return pd.util.hash_pandas_object(frame, index=True).to_numpy(dtype=np.uint64)

    hashes = np.empty(sum(lengths), dtype=np.uint64)
    starts = np.cumsum((0, *lengths))
    futures = client.compute(list(ddf.map_partitions(part, meta=(None, "uint64")).to_delayed()))
    for i, future in enumerate(futures):
        chunk = future.result()
        if len(chunk) != lengths[i]:
            raise PoolError("the Dask pool's partitions changed while it was read")
        hashes[starts[i] : starts[i + 1]] = chunk
        future.release()
    return hashes


def _check_finite(array: Any, names: list[str], client: Any, allow_nan: bool) -> None:
    import dask.array as da

    infinite = client.compute(da.isinf(array).any(axis=0)).result()
    missing = client.compute(da.isnan(array).any(axis=0)).result()
    for j, name in enumerate(names):
        if infinite[j] or (missing[j] and not allow_nan):
            kind = "inf" if infinite[j] else "NaN"
            raise PoolError(f"feature column {name!r} holds {kind}; fill or drop those rows")
