"""Confidence routing: which items the model may label alone, and what that would cost.

Thresholds on the model's confidence split the unlabeled pool into auto-accept (the
model's label stands), review (a person labels it) and escalate (a senior or an
adjudicator does). Before trusting a threshold, `routing_curve` estimates for each
candidate threshold the automation rate and the accuracy of the auto-accepted part:
from the random audit sample (unbiased for the model at the time, with Wilson
intervals), from the model's own confidence (right only if it is calibrated), and from
the truth column when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .metrics import wilson_interval

if TYPE_CHECKING:
    from .session import Session

ROUTES = ("labeled", "auto", "review", "escalate")


def thresholds_per_item(
    session: Session,
    threshold: float,
    per_class: Mapping[Any, float] | None = None,
    per_subgroup: Mapping[str, Mapping[str, float]] | None = None,
) -> np.ndarray:
    """The auto-accept threshold that applies to each pool row.

    The strictest rule wins: a row gets the maximum of the global threshold, its
    suggested class's threshold and its subgroups' thresholds.
    """
    fit = session._fit
    cut = np.full(len(session.pool), float(threshold))
    if per_class and fit is not None:
        for label, value in per_class.items():
            if label not in session.classes:
                raise ValueError(f"per_class names {label!r}, which is not a class")
            index = session.classes.index(label)
            cut = np.where(fit.pool.suggestion == index, np.maximum(cut, value), cut)
    for column, rules in (per_subgroup or {}).items():
        labels = session.subgroup_labels(column).to_numpy()
        for subgroup, value in rules.items():
            cut = np.where(labels == str(subgroup), np.maximum(cut, value), cut)
    return cut


def route(
    session: Session,
    threshold: float,
    *,
    escalate_below: float | None = None,
    per_class: Mapping[Any, float] | None = None,
    per_subgroup: Mapping[str, Mapping[str, float]] | None = None,
    impact: str | None = None,
    impact_limit: float | None = None,
) -> pd.DataFrame:
    """Every item with its route, final label and provenance.

    route: "labeled" (a person already labeled it), "auto" (confidence at or above the
    threshold: the model's suggestion is the final label), "review" (a person should
    label it) or "escalate" (confidence below `escalate_below`, or `impact` column at or
    above `impact_limit`: a senior should look). provenance: "human", "model", or None
    while pending. Items with high impact are never auto-accepted.
    """
    _check_threshold(threshold, "threshold")
    fit = session._fit
    if fit is None:
        raise ValueError("routing needs a fitted model: label at least two classes first")
    n = len(session.pool)
    cut = thresholds_per_item(session, threshold, per_class, per_subgroup)
    confidence = fit.pool.confidence
    high_impact = np.zeros(n, dtype=bool)
    if impact is not None:
        if impact not in session.data.columns:
            raise ValueError(f"impact column {impact!r} is not in the pool")
        if impact_limit is None:
            raise ValueError("impact needs impact_limit: the value from which a person decides")
        high_impact = (session.data[impact] >= impact_limit).to_numpy()
    routes = np.where(confidence >= cut, "auto", "review").astype(object)
    routes[high_impact] = "escalate"
    if escalate_below is not None:
        _check_threshold(escalate_below, "escalate_below")
        routes[confidence < escalate_below] = "escalate"
    labeled = session._labeled.copy()
    routes[labeled] = "labeled"
    classes = np.asarray(session.classes, dtype=object)
    suggestion = classes[fit.pool.suggestion]
    final = np.full(n, None, dtype=object)
    final[routes == "auto"] = suggestion[routes == "auto"]
    provenance = np.full(n, None, dtype=object)
    provenance[routes == "auto"] = "model"
    current = {e.item_id: e.label for e in session.current_label_events()}
    human = session._class_by_text
    for position in np.flatnonzero(labeled):
        final[position] = human[current[str(session.pool.ids[position])]]
        provenance[position] = "human"
    frame = pd.DataFrame(
        {
            "route": routes,
            "label": final,
            "provenance": provenance,
            "suggestion": suggestion,
            "confidence": confidence,
            "threshold": cut,
        },
        index=session.pool.ids.copy(),
    )
    frame.index.name = session.data.index.name or "item_id"
    return frame


def routing_curve(
    session: Session,
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
    fit = session._fit
    if fit is None:
        raise ValueError("routing needs a fitted model: label at least two classes first")
    grid = (
        np.round(np.linspace(0.5, 0.99, 50), 3)
        if thresholds is None
        else np.asarray(thresholds, dtype=float)
    )
    unlabeled = ~session._labeled
    confidence = fit.pool.confidence
    audits = _audit_table(session, [by] if by else [])
    truth = session._truth_codes
    groups: list[tuple[str | None, np.ndarray]] = [(None, np.ones(len(session.pool), bool))]
    if by is not None:
        labels = session.subgroup_labels(by).to_numpy()
        groups = [(str(g), labels == g) for g in sorted(set(labels))]
    rows = []
    for name, members in groups:
        pool = unlabeled & members
        pool_n = int(pool.sum())
        group_audits = audits[audits["subgroup_" + by].eq(name)] if by else audits
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


def _audit_table(session: Session, columns: Sequence[str]) -> pd.DataFrame:
    """Audit labels with the model's confidence and correctness at labeling time."""
    current = {e.item_id: e for e in session.current_label_events()}
    rows = [
        (e.item_id, e.suggestion_confidence, e.suggestion == current[e.item_id].label)
        for e in session.event_log()
        if e.action == "label" and e.audit and e.suggestion is not None and e.item_id in current
    ]
    frame = pd.DataFrame(rows, columns=["item_id", "confidence", "correct"])
    frame = frame.drop_duplicates("item_id", keep="last")
    for column in columns:
        labels = session.subgroup_labels(column)
        ids = [int(i) if session.pool.int_ids else i for i in frame["item_id"]]
        frame["subgroup_" + column] = labels.to_numpy()[session.pool.positions(ids)] if ids else []
    return frame


def _check_threshold(value: float, name: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a confidence between 0 and 1, got {value!r}")
