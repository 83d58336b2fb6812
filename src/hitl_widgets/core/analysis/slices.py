"""Where is the model worst? Slice discovery on the labels being collected, with honest tests.

A bias audit that looks at one named column at a time misses failures that live in
combinations ("women over 60 with part-time contracts") and in columns nobody listed.
`find_slices` searches every conjunction of up to `max_order` column values (numeric
columns binned exactly as the charts bin them, `core.subgroups`) and reports the worst.

Search: SliceLine (Sagadeeva and Boehm, "SliceLine: Fast, Linear-Algebra-based Slice
Finding for ML Model Debugging", SIGMOD 2021). Its lattice is enumerated level by level;
a slice is never larger than its parents, so a column combination is only counted when
every combination one column shorter still had a slice of at least `min_size` items (its
size pruning, which depends on the pool alone, never on labels). Every surviving slice is
counted (one bincount per column combination): cheap, and it gives the multiple-testing
correction the whole family it needs. Slices are scored with SliceLine's score,
w * (error ratio - 1) - (1 - w) * (n / size - 1), which trades a high error rate against
a large size; with every slice scored, the top of this ranking is SliceLine's top-K
(tests/core/test_slices.py checks it against the `sliceline` package). The error rate
fed to it is the slice's lower Wilson bound, not its point estimate, so that 6 errors
of 6 audit labels do not outrank 10 of 10. (On 30 planted runs, 300 labels, audit share
0.3, the two keys found the planted slice about equally often: recall@5 0.50 vs 0.47.)

Error rates: only from labels that are unbiased for the slice. Today those are the random
audit labels (`LabelEvent.audit`: a uniformly drawn item, its label compared with the
model's suggestion recorded before the label). Labels picked by uncertainty are never
used: the model is unsure there by construction, and blind where it is confidently
wrong. An audit drawn while the queue was focused on a slice F is a uniform draw from F
(the queue records F in `query_policy`, see `frame_text`), so it counts for the slices
inside F, and never for the pool or the rest; an audit drawn under a routing cut is
uniform over low-confidence items only and counts nowhere here.

Tests: per slice, one-sided Fisher exact test of "the slice's error rate is higher than
the rest's" (the rest: pool-wide audits outside the slice). Holm's step-down correction
(Holm 1979; family-wise error rate at `alpha`) over every slice in the lattice, not only
the shown ones: the family is fixed by the pool and `min_size` before any label is read.
Intervals: Wilson for the error rate, Newcombe's hybrid score interval (1998) for the gap.

Not enough labels: a slice whose every audit label could be an error and still not reach
Holm's first threshold (alpha / tried) cannot be judged; it is listed, not ranked, with
the number of audit labels it still needs (`labels_to_judge`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln
from scipy.stats import hypergeom

from ..snapshot import Snapshot
from ..subgroups import MAX_CATEGORIES_BEFORE_BINNING
from .intervals import wilson_interval

ERROR_WEIGHT = 0.95  # SliceLine's alpha: the weight of the error ratio against the size term
MAX_VALUES = 50  # a column with more distinct values than this is too fine to slice
MIN_SHARE = 0.01  # default min_size: 1% of the pool (at least MIN_ITEMS items)
MIN_ITEMS = 10
CORRECTION = "Holm"
NOT_ENOUGH = "not enough labels to judge"
WORSE = "worse than the rest"
NO_GAP = "no significant gap"
COUNT_BY_BINCOUNT = 1 << 22  # up to this many value combinations, count with bincount
_WITHIN = re.compile(r"; within=(\{.*\}); support=\d+; floor=[^;]*$")
COLUMNS = [
    "rank",
    "slice",
    "where",
    "order",
    "size",
    "share",
    "n_labeled",
    "n_audit",
    "errors",
    "error_rate",
    "low",
    "high",
    "rest_rate",
    "gap",
    "gap_low",
    "gap_high",
    "p_value",
    "p_adjusted",
    "significant",
    "verdict",
    "labels_needed",
    "focus_labels",
    "score",
]


# ---------------------------------------------------------------------- the audit frame
def frame_text(focus: Mapping[str, str] | None, routed: bool) -> str | None:
    """What narrowed the queue when a slot was filled, as text for `query_policy`.

    None: the whole pool (an audit in that slot is a uniform draw from every unlabeled
    item). ASCII JSON, so any column name or value can be stored.
    """
    if not focus and not routed:
        return None
    return json.dumps({"focus": dict(focus or {}), "routed": routed}, sort_keys=True)


def frame_of(policy: str | None) -> dict[str, str] | None:
    """The focus an audit was drawn from ({} for the whole pool); None if it was routed."""
    match = _WITHIN.search(policy or "")
    if match is None:
        return {}
    try:
        frame = json.loads(match.group(1))
        focus = {str(c): str(v) for c, v in frame["focus"].items()}
    except (ValueError, KeyError, AttributeError, TypeError):  # not ours: trust it nowhere
        return None
    return None if frame.get("routed") else focus


def where_of(row: pd.Series | pd.DataFrame) -> dict[str, str]:
    """The {column: subgroup} of a row of `find_slices` (what `Session.focus` applies)."""
    if isinstance(row, pd.DataFrame):
        if len(row) != 1:
            raise ValueError(f"focus takes one row of find_slices, got {len(row)} rows")
        row = row.iloc[0]
    where = row.get("where")
    if not isinstance(where, Mapping) or not where:
        raise ValueError(
            "focus takes a row of session.find_slices() (it has a 'where' entry), "
            "a {column: value} dict, or None"
        )
    return {str(c): str(v) for c, v in where.items()}


# ---------------------------------------------------------------------- checks
def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < float(alpha) < 1:
        raise ValueError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def column_problem(snap: Snapshot, column: str) -> str | None:
    """Why `column` cannot be sliced, or None."""
    if column not in snap.data.columns:
        return f"is not a column of the pool (columns: {list(map(str, snap.data.columns))})"
    if column == snap.truth:
        return "is the truth column: slicing by the answer would find the answer"
    if snap.pool.kind == "text" and column in snap.pool.feature_names:
        return "is the text the model reads: every text is its own value"
    _, names = snap.subgroup_codes(column)
    if len(names) < 2:
        return f"has one value ({names[0]!r}) in the whole pool: there is no rest to compare"
    if len(names) > MAX_VALUES:
        return (
            f"has {len(names)} distinct values: too many to slice (at most {MAX_VALUES}); "
            "group rare values or bin it first"
        )
    return None


def candidate_columns(snap: Snapshot, columns: str | Sequence[str] | None) -> tuple[list, dict]:
    """(columns to slice, {column left out: why}).

    None: the session's subgroup columns. "all": those plus every other column of the
    pool that can be sliced (never the truth column or a text pool's text). A column
    named explicitly that cannot be sliced is an error naming the problem.
    """
    if isinstance(columns, str) and columns == "all":
        named = list(snap.subgroups)
        others = [str(c) for c in snap.data.columns if str(c) not in named]
        skipped = {c: p for c in others if (p := column_problem(snap, c)) is not None}
        for column in named:
            _raise_if_unusable(snap, column)
        return named + [c for c in others if c not in skipped], skipped
    if columns is None:
        if not snap.subgroups:
            raise ValueError(
                "the session has no subgroup columns: pass columns=[...] or columns='all'"
            )
        columns = list(snap.subgroups)
    elif isinstance(columns, str):
        columns = [columns]
    columns = list(dict.fromkeys(columns))
    if not columns:
        raise ValueError("columns is empty: name at least one column, or columns='all'")
    for column in columns:
        _raise_if_unusable(snap, column)
    return [str(c) for c in columns], {}


def _raise_if_unusable(snap: Snapshot, column: Any) -> None:
    if not isinstance(column, str):
        raise ValueError(f"column names are strings, got {column!r}")
    problem = column_problem(snap, column)
    if problem is not None:
        raise ValueError(f"column {column!r} {problem}")


# ---------------------------------------------------------------------- the lattice
@dataclass(frozen=True)
class Block:
    """The slices of one column combination with at least `min_size` items in the pool."""

    columns: tuple[int, ...]  # candidate column indices, ascending
    keys: np.ndarray  # mixed-radix code of each slice's values, ascending
    sizes: np.ndarray  # pool items per slice

    def key_of(self, codes: np.ndarray, domains: np.ndarray) -> np.ndarray:
        """The mixed-radix key of every row of `codes` (rows x candidate columns)."""
        key = np.zeros(len(codes), dtype=np.int64)
        for c in self.columns:
            key = key * int(domains[c]) + codes[:, c]
        return key

    def count(
        self, codes: np.ndarray, domains: np.ndarray, weights: np.ndarray | None = None
    ) -> np.ndarray:
        """Rows (or their summed weights) of `codes` inside each slice of this block."""
        if len(self.keys) == 0 or len(codes) == 0:
            return np.zeros(len(self.keys))
        key = self.key_of(codes, domains)
        at = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        inside = self.keys[at] == key
        picked = None if weights is None else weights[inside]
        return np.bincount(at[inside], weights=picked, minlength=len(self.keys)).astype(float)

    def values(self, domains: np.ndarray) -> np.ndarray:
        """(slices x len(columns)) value codes of each slice, decoded from its key."""
        out = np.empty((len(self.keys), len(self.columns)), dtype=np.int64)
        key = self.keys.copy()
        for j in range(len(self.columns) - 1, -1, -1):
            radix = int(domains[self.columns[j]])
            out[:, j], key = key % radix, key // radix
        return out


def build_lattice(
    codes: np.ndarray, domains: np.ndarray, min_size: int, max_order: int
) -> list[Block]:
    """Every conjunction of up to `max_order` column values with >= min_size pool rows.

    SliceLine's size pruning, at the level of column combinations: a combination is
    counted only if each sub-combination one column shorter kept at least one slice (a
    slice is never larger than its parents, so otherwise none of its slices can qualify).
    """
    blocks: list[Block] = []
    alive: set[tuple[int, ...]] = set()
    for order in range(1, max_order + 1):
        grown = False
        for combo in combinations(range(codes.shape[1]), order):
            if order > 1 and not all(sub in alive for sub in combinations(combo, order - 1)):
                continue
            block = _count_block(codes, domains, combo, min_size)
            if len(block.keys):
                blocks.append(block)
                alive.add(combo)
                grown = True
        if not grown:
            break
    return blocks


def _count_block(
    codes: np.ndarray, domains: np.ndarray, combo: tuple[int, ...], min_size: int
) -> Block:
    probe = Block(combo, np.empty(0, dtype=np.int64), np.empty(0))
    key = probe.key_of(codes, domains)
    space = int(np.prod([int(domains[c]) for c in combo], dtype=np.int64))
    if space <= COUNT_BY_BINCOUNT:
        sizes = np.bincount(key, minlength=space)
        keys = np.flatnonzero(sizes >= min_size)
        return Block(combo, keys.astype(np.int64), sizes[keys].astype(float))
    keys, sizes = np.unique(key, return_counts=True)
    keep = sizes >= min_size
    return Block(combo, keys[keep].astype(np.int64), sizes[keep].astype(float))


def sliceline_score(
    sizes: np.ndarray, error_totals: np.ndarray, n: int, mean_error: float, weight: float
) -> np.ndarray:
    """SliceLine's score: weight * (slice error / mean error - 1) - (1 - weight) * (n / size - 1).

    Positive for slices whose error rate is high enough to outweigh their smallness;
    -inf for an empty slice or when there is no error at all to compare with.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (error_totals / sizes) / mean_error
        score = weight * (ratio - 1) - (1 - weight) * (n / sizes - 1)
    return np.nan_to_num(score, nan=-np.inf)


# ---------------------------------------------------------------------- the labels
@dataclass(frozen=True)
class Audits:
    """The audit labels: where they are, whether the model was wrong, which frame drew them."""

    positions: np.ndarray  # pool rows
    errors: np.ndarray  # 1.0 where the suggestion recorded before the label was wrong
    frames: tuple[frozenset[int] | None, ...]  # per label: focus columns; None: unusable
    pool_wide: np.ndarray  # bool per label: drawn from the whole pool


def audit_labels(snap: Snapshot, columns: list[str], codes: np.ndarray) -> Audits:
    """Every current audit label, with the candidate columns of the focus that drew it.

    A focused audit keeps its frame only if every focus column is a candidate column and
    the label lies inside the focus (it always does, unless the pool's bins changed).
    """
    events = [
        e
        for e in snap.current.values()
        if e.audit and e.suggestion is not None and e.label is not None
    ]
    positions = snap.positions([e.item_id for e in events])
    errors = np.array([e.suggestion != e.label for e in events], dtype=float)
    index = {c: i for i, c in enumerate(columns)}
    frames: list[frozenset[int] | None] = []
    for event, position in zip(events, positions.tolist(), strict=True):
        focus = frame_of(event.query_policy)
        frames.append(_frame_columns(snap, focus, index, codes[position]))
    pool_wide = np.array([f is not None and not f for f in frames], dtype=bool)
    return Audits(positions, errors, tuple(frames), pool_wide)


def _frame_columns(
    snap: Snapshot, focus: dict[str, str] | None, index: dict[str, int], row: np.ndarray
) -> frozenset[int] | None:
    if focus is None or any(c not in index for c in focus):
        return None
    for column, value in focus.items():
        _, names = snap.subgroup_codes(column)
        if names[row[index[column]]] != value:
            return None
    return frozenset(index[c] for c in focus)


# ---------------------------------------------------------------------- the tests
def fisher_worse(
    errors: np.ndarray, n: np.ndarray, rest_errors: np.ndarray, rest_n: np.ndarray
) -> np.ndarray:
    """One-sided Fisher exact p-value of "the slice's error rate exceeds the rest's".

    P(X >= errors) for X hypergeometric: n draws from n + rest_n labels of which
    errors + rest_errors are errors. 1 where either side has no label.
    """
    total = n + rest_n
    p = hypergeom.sf(errors - 1, total, errors + rest_errors, n)
    return np.where((n > 0) & (rest_n > 0), np.clip(p, 0.0, 1.0), 1.0)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error rate), in the input order."""
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def labels_to_judge(
    rest_errors: np.ndarray, rest_n: np.ndarray, threshold: float, cap: int = 1 << 20
) -> np.ndarray:
    """The fewest audit labels with which a slice could be declared worse than the rest.

    Even if all n of them were errors, Fisher's p-value is prod_{j=1..n} (e_r + j)/(n_r + j)
    (e_r errors among the rest's n_r labels), and Holm rejects nothing above alpha / tried
    (its first step). Smallest n with that p <= threshold, found by bisection (the
    product falls with n); `cap` (never judgeable) where the rest has no correct label.
    """
    log_t = math.log(threshold)

    def log_p(n: np.ndarray) -> np.ndarray:
        return (
            gammaln(n + rest_errors + 1)
            - gammaln(rest_errors + 1)
            - gammaln(n + rest_n + 1)
            + gammaln(rest_n + 1)
        )

    low = np.ones(len(rest_n))
    high = np.full(len(rest_n), float(cap))
    possible = (rest_n > rest_errors) & (log_p(high) <= log_t)
    for _ in range(int(math.log2(cap)) + 1):
        middle = np.floor((low + high) / 2)
        ok = log_p(middle) <= log_t
        high = np.where(ok, middle, high)
        low = np.where(ok, low, middle + 1)
    return np.where(possible, high, float(cap)).astype(np.int64)


def newcombe_gap(
    rate: np.ndarray, low: np.ndarray, high: np.ndarray, rest: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval for rate - rest rate, from the two Wilson intervals."""
    rest_rate, rest_low, rest_high = rest
    gap = rate - rest_rate
    below = np.sqrt((rate - low) ** 2 + (rest_high - rest_rate) ** 2)
    above = np.sqrt((high - rate) ** 2 + (rest_rate - rest_low) ** 2)
    return gap - below, gap + above


# ---------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Family:
    """Every slice tried, one entry per slice, in lattice order, with its audit counts."""

    blocks: list[Block]
    block_of: np.ndarray  # block index per slice
    slot: np.ndarray  # the slice's index inside its block
    sizes: np.ndarray
    n: np.ndarray  # audit labels unbiased for the slice
    errors: np.ndarray
    rest_n: np.ndarray  # pool-wide audit labels outside the slice
    rest_errors: np.ndarray
    wide: tuple[int, int]  # pool-wide audit labels, and errors among them

    def __len__(self) -> int:
        return len(self.sizes)

    def mean_error(self) -> float:
        return self.wide[1] / self.wide[0] if self.wide[0] else float("nan")

    def needed(self, alpha: float) -> np.ndarray:
        """Audit labels each slice needs before it can be judged (see `labels_to_judge`)."""
        return labels_to_judge(self.rest_errors, self.rest_n, alpha / max(len(self), 1))


def count_family(
    blocks: list[Block], codes: np.ndarray, domains: np.ndarray, audits: Audits
) -> Family:
    """Audit counts per slice: pool-wide audits, plus focused ones whose focus contains it."""
    wide = np.flatnonzero(audits.pool_wide)
    wide_codes = codes[audits.positions[wide]]
    focused = [
        (i, f) for i, f in enumerate(audits.frames) if f is not None and not audits.pool_wide[i]
    ]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("block", "slot", "n", "e", "wn", "we")}
    for b, block in enumerate(blocks):
        inside = np.asarray([i for i, frame in focused if frame <= set(block.columns)], dtype=int)
        rows = np.concatenate([wide, inside])
        local = codes[audits.positions[rows]]
        parts["block"].append(np.full(len(block.keys), b))
        parts["slot"].append(np.arange(len(block.keys)))
        parts["n"].append(block.count(local, domains))
        parts["e"].append(block.count(local, domains, audits.errors[rows]))
        parts["wn"].append(block.count(wide_codes, domains))
        parts["we"].append(block.count(wide_codes, domains, audits.errors[wide]))
    joined = {k: np.concatenate(v) if v else np.empty(0) for k, v in parts.items()}
    total = (len(wide), int(audits.errors[wide].sum()))
    return Family(
        blocks,
        joined["block"].astype(int),
        joined["slot"].astype(int),
        np.concatenate([b.sizes for b in blocks]) if blocks else np.empty(0),
        joined["n"],
        joined["e"],
        total[0] - joined["wn"],
        total[1] - joined["we"],
        total,
    )


@dataclass(frozen=True)
class Columns:
    """The candidate columns: names, value codes per pool row, value names, domains."""

    names: list[str]
    codes: np.ndarray  # (pool rows x columns) int64, column-major: the lattice reads columns
    labels: list[np.ndarray]  # per column: the subgroup name of each code
    data: pd.DataFrame = field(repr=False)
    binned: dict[int, bool] = field(default_factory=dict)  # filled as rows are described

    @property
    def domains(self) -> np.ndarray:
        return np.array([len(v) for v in self.labels], dtype=np.int64)

    @classmethod
    def of(cls, snap: Snapshot, names: list[str]) -> Columns:
        coded = [snap.subgroup_codes(c) for c in names]
        codes = np.empty((len(snap.pool), len(names)), dtype=np.int64, order="F")
        for j, (column_codes, _) in enumerate(coded):
            codes[:, j] = column_codes
        return cls(names, codes, [v for _, v in coded], snap.data)

    def is_binned(self, column: int) -> bool:
        """True where `core.subgroups.subgroup_labels` cut the column into quantile bins."""
        if column not in self.binned:
            values = self.data[self.names[column]]
            numeric = pd.api.types.is_numeric_dtype(values)
            numeric = numeric and not pd.api.types.is_bool_dtype(values)
            many = numeric and values.nunique(dropna=True) > MAX_CATEGORIES_BEFORE_BINNING
            self.binned[column] = bool(many)
        return self.binned[column]

    def describe(self, columns: tuple[int, ...], values: np.ndarray) -> tuple[str, dict]:
        """("age 60–80 & contract = part-time", {"age": "60–80", "contract": "part-time"})."""
        where = {
            self.names[c]: str(self.labels[c][v]) for c, v in zip(columns, values, strict=True)
        }
        words = [
            f"{name} {value}" if self.is_binned(c) else f"{name} = {value}"
            for c, (name, value) in zip(columns, where.items(), strict=True)
        ]
        return " & ".join(words), where

    def mask(self, columns: tuple[int, ...], values: np.ndarray) -> np.ndarray:
        inside = np.ones(len(self.codes), dtype=bool)
        for c, v in zip(columns, values, strict=True):
            inside &= self.codes[:, c] == v
        return inside


def find_slices(
    snap: Snapshot,
    columns: str | Sequence[str] | None = None,
    max_order: int = 2,
    min_size: int | None = None,
    k: int = 10,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The slices where the current model errs most, judged on audit labels.

    columns: None (the session's subgroup columns), a list, or "all" (those plus every
    other column that can be sliced). max_order: predicates per slice at most.
    min_size: the fewest pool items a slice may have (default 1% of the pool, at least
    10). k: ranked slices shown, then up to k slices that look worse than the rest but
    cannot be judged yet. alpha: Holm's family-wise error rate; 1 - alpha is the level
    of every interval.

    One row per slice: rank (1 = worst; NaN when not judged), slice (in words), where
    (the {column: subgroup} that `Session.focus` takes), order, size and share (of the
    pool), n_labeled (labels of any kind in it), n_audit and errors (the audit labels
    unbiased for it, and how many the model got wrong), error_rate with low/high
    (Wilson), rest_rate (pool-wide audits outside it), gap = error_rate - rest_rate with
    gap_low/gap_high (Newcombe), p_value (one-sided Fisher), p_adjusted (Holm over every
    slice tried), significant, verdict, labels_needed (more audit labels before it can
    be judged), focus_labels (about how many labels a focus on it takes to get them, at
    the session's audit share), score (SliceLine's, at the lower bound of the error rate:
    the ranking key). `table.attrs` says what was tried.
    """
    max_order = _check_int(max_order, "max_order", 1)
    k = _check_int(k, "k", 1)
    alpha = check_alpha(alpha)
    if min_size is None:
        min_size = max(MIN_ITEMS, math.ceil(MIN_SHARE * len(snap.pool)))
    min_size = _check_int(min_size, "min_size", 1)
    names, skipped = candidate_columns(snap, columns)
    cols = Columns.of(snap, names)
    blocks = build_lattice(cols.codes, cols.domains, min_size, min(max_order, len(names)))
    audits = audit_labels(snap, names, cols.codes)
    family = count_family(blocks, cols.codes, cols.domains, audits)
    table = _judge(snap, family, cols, k, alpha)
    table.attrs = {
        "tried": len(family),
        "correction": f"{CORRECTION} (family-wise error rate {alpha:g}) over every slice tried",
        "alpha": alpha,
        "columns": names,
        "skipped_columns": skipped,
        "max_order": max_order,
        "min_size": min_size,
        "audit_labels": family.wide[0],
        "focused_audit_labels": int(len(audits.errors) - family.wide[0]),
        "overall_error_rate": family.mean_error(),
        "not_enough": int((family.n < family.needed(alpha)).sum()),
        "method": (
            "SliceLine lattice (size-pruned) scored on random audit labels; one-sided "
            f"Fisher exact test against the rest; Wilson intervals; {CORRECTION} correction"
        ),
    }
    return table


def _judge(snap: Snapshot, family: Family, cols: Columns, k: int, alpha: float) -> pd.DataFrame:
    """Test every slice tried; keep the k worst judged ones, then the unjudged suspects."""
    if not len(family):
        return pd.DataFrame(columns=COLUMNS)
    n, errors = family.n, family.errors
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = errors / n
        rest_rate = family.rest_errors / family.rest_n
    needed = family.needed(alpha)
    # rank by SliceLine's score at the slice's lower Wilson bound: of two slices with
    # 6/6 and 10/10 errors, the one with more evidence is the surer finding
    at_least, _ = wilson_interval(errors, n, 1 - alpha)
    score = sliceline_score(
        family.sizes, at_least * family.sizes, len(snap.pool), family.mean_error(), ERROR_WEIGHT
    )
    worse = rate > rest_rate  # False where either rate is NaN
    ranked = np.flatnonzero(worse & (n >= needed))
    ranked = ranked[np.lexsort((-family.sizes[ranked], -rate[ranked], -score[ranked]))][:k]
    suspects = np.flatnonzero(worse & (n < needed))
    suspects = suspects[np.lexsort((-family.sizes[suspects], (needed - n)[suspects]))][:k]
    chosen = np.concatenate([ranked, suspects]).astype(int)
    p = fisher_worse(errors, n, family.rest_errors, family.rest_n)
    adjusted = holm(p)
    frame = pd.DataFrame(
        {
            "rank": np.r_[np.arange(1, len(ranked) + 1), np.full(len(suspects), np.nan)],
            "size": family.sizes[chosen].astype(int),
            "share": family.sizes[chosen] / len(snap.pool),
            "n_audit": n[chosen].astype(int),
            "errors": errors[chosen].astype(int),
            "error_rate": rate[chosen],
            "rest_rate": rest_rate[chosen],
            "p_value": p[chosen],
            "p_adjusted": adjusted[chosen],
            "labels_needed": np.maximum(needed[chosen] - n[chosen], 0).astype(int),
            "score": np.where(n[chosen] >= needed[chosen], score[chosen], np.nan),
        }
    )
    return _describe(snap, frame, family, cols, chosen, alpha)


def _describe(
    snap: Snapshot,
    frame: pd.DataFrame,
    family: Family,
    cols: Columns,
    chosen: np.ndarray,
    alpha: float,
) -> pd.DataFrame:
    """Add the words, the intervals, the verdict and the effort to the chosen rows."""
    texts, wheres, orders, labeled = [], [], [], []
    for i in chosen:
        block = family.blocks[family.block_of[i]]
        values = block.values(cols.domains)[family.slot[i]]
        text, where = cols.describe(block.columns, values)
        texts.append(text)
        wheres.append(where)
        orders.append(len(block.columns))
        labeled.append(int((cols.mask(block.columns, values) & snap.decided).sum()))
    frame.insert(1, "slice", texts)
    frame.insert(2, "where", wheres)
    frame.insert(3, "order", orders)
    frame.insert(6, "n_labeled", labeled)
    level = 1 - alpha
    low, high = wilson_interval(frame["errors"].to_numpy(), frame["n_audit"].to_numpy(), level)
    rest_n = family.rest_n[chosen]
    rest_low, rest_high = wilson_interval(family.rest_errors[chosen], rest_n, level)
    gap = frame["error_rate"].to_numpy() - frame["rest_rate"].to_numpy()
    gap_low, gap_high = newcombe_gap(
        frame["error_rate"].to_numpy(),
        low,
        high,
        (frame["rest_rate"].to_numpy(), rest_low, rest_high),
    )
    frame["low"], frame["high"] = low, high
    frame["gap"], frame["gap_low"], frame["gap_high"] = gap, gap_low, gap_high
    frame["significant"] = frame["rank"].notna() & (frame["p_adjusted"] <= alpha)
    frame["verdict"] = np.select(
        [frame["rank"].isna(), frame["significant"]], [NOT_ENOUGH, WORSE], NO_GAP
    )
    share = snap.config.audit_share
    frame["focus_labels"] = np.ceil(frame["labels_needed"] / share) if share > 0 else np.nan
    return frame[COLUMNS].reset_index(drop=True)
