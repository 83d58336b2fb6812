"""The pool: the Session's own copy of the items, their ids and features, checked once.

Ownership: `build_pool` copies what it is given. Later edits of the caller's DataFrame
(sorting it in place, renaming its index, adding rows, editing a cell) change nothing
here, so a label can never land on the wrong id and the model never trains on features
the labeler does not show. With pandas >= 3 the copy is shallow and copy-on-write
makes it behave as a deep one (no memory is duplicated until the caller writes); with
older pandas it is a deep copy. Python objects inside cells (a list, an array holding
an image) are not copied: replace such a cell, do not mutate it.

Every later step (fit, score, rank) indexes into `Pool.X` by row position, so the
expensive conversion of the DataFrame happens here and nowhere else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from .events import text_problem
from .ids import IdCodec

FeatureSpec = None | str | Sequence[str] | Callable[[pd.DataFrame], Any]
FeatureKind = Literal["numeric", "text", "custom"]
COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3  # a shallow copy is then a real copy


class PoolError(ValueError):
    """The pool or its features cannot be used as given; the message says why."""


@dataclass(frozen=True)
class Pool:
    """Ids, features and content hashes of the items to label."""

    data: pd.DataFrame
    X: Any  # ndarray (numeric or text) or a scipy sparse matrix
    kind: FeatureKind
    feature_names: tuple[str, ...]
    row_hashes: np.ndarray  # uint64 per row: what the item looked like when labeled
    fingerprint: str  # identifies the pool, so a store is never mixed with another one
    int_ids: bool  # ids are integers (else strings): how stored ids are read back
    _positions: pd.Index = field(repr=False)

    @property
    def codec(self) -> IdCodec:
        return IdCodec(self.int_ids)

    @property
    def ids(self) -> pd.Index:
        return self.data.index

    def __len__(self) -> int:
        return len(self.data)

    def position(self, item_id: Hashable) -> int:
        """Row position of an id; a clear KeyError for an id that is not in the pool."""
        try:
            pos = self._positions.get_loc(item_id)
        except (KeyError, TypeError, pd.errors.InvalidIndexError):
            raise KeyError(f"item id {item_id!r} is not in the pool") from None
        if not isinstance(pos, (int, np.integer)):  # a slice or mask: not one scalar id
            raise KeyError(f"item id {item_id!r} is not one scalar id of the pool")
        return int(pos)

    def rows(self, item_ids: Sequence[Hashable]) -> pd.DataFrame:
        """The items as a person sees them: their rows of `data`. A pool whose features
        live elsewhere (a Dask pool's `data` holds only subgroup and truth columns) adds
        them, fetched in one round trip."""
        frame = self.data.loc[list(item_ids)]
        if getattr(self.X, "score_pool", None) is not None and len(frame):
            values = self.X[self.positions(list(item_ids))]
            features = pd.DataFrame(values, index=frame.index, columns=list(self.feature_names))
            frame = pd.concat([features, frame], axis=1)
        return frame

    def positions(self, item_ids: Sequence[Hashable]) -> np.ndarray:
        # dtype inferred, not object: a str target on a str index (pandas 3) takes the
        # hash-table path (0.07 ms for 30 ids in 100k), an object one converts the whole
        # index first (15 ms); a mixed list stays object and matches only what is equal
        pos = self._positions.get_indexer(pd.Index(list(item_ids), tupleize_cols=False))
        if (pos < 0).any():
            missing = [i for i, p in zip(item_ids, pos, strict=True) if p < 0][:5]
            raise KeyError(f"item ids not in the pool: {missing!r}")
        return pos

    def item_hash(self, position: int) -> str:
        return f"{int(self.row_hashes[position]):016x}"


def build_pool(
    data: pd.DataFrame, features: FeatureSpec = None, *, allow_nan: bool = False
) -> Pool:
    """Validate `data`, compute the feature matrix once, and fingerprint the pool."""
    if not isinstance(data, pd.DataFrame):
        raise PoolError(f"the pool must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise PoolError("the pool is empty: give a DataFrame with at least one row")
    data = data.copy(deep=not COPY_ON_WRITE)
    int_ids = check_ids(data.index)
    X, kind, names = _features(data, features, allow_nan=allow_nan)
    hashes = _row_hashes(data)
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(hashes).tobytes())
    digest.update("\x1f".join(map(str, data.columns)).encode("utf-8", "backslashreplace"))
    return Pool(
        data=data,
        X=X,
        kind=kind,
        feature_names=names,
        row_hashes=hashes,
        fingerprint=digest.hexdigest()[:32],
        int_ids=int_ids,
        _positions=data.index,
    )


def check_ids(index: pd.Index) -> bool:
    """Ids must be unique and all integers or all strings; returns True for integers.

    Two kinds only, so that str(id) in the store maps back to exactly one id.
    """
    if isinstance(index, pd.MultiIndex):
        raise PoolError("item ids must be scalars: the pool has a MultiIndex; reset_index() first")
    if index.hasnans:
        raise PoolError("item ids must not be missing: the pool's index holds NaN/None")
    if not index.is_unique:
        dupes = index[index.duplicated()].unique()[:5].tolist()
        raise PoolError(f"item ids must be unique: duplicated index values {dupes!r}")
    if pd.api.types.is_integer_dtype(index) and not pd.api.types.is_bool_dtype(index):
        return True
    if not (index.dtype == object or pd.api.types.is_string_dtype(index)):
        raise PoolError(f"item ids must be strings or integers, got index dtype {index.dtype}")
    values = index.tolist()
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return True
    for v in values:
        if not isinstance(v, str):
            raise PoolError(
                "item ids must be all strings or all integers, got "
                f"{type(v).__name__} ({v!r}) among them"
            )
        problem = text_problem(v)
        if problem is not None:
            raise PoolError(f"item id {v[:40]!r} {problem}: ids must be storable text")
    return False


def _features(
    data: pd.DataFrame, features: FeatureSpec, *, allow_nan: bool
) -> tuple[Any, FeatureKind, tuple[str, ...]]:
    if callable(features):
        return _custom_features(data, features), "custom", ()
    if isinstance(features, str):
        return _text_features(data, features), "text", (features,)
    if features is None:
        columns = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
        columns = [c for c in columns if not pd.api.types.is_bool_dtype(data[c])] or columns
        if not columns:
            raise PoolError(
                "features=None takes every numeric column, but the pool has none; "
                "pass features=[columns], a text column name, or a callable df -> X"
            )
    else:
        columns = list(features)
        if not columns:
            raise PoolError("features is an empty list: name at least one column")
    return (
        _numeric_features(data, columns, allow_nan=allow_nan),
        "numeric",
        tuple(map(str, columns)),
    )


def _numeric_features(data: pd.DataFrame, columns: list, *, allow_nan: bool) -> np.ndarray:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise PoolError(f"feature columns not in the pool: {missing!r}")
    not_numeric = [c for c in columns if not pd.api.types.is_numeric_dtype(data[c])]
    if not_numeric:
        raise PoolError(
            f"feature columns must be numeric, these are not: {not_numeric!r} "
            "(for one text column pass features='column')"
        )
    X = np.ascontiguousarray(data[columns].to_numpy(dtype=np.float64, na_value=np.nan))
    finite = np.isfinite(X)
    if not finite.all():
        bad_cols = np.flatnonzero(~finite.all(axis=0))
        for j in bad_cols:
            column = X[:, j]
            if np.isinf(column).any() or not allow_nan:
                kind = "inf" if np.isinf(column).any() else "NaN"
                rows = data.index[~np.isfinite(column)][:3].tolist()
                raise PoolError(
                    f"feature column {columns[j]!r} holds {kind} (e.g. at ids {rows!r}); "
                    "fill or drop those rows"
                    + (
                        ""
                        if kind == "inf"
                        else ", or pass allow_nan=True with a model that imputes"
                    )
                )
    return X


def _text_features(data: pd.DataFrame, column: str) -> np.ndarray:
    if column not in data.columns:
        raise PoolError(f"text column {column!r} is not in the pool")
    values = data[column]
    missing = values.isna()
    if missing.any():
        rows = data.index[missing.to_numpy()][:3].tolist()
        raise PoolError(f"text column {column!r} has missing values (e.g. at ids {rows!r})")
    texts = values.to_numpy(dtype=object)
    for pos, text in enumerate(texts):
        if not isinstance(text, str):
            raise PoolError(
                f"text column {column!r} must hold strings; id {data.index[pos]!r} holds "
                f"{type(text).__name__}"
            )
    for pos, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise PoolError(
                f"text column {column!r} at id {data.index[pos]!r} holds a string that cannot "
                "be encoded as UTF-8 (a lone surrogate?)"
            ) from None
    return texts


def _custom_features(data: pd.DataFrame, make: Callable[[pd.DataFrame], Any]) -> Any:
    X = make(data)
    if isinstance(X, pd.DataFrame):
        X = X.to_numpy()
    if not sparse.issparse(X):
        X = np.asarray(X)
    n = X.shape[0] if X.ndim else 0
    if n != len(data):
        raise PoolError(f"the features callable returned {n} rows for a pool of {len(data)}")
    if sparse.issparse(X):
        return X.tocsr()
    if np.issubdtype(X.dtype, np.number) and not np.isfinite(X).all():
        raise PoolError("the features callable returned NaN or inf values")
    return X


def _row_hashes(data: pd.DataFrame) -> np.ndarray:
    """One uint64 per row over the index and every hashable column.

    Columns that cannot be hashed (arrays, images) or encoded are left out: the hash
    is there to notice a changed item, not to prove identity byte for byte.
    """
    try:
        return pd.util.hash_pandas_object(data, index=True).to_numpy()
    except (TypeError, ValueError, UnicodeEncodeError):
        pass
    combined = pd.util.hash_pandas_object(data.index.to_series(), index=False).to_numpy()
    for column in data.columns:
        try:
            part = pd.util.hash_pandas_object(data[column], index=False).to_numpy()
        except (TypeError, ValueError, UnicodeEncodeError):
            continue
        combined = combined * np.uint64(1_000_003) ^ part
    return combined
