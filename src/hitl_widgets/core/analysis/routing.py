"""Confidence routing: which items the model may label alone, and what that would cost.

Thresholds on the model's confidence split the unlabeled pool into auto-accept (the
model's label stands), review (a person labels it) and escalate (a senior or an
adjudicator does). Before trusting a threshold, `routing_curve` estimates for each
candidate threshold the automation rate and the accuracy of the auto-accepted part:
from the random audit sample (unbiased for the model at the time, with Wilson
intervals), from the model's own confidence (right only if it is calibrated), and from
the truth column when there is one.

`guaranteed_thresholds` picks a threshold with a stated guarantee instead: the lowest
one for which the error among auto-accepted items is at most `max_error` with
probability at least 1 - delta (selective classification with risk control: Geifman and
El-Yaniv 2017; Learn-then-Test, Angelopoulos et al. 2021). The evidence is the labels
the queue drew uniformly at random and showed without a suggestion (the audits:
scheduled ones, and with `explore` a share of the exploration draws kept as audits by
rejection, `queue.SlotDraws.kept_as_audit`), each scored by a model fitted without it
(cross-fitting, as in `estimates`), so they stand for unlabeled items seen by the
current model. Thresholds are tested from high to low on a grid fixed in advance, each
with an exact binomial test at level delta (Clopper-Pearson), and the walk stops at the
first failure: fixed-sequence testing needs no multiplicity correction, so the chosen
threshold keeps the guarantee. Too few labels give no threshold and an
estimate of how many more audit labels it would take, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import beta, binom

from ..config import check_share
from ..snapshot import Snapshot
from .estimates import FOLDS, cached_cross_fit, check_by, draws, labeled_rows, require_fit
from .intervals import wilson_interval

ROUTES = ("labeled", "auto", "review", "escalate")
# candidate thresholds, fixed before any label is seen: 0.9999 down to 0, denser near 1
GUARANTEE_GRID = np.round(1.0 - np.geomspace(1e-4, 1.0, 120), 6)
MAX_NEEDED = 100_000  # past this many audit labels "more labels" is not an answer


@dataclass(frozen=True)
class RoutingPolicy:
    """Confidence thresholds that decide who labels an item: the model or a person.

    threshold: auto-accept at or above it. per_class / per_subgroup: stricter
    thresholds for some suggested classes or slices (the strictest rule that applies
    wins; None for a slice: never auto-accept there, e.g. where no threshold could be
    guaranteed). escalate_below: a senior looks at items the model is this unsure of.
    impact / impact_limit: items whose `impact` column reaches the limit always go to
    a senior, however confident the model is.
    """

    threshold: float
    escalate_below: float | None = None
    per_class: Mapping[Any, float] = field(default_factory=dict)
    per_subgroup: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    impact: str | None = None
    impact_limit: float | None = None

    def __post_init__(self) -> None:
        check_share(self.threshold, "threshold")
        if self.escalate_below is not None:
            check_share(self.escalate_below, "escalate_below")
        for label, value in self.per_class.items():
            check_share(value, f"per_class[{label!r}]")
        for column, rules in self.per_subgroup.items():
            for subgroup, limit in rules.items():
                if limit is not None:
                    check_share(limit, f"per_subgroup[{column!r}][{subgroup!r}]")
        if self.impact is not None and self.impact_limit is None:
            raise ValueError("impact needs impact_limit: the value from which a person decides")

    def thresholds(self, snap: Snapshot) -> np.ndarray:
        """The auto-accept threshold that applies to each pool row (the strictest rule)."""
        fit = snap.fit
        cut = np.full(len(snap.pool), float(self.threshold))
        for label, value in self.per_class.items():
            if label not in snap.classes:
                raise ValueError(f"per_class names {label!r}, which is not a class")
            if fit is not None:
                index = snap.classes.index(label)
                cut = np.where(fit.pool.suggestion == index, np.maximum(cut, value), cut)
        for column, rules in self.per_subgroup.items():
            labels = snap.subgroup_labels(column).to_numpy()
            for subgroup, limit in rules.items():
                limit = np.inf if limit is None else limit
                cut = np.where(labels == str(subgroup), np.maximum(cut, limit), cut)
        return cut

    def high_impact(self, snap: Snapshot) -> np.ndarray:
        """Rows that always go to a senior, by the impact column."""
        if self.impact is None:
            return np.zeros(len(snap.pool), dtype=bool)
        if self.impact not in snap.data.columns:
            raise ValueError(f"impact column {self.impact!r} is not in the pool")
        return (snap.data[self.impact] >= self.impact_limit).to_numpy()

    def queue_cut(self, snap: Snapshot) -> np.ndarray:
        """Per row, the confidence below which a person is asked (inf: always a person)."""
        cut = self.thresholds(snap)
        cut[self.high_impact(snap)] = np.inf
        return cut


def route(snap: Snapshot, policy: RoutingPolicy) -> pd.DataFrame:
    """Every item with its route, final label and provenance.

    route: "labeled" (a person already labeled it), "auto" (confidence at or above the
    threshold: the model's suggestion is the final label), "review" (a person should
    label it) or "escalate" (confidence below `escalate_below`, or `impact` column at or
    above `impact_limit`: a senior should look). provenance: "human", "model", or None
    while pending. Items with high impact are never auto-accepted.
    """
    fit = snap.fit
    if fit is None:
        raise ValueError("routing needs a fitted model: label at least two classes first")
    n = len(snap.pool)
    cut = policy.thresholds(snap)
    confidence = fit.pool.confidence
    routes = np.where(confidence >= cut, "auto", "review").astype(object)
    routes[policy.high_impact(snap)] = "escalate"
    if policy.escalate_below is not None:
        routes[confidence < policy.escalate_below] = "escalate"
    labeled = snap.decided
    routes[labeled] = "labeled"
    classes = np.asarray(snap.classes, dtype=object)
    suggestion = classes[fit.pool.suggestion]
    final = np.full(n, None, dtype=object)
    final[routes == "auto"] = suggestion[routes == "auto"]
    provenance = np.full(n, None, dtype=object)
    provenance[routes == "auto"] = "model"
    keys = list(snap.current)
    positions = snap.positions(keys)
    final[positions] = [snap.config.class_of(snap.current[k].label) for k in keys]
    provenance[positions] = "human"
    frame = pd.DataFrame(
        {
            "route": routes,
            "label": final,
            "provenance": provenance,
            "suggestion": suggestion,
            "confidence": confidence,
            "threshold": cut,
        },
        index=snap.pool.ids.copy(),
    )
    frame.index.name = snap.index_name
    return frame


def routing_curve(
    snap: Snapshot,
    thresholds: Sequence[float] | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """For each threshold: automation rate and expected accuracy of the auto-accepted part.

    Columns: [subgroup,] threshold, automation_rate, auto_n, calibrated_accuracy (mean
    confidence of auto-accepted items: honest only if the model is calibrated),
    audit_accuracy, audit_low, audit_high, audit_n (random audit labels whose
    confidence at labeling time was at or above the threshold), truth_accuracy (when a
    truth column exists).
    """
    fit = snap.fit
    if fit is None:
        raise ValueError("routing needs a fitted model: label at least two classes first")
    grid = (
        np.round(np.linspace(0.5, 0.99, 50), 3)
        if thresholds is None
        else np.asarray(thresholds, dtype=float)
    )
    unlabeled = ~snap.decided
    confidence = fit.pool.confidence
    audits = _audit_table(snap, [by] if by else [])
    truth = snap.truth_codes
    groups: list[tuple[str | None, np.ndarray]] = [(None, np.ones(len(snap.pool), bool))]
    if by is not None:
        labels = snap.subgroup_labels(by).to_numpy()
        groups = [(str(g), labels == g) for g in sorted(set(labels))]
    rows = []
    for name, members in groups:
        pool = unlabeled & members
        pool_n = int(pool.sum())
        group_audits = audits[audits["subgroup_" + by] == name] if by else audits
        for t in grid:
            auto = pool & (confidence >= t)
            auto_n = int(auto.sum())
            passed = group_audits[group_audits["confidence"] >= t]
            hits, audit_n = int(passed["correct"].sum()), len(passed)
            low, high = wilson_interval(hits, audit_n)
            truth_accuracy = np.nan
            if truth is not None:
                known = auto & (truth >= 0)
                if known.any():
                    truth_accuracy = float(np.mean(fit.pool.suggestion[known] == truth[known]))
            rows.append(
                {
                    "subgroup": name,
                    "threshold": float(t),
                    "automation_rate": auto_n / pool_n if pool_n else np.nan,
                    "auto_n": auto_n,
                    "calibrated_accuracy": float(confidence[auto].mean()) if auto_n else np.nan,
                    "audit_accuracy": hits / audit_n if audit_n else np.nan,
                    "audit_low": float(low),
                    "audit_high": float(high),
                    "audit_n": audit_n,
                    "truth_accuracy": truth_accuracy,
                }
            )
    frame = pd.DataFrame(rows)
    return frame if by is not None else frame.drop(columns="subgroup")


def _audit_table(snap: Snapshot, columns: Sequence[str]) -> pd.DataFrame:
    """Audit labels with the model's confidence and correctness at labeling time."""
    current = snap.current
    rows = [
        (e.item_id, e.suggestion_confidence, e.suggestion == current[e.item_id].label)
        for e in snap.log
        if e.action == "label" and e.audit and e.suggestion is not None and e.item_id in current
    ]
    frame = pd.DataFrame(rows, columns=["item_id", "confidence", "correct"])
    frame = frame.drop_duplicates("item_id", keep="last")
    for column in columns:
        labels = snap.subgroup_labels(column).to_numpy()
        frame["subgroup_" + column] = labels[snap.positions(frame["item_id"].tolist())]
    return frame


# ---------------------------------------------------------------------- guarantees
def guaranteed_thresholds(
    snap: Snapshot,
    max_error: float = 0.05,
    delta: float = 0.1,
    by: str | None = None,
    folds: int = FOLDS,
) -> pd.DataFrame:
    """The lowest threshold whose auto-accepted error is at most max_error w.p. >= 1 - delta.

    One row overall, or one per subgroup of `by` (each subgroup's guarantee holds with
    probability 1 - delta on its own). Columns: [subgroup,] threshold (NaN: none can
    be guaranteed yet), automation_rate and auto_n (unlabeled items at or above it),
    error_bound (the 1 - delta upper bound on their error), audit_n and audit_errors
    (uniformly drawn labels at or above it, and how many the model got wrong),
    max_error, delta, labels_needed (more uniformly drawn labels needed before a
    threshold can be guaranteed; 0 when one is), note (plain words).
    """
    max_error = _open_share(max_error, "max_error")
    delta = _open_share(delta, "delta")
    check_by(snap, by)
    require_fit(snap)
    fit = snap.fit
    assert fit is not None
    confidence, correct, positions, rate = _uniform_evidence(snap, folds)
    unlabeled = ~snap.decided
    groups: list[tuple[str | None, np.ndarray]] = [(None, np.ones(len(snap.pool), bool))]
    if by is not None:
        labels = snap.subgroup_labels(by).to_numpy()
        groups = [(str(g), labels == g) for g in sorted(set(labels.tolist()))]
    rows = []
    for name, members in groups:
        inside = members[positions]
        row = _certify(confidence[inside], correct[inside], max_error, delta)
        pool = unlabeled & members
        auto = pool & (fit.pool.confidence >= row["threshold"])  # NaN threshold: none
        row["auto_n"] = int(auto.sum())
        row["automation_rate"] = auto.sum() / pool.sum() if pool.any() else np.nan
        row["note"] = _guarantee_note(row, max_error, delta, rate)
        rows.append({"subgroup": name} | row)
    columns = [
        "subgroup",
        "threshold",
        "automation_rate",
        "auto_n",
        "error_bound",
        "audit_n",
        "audit_errors",
        "max_error",
        "delta",
        "labels_needed",
        "note",
    ]
    frame = pd.DataFrame(rows)
    frame["max_error"], frame["delta"] = max_error, delta
    return frame[columns] if by is not None else frame[columns[1:]]


def route_pool(
    snap: Snapshot,
    rules: RoutingPolicy,
    threshold: float | None,
    max_error: float | None,
    delta: float,
    by: str | None,
) -> tuple[pd.DataFrame, RoutingPolicy]:
    """`Session.route`: the routing table, and the policy that made it.

    Takes `threshold` (kept in `rules`), or `max_error` (with `delta` and `by`): then
    the guaranteed threshold(s) replace it and `table.attrs["guarantee"]` holds the
    evidence (see `guaranteed_thresholds`).
    """
    if (threshold is None) == (max_error is None) or (by is not None and max_error is None):
        raise ValueError("route takes a threshold, or max_error (with delta and by)")
    if max_error is None:
        return route(snap, rules), rules
    policy, guarantee = guaranteed_policy(snap, rules, max_error, delta, by)
    table = route(snap, policy)
    table.attrs["guarantee"] = guarantee
    return table, policy


def guaranteed_policy(
    snap: Snapshot,
    rules: RoutingPolicy,
    max_error: float,
    delta: float,
    by: str | None = None,
) -> tuple[RoutingPolicy, pd.DataFrame]:
    """`rules` with the guaranteed threshold(s) in place of its own, and the evidence.

    With `by`, subgroups without a guaranteed threshold are never auto-accepted. If no
    threshold can be guaranteed anywhere, a ValueError says how many labels are missing.
    The other rules (per class, escalation, impact) only send more items to people;
    the guarantee is for the threshold rule: the items such rules take out of the
    auto-accepted part could have been its easy ones.
    """
    table = guaranteed_thresholds(snap, max_error, delta, by)
    found = table["threshold"].notna()
    if not found.any():
        raise ValueError(" | ".join(table["note"]))
    if by is None:
        return replace(rules, threshold=float(table["threshold"].iloc[0])), table
    cuts = {
        str(g): (None if pd.isna(t) else float(t))
        for g, t in zip(table["subgroup"], table["threshold"], strict=True)
    }
    floor = float(table.loc[found, "threshold"].min())
    per_subgroup = {**rules.per_subgroup, by: cuts}
    return replace(rules, threshold=floor, per_subgroup=per_subgroup), table


def _open_share(value: Any, name: str) -> float:
    number = check_share(value, name)
    if not 0.0 < number < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return number


def _uniform_evidence(
    snap: Snapshot, folds: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Cross-fitted confidence and correctness of the uniformly drawn labels, their rows,
    and the share of the session's draws that were kept as uniform ones.

    Uniform draws (`Design.uniform_subset`): the audits drawn from every unlabeled
    item, scheduled or kept from exploration. Each is judged by a model fitted without it.
    """
    rows = labeled_rows(snap)
    proba = cached_cross_fit(snap, rows, folds)
    design = draws(snap, rows)
    kept = design.uniform_subset()
    index = design.rows[kept]
    correct = proba[index].argmax(axis=1) == rows.labels[index]
    rate = float(kept.mean()) if len(kept) else snap.config.audit_share
    return proba[index].max(axis=1), correct, rows.positions[index], rate


def _certify(
    confidence: np.ndarray, correct: np.ndarray, max_error: float, delta: float
) -> dict[str, Any]:
    """Fixed-sequence binomial tests from the highest threshold down (Learn-then-Test)."""
    at_least = np.ceil(np.log(delta) / np.log1p(-max_error))  # n that 0 errors can pass
    counts = (confidence[None, :] >= GUARANTEE_GRID[:, None]).sum(axis=1)
    errors = ((confidence[None, :] >= GUARANTEE_GRID[:, None]) & ~correct).sum(axis=1)
    start = int(np.argmax(counts >= at_least)) if (counts >= at_least).any() else len(counts)
    chosen = None
    for i in range(start, len(GUARANTEE_GRID)):
        if binom.cdf(errors[i], counts[i], max_error) > delta:
            break
        chosen = i
    if chosen is None:
        return {
            "threshold": np.nan,
            "error_bound": np.nan,
            "audit_n": int(counts[start]) if start < len(counts) else 0,
            "audit_errors": int(errors[start]) if start < len(counts) else 0,
            "labels_needed": _labels_needed(counts, errors, len(confidence), max_error, delta),
        }
    return {
        "threshold": float(GUARANTEE_GRID[chosen]),
        "error_bound": float(
            beta.ppf(1 - delta, errors[chosen] + 1, counts[chosen] - errors[chosen])
        ),
        "audit_n": int(counts[chosen]),
        "audit_errors": int(errors[chosen]),
        "labels_needed": 0,
    }


def _labels_needed(
    counts: np.ndarray, errors: np.ndarray, total: int, max_error: float, delta: float
) -> int:
    """About how many more uniform labels until some threshold passes, at the error rates
    seen so far; -1 when the labels already show the error is above max_error even at
    the highest confidence (the exact lower bound there exceeds it)."""
    at_least = int(np.ceil(np.log(delta) / np.log1p(-max_error)))  # all right, this many
    sizes = np.unique(np.geomspace(1, MAX_NEEDED, 600).astype(int))  # "about": 1.5% steps
    best = MAX_NEEDED + 1
    for n, k in sorted(set(zip(counts.tolist(), errors.tolist(), strict=True))):
        if n == 0 or k / n >= max_error:
            continue
        passing = binom.cdf(np.floor(k / n * sizes), sizes, max_error) <= delta
        if passing.any():  # that many above the threshold, at its share of the labels
            best = min(best, int(np.ceil(sizes[np.argmax(passing)] * total / n)) - total)
    if best <= MAX_NEEDED:
        return max(best, 1)
    seen = counts > 0
    if seen.any():
        n, k = int(counts[np.argmax(seen)]), int(errors[np.argmax(seen)])
        if k and beta.ppf(delta, k, n - k + 1) > max_error:
            return -1
    return at_least


def _guarantee_note(row: dict[str, Any], max_error: float, delta: float, rate: float) -> str:
    """Plain words for one guarantee row; rate: uniformly drawn labels per label so far."""
    if not np.isnan(row["threshold"]):
        return (
            f"auto-accept at confidence >= {row['threshold']:.4g}: with probability at least "
            f"{1 - delta:.0%} the error among the {row['auto_n']} auto-accepted items is at "
            f"most {max_error:g} ({row['audit_errors']} of {row['audit_n']} uniformly drawn "
            f"labels at that confidence were wrong; upper bound {row['error_bound']:.3f})"
        )
    needed = row["labels_needed"]
    if needed < 0:
        return (
            f"no threshold can be guaranteed: the model is wrong more often than {max_error:g} "
            "even on its most confident uniformly drawn labels; improve the model first"
        )
    more = (
        f" (uniformly drawn; about {int(np.ceil(needed / rate))} more labels at this "
        f"session's rate of {rate:.2g} uniform draws per label)"
        if rate > 0
        else ""
    )
    return f"not enough labels to guarantee this yet: about {needed} more audit labels needed{more}"
