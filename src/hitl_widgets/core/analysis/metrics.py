"""The numbers behind every chart, as tidy DataFrames an auditor can print or export.

Each table says what it estimates and on what sample, because the samples differ in
honesty: items picked by uncertainty sampling are the hard ones, so a model's accuracy
measured on them (or cross-validated on them) is biased low or high in ways that depend
on the strategy, so no chart shows such a number. A held-out truth column, the uniformly
random audit items, and every label weighted by its recorded selection probability
(`estimates.estimate`) give unbiased estimates. Rate intervals are Wilson score
intervals (good coverage for small n and rates near 0 or 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..snapshot import Snapshot
from ..training import fit_estimator
from .estimates import estimate
from .intervals import SMALL_GROUP, wilson_interval

BASELINE_EVAL = 20_000  # the random baseline is scored on a random sample this large
AUDIT_WINDOW = 30  # audit labels pooled per accuracy point
ROUTING_THRESHOLD = 0.9  # confidence at or above which the model could act alone

SOURCE_TRUTH = "held-out truth"
SOURCE_AUDIT = "random audit"
SOURCE_ESTIMATE = "every label, weighted by its selection probability"
SOURCE_BASELINE = "random-sampling baseline (truth)"

BASELINE_SIZES = (10, 20, 40, 80, 160, 320, 640, 1280)


def accuracy_estimates(snap: Snapshot, estimate_now: bool = True) -> pd.DataFrame:
    """Accuracy vs number of labels, per source, each with its interval and sample size.

    Columns: source, n_labels, estimate, low, high, n, sample. Sources: held-out truth
    (when the session has a truth column), the random audit labels alone, and
    `estimate` (every label counted through its selection probability: the narrowest
    unbiased one; n is its effective sample size). `estimate_now=False` leaves out the
    current fit's point if it is not known yet (it takes a cross-fit) and returns the
    history so far.
    """
    rows = []
    for summary in snap.history:
        if summary.truth_accuracy is not None:
            hits = summary.truth_accuracy * summary.truth_n
            low, high = wilson_interval(hits, summary.truth_n)
            rows.append(
                (
                    SOURCE_TRUTH,
                    summary.n_labels,
                    summary.truth_accuracy,
                    float(low),
                    float(high),
                    summary.truth_n,
                    "every unlabeled item with a truth value",
                )
            )
    rows.extend(_audit_points(snap))
    rows.extend(_estimate_points(snap, estimate_now))
    columns = ["source", "n_labels", "estimate", "low", "high", "n", "sample"]
    return pd.DataFrame(rows, columns=columns)


def _audit_points(snap: Snapshot) -> list[tuple]:
    """Running accuracy over the last AUDIT_WINDOW audit labels, at each audit label."""
    current = {key: e.label for key, e in snap.current.items()}
    n_labels, outcomes, rows, seen = 0, [], [], set()
    for event in snap.log:
        if event.action != "label":
            continue
        n_labels += 1
        if not event.audit or event.suggestion is None or event.item_id not in current:
            continue
        if event.item_id in seen:
            continue  # one observation per item: a later label is not "before the model"
        seen.add(event.item_id)
        outcomes.append(event.suggestion == current[event.item_id])
        window = outcomes[-AUDIT_WINDOW:]
        low, high = wilson_interval(sum(window), len(window))
        rows.append(
            (
                SOURCE_AUDIT,
                n_labels,
                sum(window) / len(window),
                float(low),
                float(high),
                len(window),
                f"last {len(window)} uniformly random audit items, model before label",
            )
        )
    return rows


def _estimate_points(snap: Snapshot, estimate_now: bool = True) -> list[tuple]:
    """`estimate` of each fit's model, computed once per fit and kept as a history."""
    history = snap.memo.setdefault("estimate_history", {})  # n_labels -> point
    fit = snap.fit
    if estimate_now and fit is not None and fit.n_labels not in history:
        try:
            row = estimate(snap).iloc[0]
        except ValueError:  # fewer than two classes labeled: nothing to estimate
            row = None
        if row is not None and np.isfinite(row["estimate"]):
            history[fit.n_labels] = (
                float(row["estimate"]),
                float(row["low"]),
                float(row["high"]),
                round(float(row["n_eff"])),
            )
    return [
        (
            SOURCE_ESTIMATE,
            count,
            est,
            low,
            high,
            n_eff,
            "the unlabeled items: the model's confidence, corrected by every randomly "
            "drawn label weighted by its selection probability (n: effective sample size)",
        )
        for count, (est, low, high, n_eff) in sorted(history.copy().items())  # others add
    ]


def random_baseline(
    snap: Snapshot, sizes: Sequence[int] | None = None, repeats: int = 5
) -> pd.DataFrame:
    """Accuracy of the same model trained on uniformly random labeled sets (needs truth).

    This is what labeling at random would have given: the line uncertainty sampling has
    to beat. Evaluated on the items not drawn (a random sample of at most BASELINE_EVAL
    of them); band = range over `repeats` draws.
    """
    columns = ["source", "n_labels", "estimate", "low", "high", "n", "sample"]
    codes = snap.truth_codes
    if codes is None:
        return pd.DataFrame(columns=columns)
    known = np.flatnonzero(codes >= 0)
    local = getattr(snap.X, "candidates", None)
    if local is not None:  # rows on a cluster: draw from the uniform sample held here
        known = local[0][codes[local[0]] >= 0]  # (a uniform draw of it is one of the pool)
    rng = np.random.default_rng(snap.config.random_state)
    if sizes is None:
        top = max(20, len(snap.current))
        sizes = sorted({s for s in BASELINE_SIZES if s <= top})
    rows = []
    classes = np.asarray(snap.classes, dtype=object)
    for size in sizes:
        if size >= len(known):
            continue
        accuracies: list[float] = []
        for _ in range(repeats):
            drawn = rng.choice(known, size=size, replace=False)
            y = classes[codes[drawn]]
            if len(set(y.tolist())) < 2:
                continue
            model = fit_estimator(snap.model, snap.X[drawn], _as_labels(y, snap))
            outside = np.ones(len(codes), dtype=bool)
            outside[drawn] = False
            rest = known[outside[known]]  # a mask: setdiff1d hashes the whole pool
            if len(rest) > BASELINE_EVAL:  # a large random sample is as good and bounded
                rest = rng.choice(rest, size=BASELINE_EVAL, replace=False)
            predicted = model.predict(snap.X[rest])
            accuracies.append(float(np.mean(predicted == _as_labels(classes[codes[rest]], snap))))
        if accuracies:
            rows.append(
                (
                    SOURCE_BASELINE,
                    size,
                    float(np.mean(accuracies)),
                    min(accuracies),
                    max(accuracies),
                    len(accuracies),
                    f"range over {len(accuracies)} random draws of {size} items",
                )
            )
    return pd.DataFrame(rows, columns=columns)


def cached_random_baseline(snap: Snapshot) -> pd.DataFrame:
    """`random_baseline`, recomputed only when the labels cross a new grid size.

    It fits models on random draws, so a redraw after every label must not redo it.
    """
    key = max(s for s in BASELINE_SIZES if s <= max(len(snap.current), 10))
    cached = snap.memo.get("random_baseline")
    if cached is None or cached[0] != key:
        cached = (key, random_baseline(snap))
        snap.memo["random_baseline"] = cached
    return cached[1]


def _as_labels(values: np.ndarray, snap: Snapshot) -> np.ndarray:
    if all(isinstance(c, int) for c in snap.classes):
        return values.astype(np.int64)
    return values.astype(object)


def disagreement_by_subgroup(snap: Snapshot, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rate at which the model's prediction (made before the label) differed from the human.

    Over labeled items that had a model prediction. Columns: column, subgroup, n,
    successes (disagreements), rate, low, high, small.
    """
    labeled = snap.labeled
    labeled = labeled[labeled["suggestion"].notna()]
    return _per_subgroup(snap, *_rows_and_hits(labeled, "disagree"), columns)


def annotator_disagreement_by_subgroup(
    snap: Snapshot, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Share of items with two or more opinions whose opinions are not unanimous.

    Over items several annotators labeled (see `overlap`); columns as in
    `disagreement_by_subgroup`. Empty until a second annotator has labeled something.
    """
    opinions = snap.opinion_table
    counts = opinions.groupby("item_id")["label"].agg(["size", "nunique"])
    shared = counts[counts["size"] >= 2]
    positions = snap.pool.positions(list(shared.index)) if len(shared) else np.empty(0, np.intp)
    split = (shared["nunique"] > 1).to_numpy(dtype=bool)
    return _per_subgroup(snap, positions, split, columns)


def accuracy_by_subgroup(snap: Snapshot, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Model accuracy per subgroup, from the most honest source available.

    With a truth column: the current model on every unlabeled item with a truth value.
    Otherwise: the audit items (uniformly random; model prediction made before the label).
    Columns: column, subgroup, source, n, successes (correct), rate, low, high, small.
    """
    fit, codes = snap.fit, snap.truth_codes
    if codes is not None and fit is not None:
        mask = ~snap.decided & (codes >= 0)  # a mask, not positions: 1 byte a row
        table = _per_subgroup(snap, mask, fit.pool.suggestion[mask] == codes[mask], columns)
        table.insert(2, "source", SOURCE_TRUTH)
        return table
    labeled = snap.labeled
    audits = labeled[labeled["audit"] & labeled["suggestion"].notna()].copy()
    audits["correct"] = audits["suggestion"] == audits["label"]
    table = _per_subgroup(snap, *_rows_and_hits(audits, "correct"), columns)
    table.insert(2, "source", SOURCE_AUDIT)
    return table


def _rows_and_hits(frame: pd.DataFrame, outcome: str) -> tuple[np.ndarray, np.ndarray]:
    """A table's pool positions and its boolean outcome, as `_per_subgroup` takes them."""
    return frame["position"].to_numpy(dtype=np.intp), frame[outcome].to_numpy(dtype=bool)


def _per_subgroup(
    snap: Snapshot,
    rows: np.ndarray,
    hits: np.ndarray,
    columns: Sequence[str] | None,
) -> pd.DataFrame:
    """Rates of a boolean outcome per subgroup, counted with bincount (fast at 1M rows).

    `rows`: pool positions, or a bool mask over the pool; `hits`: the outcome of each of
    those rows. Same numbers as a pandas groupby over the subgroup labels, sorted by
    subgroup name.
    """
    out = ["column", "subgroup", "n", "successes", "rate", "low", "high", "small"]
    tables = []
    for column in columns if columns is not None else snap.subgroups:
        codes, names = snap.subgroup_codes(column)
        member = codes[rows]
        n = np.bincount(member, minlength=len(names))
        successes = np.bincount(member[hits], minlength=len(names))
        keep = n > 0
        if not keep.any():
            continue
        table = pd.DataFrame(
            {"column": column, "subgroup": names[keep], "n": n[keep], "successes": successes[keep]}
        )
        table["rate"] = table["successes"] / table["n"]
        table["low"], table["high"] = wilson_interval(table["successes"], table["n"])
        table["small"] = table["n"] < SMALL_GROUP
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=out)
    return pd.concat(tables, ignore_index=True)[out]


def uncertainty_distribution(snap: Snapshot, bins: int = 20) -> pd.DataFrame:
    """Histogram of query scores over the unlabeled pool (aggregated: size is fixed)."""
    fit = snap.fit
    columns = ["bin_start", "bin_end", "count"]
    if fit is None:
        return pd.DataFrame(columns=columns)
    scores = fit.pool.scores[~snap.decided]
    if scores.size == 0:
        return pd.DataFrame(columns=columns)
    high = (
        max(1.0, float(scores.max()))
        if snap.strategy_name != "entropy"
        else max(math.log(len(snap.classes)), float(scores.max()))
    )
    low = min(0.0, float(scores.min()))
    counts, edges = np.histogram(scores, bins=bins, range=(low, high))
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "count": counts})


def uncertainty_trend(snap: Snapshot) -> pd.DataFrame:
    """Mean query score over the unlabeled pool after each refit."""
    rows = [(h.version, h.n_labels, h.mean_uncertainty) for h in snap.history]
    return pd.DataFrame(rows, columns=["model_version", "n_labels", "mean_uncertainty"])


def uncertainty_by_subgroup(
    snap: Snapshot, columns: Sequence[str] | None = None, threshold: float = ROUTING_THRESHOLD
) -> pd.DataFrame:
    """Per subgroup: unlabeled items, mean query score, items below the routing threshold.

    "below threshold" = the model's confidence is under `threshold`: a human would get it.
    """
    out = ["column", "subgroup", "unlabeled", "mean_score", "need_human", "threshold"]
    fit = snap.fit
    if fit is None:
        return pd.DataFrame(columns=out)
    unlabeled = ~snap.decided  # a mask, not positions: 1 byte a row
    scores = fit.pool.scores[unlabeled]
    need = fit.pool.confidence[unlabeled] < threshold
    tables = []
    for column in columns if columns is not None else snap.subgroups:
        codes, names = snap.subgroup_codes(column)
        member = codes[unlabeled]
        count = np.bincount(member, minlength=len(names))
        keep = count > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(member, weights=scores, minlength=len(names)) / count
        table = pd.DataFrame(
            {
                "column": column,
                "subgroup": names[keep],
                "unlabeled": count[keep],
                "mean_score": mean[keep],
                "need_human": np.bincount(member[need], minlength=len(names))[keep],
                "threshold": threshold,
            }
        )
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=out)
    return pd.concat(tables, ignore_index=True)[out]


def label_balance(snap: Snapshot) -> pd.DataFrame:
    """Labels per class (every declared class, zeros included)."""
    counts = pd.Series([e.label for e in snap.current.values()]).value_counts()
    return pd.DataFrame(
        {
            "label": [str(c) for c in snap.classes],
            "n": [int(counts.get(str(c), 0)) for c in snap.classes],
        }
    )


def coverage_by_subgroup(snap: Snapshot, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Labeled items per subgroup against the pool: where labeling has not looked yet."""
    out = ["column", "subgroup", "labeled", "total", "share"]
    tables = []
    for column in columns if columns is not None else snap.subgroups:
        codes, names = snap.subgroup_codes(column)
        total = np.bincount(codes, minlength=len(names))
        labeled = np.bincount(codes[snap.decided], minlength=len(names))
        table = pd.DataFrame(
            {"column": column, "subgroup": names, "labeled": labeled, "total": total}
        )
        table = table[table["total"] > 0]
        table["share"] = table["labeled"] / table["total"]
        tables.append(table.reset_index(drop=True))
    if not tables:
        return pd.DataFrame(columns=out)
    return pd.concat(tables, ignore_index=True)[out]


def all_metrics(snap: Snapshot, estimate: bool = True) -> dict[str, pd.DataFrame]:
    """Every table, by name (the charts draw from exactly these); see `accuracy_estimates`
    for `estimate`."""
    return {
        "accuracy": accuracy_estimates(snap, estimate),
        "accuracy_by_subgroup": accuracy_by_subgroup(snap),
        "disagreement_by_subgroup": disagreement_by_subgroup(snap),
        "annotator_disagreement_by_subgroup": annotator_disagreement_by_subgroup(snap),
        "uncertainty_distribution": uncertainty_distribution(snap),
        "uncertainty_trend": uncertainty_trend(snap),
        "uncertainty_by_subgroup": uncertainty_by_subgroup(snap),
        "label_balance": label_balance(snap),
        "coverage_by_subgroup": coverage_by_subgroup(snap),
        "random_baseline": cached_random_baseline(snap),
    }
