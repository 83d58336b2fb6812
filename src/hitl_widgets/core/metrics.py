"""The numbers behind every chart, as tidy DataFrames an auditor can print or export.

Each table says what it estimates and on what sample, because the samples differ in
honesty: items picked by uncertainty sampling are the hard ones, so a model's accuracy
measured on them (or cross-validated on them) is biased low or high in ways that depend
on the strategy. Only a held-out truth column or the uniformly random audit items give
unbiased estimates. Intervals are Wilson score intervals (good coverage for small n and
rates near 0 or 1, unlike the normal approximation).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_score

if TYPE_CHECKING:
    from .session import Session

SMALL_GROUP = 10  # below this many items a subgroup is flagged, not ranked
BASELINE_EVAL = 20_000  # the random baseline is scored on a random sample this large
AUDIT_WINDOW = 30  # audit labels pooled per accuracy point
ROUTING_THRESHOLD = 0.9  # confidence at or above which the model could act alone

SOURCE_TRUTH = "held-out truth"
SOURCE_AUDIT = "random audit"
SOURCE_CV = "cross-validated on labels (biased by the query strategy)"
SOURCE_BASELINE = "random-sampling baseline (truth)"

_cv_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def wilson_interval(
    successes: np.ndarray | float, n: np.ndarray | float, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion; (nan, nan) where n == 0."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


def labeled_frame(session: Session) -> pd.DataFrame:
    """One row per labeled item: its current label and what the model said before it."""
    events = session.current_label_events()
    ids = [int(e.item_id) if session.pool.int_ids else e.item_id for e in events]
    frame = pd.DataFrame(
        {
            "item_id": ids,
            "label": [e.label for e in events],
            "suggestion": [e.suggestion for e in events],
            "suggestion_shown": [bool(e.suggestion_shown) for e in events],
            "annotator": [e.annotator for e in events],
            "audit": [e.audit for e in events],
        }
    )
    frame["position"] = session.pool.positions(ids) if ids else np.empty(0, dtype=np.intp)
    frame["disagree"] = frame["suggestion"].notna() & (frame["suggestion"] != frame["label"])
    return frame


def accuracy_estimates(session: Session, cv_folds: int = 5) -> pd.DataFrame:
    """Accuracy vs number of labels, per source, each with its interval and sample size.

    Columns: source, n_labels, estimate, low, high, n, sample.
    """
    rows = []
    for summary in session.history_:
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
    rows.extend(_audit_points(session))
    rows.extend(_cv_points(session, cv_folds))
    columns = ["source", "n_labels", "estimate", "low", "high", "n", "sample"]
    return pd.DataFrame(rows, columns=columns)


def _audit_points(session: Session) -> list[tuple]:
    """Running accuracy over the last AUDIT_WINDOW audit labels, at each audit label."""
    current = {e.item_id: e.label for e in session.current_label_events()}
    n_labels, outcomes, rows, seen = 0, [], [], set()
    for event in session.event_log():
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


def _cv_points(session: Session, folds: int) -> list[tuple]:
    """Cross-validated accuracy on the labeled items, cached per label count."""
    labeled = labeled_frame(session)
    counts = labeled["label"].value_counts()
    cache = _cv_cache.setdefault(session, {})
    n = len(labeled)
    if n not in cache and len(counts) >= 2 and counts.min() >= 2:
        splits = min(folds, int(counts.min()))
        y = labeled["label"].to_numpy()
        X = session.pool.X[labeled["position"].to_numpy()]
        cv = StratifiedKFold(splits, shuffle=True, random_state=0)
        scores = cross_val_score(clone(session.model), X, y, cv=cv, error_score=np.nan)
        if not np.isnan(scores).any():
            estimate = float(scores.mean())
            low, high = wilson_interval(estimate * n, n)
            cache[n] = (estimate, float(low), float(high))
    return [
        (
            SOURCE_CV,
            count,
            est,
            low,
            high,
            count,
            "the labeled items themselves, which the strategy chose as hard",
        )
        for count, (est, low, high) in sorted(cache.items())
    ]


def random_baseline(
    session: Session, sizes: Sequence[int] | None = None, repeats: int = 5
) -> pd.DataFrame:
    """Accuracy of the same model trained on uniformly random labeled sets (needs truth).

    This is what labeling at random would have given: the line uncertainty sampling has
    to beat. Evaluated on the items not drawn (a random sample of at most BASELINE_EVAL
    of them); band = range over `repeats` draws.
    """
    columns = ["source", "n_labels", "estimate", "low", "high", "n", "sample"]
    if session.truth is None:
        return pd.DataFrame(columns=columns)
    codes = session._truth_codes
    known = np.flatnonzero(codes >= 0)
    rng = np.random.default_rng(session.random_state)
    if sizes is None:
        top = max(20, len(session.current_label_events()))
        sizes = sorted({s for s in (10, 20, 40, 80, 160, 320, 640, 1280) if s <= top})
    rows = []
    classes = np.asarray(session.classes, dtype=object)
    for size in sizes:
        if size >= len(known):
            continue
        accuracies = []
        for _ in range(repeats):
            drawn = rng.choice(known, size=size, replace=False)
            y = classes[codes[drawn]]
            if len(set(y.tolist())) < 2:
                continue
            model = clone(session.model).fit(session.pool.X[drawn], _as_labels(y, session))
            outside = np.ones(len(codes), dtype=bool)
            outside[drawn] = False
            rest = known[outside[known]]  # a mask: setdiff1d hashes the whole pool
            if len(rest) > BASELINE_EVAL:  # a large random sample is as good and bounded
                rest = rng.choice(rest, size=BASELINE_EVAL, replace=False)
            predicted = model.predict(session.pool.X[rest])
            accuracies.append(
                float(np.mean(predicted == _as_labels(classes[codes[rest]], session)))
            )
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


def _as_labels(values: np.ndarray, session: Session) -> np.ndarray:
    if all(isinstance(c, int) for c in session.classes):
        return values.astype(np.int64)
    return values.astype(object)


def disagreement_by_subgroup(
    session: Session, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Rate at which the model's prediction (made before the label) differed from the human.

    Over labeled items that had a model prediction. Columns: column, subgroup, n,
    successes (disagreements), rate, low, high, small.
    """
    labeled = labeled_frame(session)
    labeled = labeled[labeled["suggestion"].notna()]
    return _per_subgroup(session, labeled, "disagree", columns)


def annotator_disagreement_by_subgroup(
    session: Session, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Share of items with two or more opinions whose opinions are not unanimous.

    Over items several annotators labeled (see `overlap`); columns as in
    `disagreement_by_subgroup`. Empty until a second annotator has labeled something.
    """
    opinions = session.opinions
    counts = opinions.groupby("item_id")["label"].agg(["size", "nunique"])
    shared = counts[counts["size"] >= 2]
    frame = pd.DataFrame(
        {
            "position": session.pool.positions(list(shared.index)) if len(shared) else [],
            "split": (shared["nunique"] > 1).to_numpy(),
        }
    )
    return _per_subgroup(session, frame, "split", columns)


def accuracy_by_subgroup(session: Session, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Model accuracy per subgroup, from the most honest source available.

    With a truth column: the current model on every unlabeled item with a truth value.
    Otherwise: the audit items (uniformly random; model prediction made before the label).
    Columns: column, subgroup, source, n, successes (correct), rate, low, high, small.
    """
    fit = session._fit
    if session.truth is not None and fit is not None:
        codes = session._truth_codes
        mask = ~session._labeled & (codes >= 0)
        frame = pd.DataFrame({"position": np.flatnonzero(mask)})
        frame["correct"] = fit.pool.suggestion[mask] == codes[mask]
        table = _per_subgroup(session, frame, "correct", columns)
        table.insert(2, "source", SOURCE_TRUTH)
        return table
    labeled = labeled_frame(session)
    audits = labeled[labeled["audit"] & labeled["suggestion"].notna()].copy()
    audits["correct"] = audits["suggestion"] == audits["label"]
    table = _per_subgroup(session, audits, "correct", columns)
    table.insert(2, "source", SOURCE_AUDIT)
    return table


def _per_subgroup(
    session: Session, frame: pd.DataFrame, outcome: str, columns: Sequence[str] | None
) -> pd.DataFrame:
    """Rates of a boolean outcome per subgroup, counted with bincount (fast at 1M rows).

    Same numbers as a pandas groupby over the subgroup labels, sorted by subgroup name.
    """
    out = ["column", "subgroup", "n", "successes", "rate", "low", "high", "small"]
    positions = frame["position"].to_numpy(dtype=np.intp)
    hits = frame[outcome].to_numpy(dtype=float)
    tables = []
    for column in columns if columns is not None else session.subgroups:
        codes, names = session.subgroup_codes(column)
        member = codes[positions]
        n = np.bincount(member, minlength=len(names))
        successes = np.bincount(member, weights=hits, minlength=len(names)).round().astype(int)
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


def uncertainty_distribution(session: Session, bins: int = 20) -> pd.DataFrame:
    """Histogram of query scores over the unlabeled pool (aggregated: size is fixed)."""
    fit = session._fit
    columns = ["bin_start", "bin_end", "count"]
    if fit is None:
        return pd.DataFrame(columns=columns)
    scores = fit.pool.scores[~session._labeled]
    if scores.size == 0:
        return pd.DataFrame(columns=columns)
    high = (
        max(1.0, float(scores.max()))
        if session.strategy.name != "entropy"
        else max(math.log(len(session.classes)), float(scores.max()))
    )
    low = min(0.0, float(scores.min()))
    counts, edges = np.histogram(scores, bins=bins, range=(low, high))
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "count": counts})


def uncertainty_trend(session: Session) -> pd.DataFrame:
    """Mean query score over the unlabeled pool after each refit."""
    rows = [(h.version, h.n_labels, h.mean_uncertainty) for h in session.history_]
    return pd.DataFrame(rows, columns=["model_version", "n_labels", "mean_uncertainty"])


def uncertainty_by_subgroup(
    session: Session, columns: Sequence[str] | None = None, threshold: float = ROUTING_THRESHOLD
) -> pd.DataFrame:
    """Per subgroup: unlabeled items, mean query score, items below the routing threshold.

    "below threshold" = the model's confidence is under `threshold`: a human would get it.
    """
    out = ["column", "subgroup", "unlabeled", "mean_score", "need_human", "threshold"]
    fit = session._fit
    if fit is None:
        return pd.DataFrame(columns=out)
    unlabeled = np.flatnonzero(~session._labeled)
    scores = fit.pool.scores[unlabeled]
    need = (fit.pool.confidence[unlabeled] < threshold).astype(float)
    tables = []
    for column in columns if columns is not None else session.subgroups:
        codes, names = session.subgroup_codes(column)
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
                "need_human": np.bincount(member, weights=need, minlength=len(names))[keep]
                .round()
                .astype(int),
                "threshold": threshold,
            }
        )
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=out)
    return pd.concat(tables, ignore_index=True)[out]


def label_balance(session: Session) -> pd.DataFrame:
    """Labels per class (every declared class, zeros included)."""
    counts = pd.Series([e.label for e in session.current_label_events()]).value_counts()
    return pd.DataFrame(
        {
            "label": [str(c) for c in session.classes],
            "n": [int(counts.get(str(c), 0)) for c in session.classes],
        }
    )


def coverage_by_subgroup(session: Session, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Labeled items per subgroup against the pool: where labeling has not looked yet."""
    out = ["column", "subgroup", "labeled", "total", "share"]
    tables = []
    for column in columns if columns is not None else session.subgroups:
        codes, names = session.subgroup_codes(column)
        total = np.bincount(codes, minlength=len(names))
        labeled = (
            np.bincount(codes, weights=session._labeled.astype(float), minlength=len(names))
            .round()
            .astype(int)
        )
        table = pd.DataFrame(
            {"column": column, "subgroup": names, "labeled": labeled, "total": total}
        )
        table = table[table["total"] > 0]
        table["share"] = table["labeled"] / table["total"]
        tables.append(table.reset_index(drop=True))
    if not tables:
        return pd.DataFrame(columns=out)
    return pd.concat(tables, ignore_index=True)[out]


def all_metrics(session: Session) -> dict[str, pd.DataFrame]:
    """Every table, by name (the charts draw from exactly these)."""
    return {
        "accuracy": accuracy_estimates(session),
        "accuracy_by_subgroup": accuracy_by_subgroup(session),
        "disagreement_by_subgroup": disagreement_by_subgroup(session),
        "annotator_disagreement_by_subgroup": annotator_disagreement_by_subgroup(session),
        "uncertainty_distribution": uncertainty_distribution(session),
        "uncertainty_trend": uncertainty_trend(session),
        "uncertainty_by_subgroup": uncertainty_by_subgroup(session),
        "label_balance": label_balance(session),
        "coverage_by_subgroup": coverage_by_subgroup(session),
    }
