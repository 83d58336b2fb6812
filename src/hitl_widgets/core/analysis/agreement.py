"""How far annotators agree with each other, with a consensus, and with the model.

A label set is only as good as the agreement behind it: if two people given the same item
pick different classes a fifth of the time, no model trained on their labels can be
trusted beyond that. Everything here works on a long table of *opinions*, one row per
(item_id, annotator) with that annotator's current label, and treats labels as nominal
(unordered categories; "neg" is no closer to "neutral" than to "pos").

Three chance-corrected coefficients are reported because they answer different questions:

- Cohen's kappa, per pair of annotators, on the items both labeled: who disagrees with whom.
- Fleiss' kappa: one number for a panel in which every item has the same number of raters.
- Krippendorff's alpha: one number for the realistic case where each item was labeled by
  whichever annotators got to it (any subset, any count); it is the coefficient to quote.

Undefined values are NaN, never 0: a coefficient with no variation to correct for (every
opinion the same class) or no pairable items says "not measurable", not "no agreement".
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..subgroups import MISSING, subgroup_labels
from .intervals import SMALL_GROUP, wilson_interval

OPINION_COLUMNS = ("item_id", "annotator", "label")
OVERALL = "(all)"
RUBBER_STAMP_MARGIN = 0.10  # shown acceptance must beat blind agreement by this much ...
RUBBER_STAMP_ALPHA = 0.05  # ... and the one-sided two-proportion z test must reject at this level


# ---------------------------------------------------------------------- input
def _opinions(opinions: pd.DataFrame) -> pd.DataFrame:
    """Validated copy: the three columns, missing labels dropped, one row per pair.

    A missing label is no opinion (the annotator skipped or has not seen the item). Two
    rows for the same (item, annotator) are refused rather than guessed between: pass the
    current label only (the store keeps the history, not this table).
    """
    missing = [c for c in OPINION_COLUMNS if c not in opinions.columns]
    if missing:
        raise ValueError(f"opinions needs the columns {list(OPINION_COLUMNS)}; missing {missing}")
    frame = opinions.loc[opinions["label"].notna(), list(OPINION_COLUMNS)]
    duplicated = frame.duplicated(["item_id", "annotator"], keep=False)
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise ValueError(
            f"{int(duplicated.sum())} rows repeat an (item_id, annotator) pair, e.g. item "
            f"{first['item_id']!r} by {first['annotator']!r}; pass one current label per pair"
        )
    return frame.reset_index(drop=True)


def _counts(frame: pd.DataFrame) -> np.ndarray:
    """Items x categories matrix of how many opinions put each item in each category."""
    if frame.empty:
        return np.zeros((0, 0))
    items, _ = pd.factorize(frame["item_id"])
    labels, uniques = pd.factorize(frame["label"])
    counts = np.zeros((items.max() + 1, len(uniques)))
    np.add.at(counts, (items, labels), 1)
    return counts


# ---------------------------------------------------------------------- pairwise
def cohen_kappa_pairs(opinions: pd.DataFrame) -> pd.DataFrame:
    """Cohen's kappa for every pair of annotators that labeled at least one item in common.

    Computed on the shared items only, so each number is exactly
    `sklearn.metrics.cohen_kappa_score` on those items. Kappa is NaN when chance agreement
    is 1 (both annotators used one and the same class throughout): there is nothing to
    correct for, and "perfect" would overstate a handful of identical easy items.

    Columns: annotator_a, annotator_b, n_items, kappa, agreement (raw share of equal labels).
    """
    columns = ["annotator_a", "annotator_b", "n_items", "kappa", "agreement"]
    frame = _opinions(opinions)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    codes, uniques = pd.factorize(frame["label"])
    wide = (
        frame.assign(code=codes)
        .pivot(index="item_id", columns="annotator", values="code")
        .sort_index(axis=1)
    )
    matrix = wide.to_numpy(dtype=float)
    k = len(uniques)
    rows = []
    for i, j in combinations(range(matrix.shape[1]), 2):
        shared = ~np.isnan(matrix[:, i]) & ~np.isnan(matrix[:, j])
        n = int(shared.sum())
        if n == 0:
            continue
        a = matrix[shared, i].astype(int)
        b = matrix[shared, j].astype(int)
        observed = float(np.mean(a == b))
        chance = float(np.bincount(a, minlength=k) @ np.bincount(b, minlength=k)) / n**2
        kappa = (observed - chance) / (1 - chance) if chance < 1 else math.nan
        rows.append((wide.columns[i], wide.columns[j], n, kappa, observed))
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------- panels
def fleiss_kappa(opinions: pd.DataFrame) -> float:
    """Fleiss' kappa (1971) on the items rated by the modal number of raters m >= 2.

    Fleiss' statistic is defined for a constant number of raters per item; its chance term
    weights every item equally on that assumption. Rather than bend it (the "generalized"
    variants weight items inconsistently), it is computed exactly as defined, on the items
    having the most common rater count (ties: the larger m, which keeps more opinions). Use
    `krippendorff_alpha` for a coefficient over every pairable item; `agreement_table`
    reports how many items the Fleiss value rests on.
    """
    return _fleiss(_opinions(opinions))[0]


def _fleiss(frame: pd.DataFrame) -> tuple[float, int, int]:
    """(kappa, n items used, m) for a validated opinion frame; NaN if not computable."""
    counts = _counts(frame)
    raters = counts.sum(axis=1) if counts.size else np.zeros(0)
    eligible = raters[raters >= 2].astype(int)
    if eligible.size == 0:
        return math.nan, 0, 0
    values, frequency = np.unique(eligible, return_counts=True)
    m = int(values[frequency == frequency.max()].max())
    used = counts[raters == m]
    per_item = (np.sum(used * (used - 1), axis=1)) / (m * (m - 1))
    observed = float(per_item.mean())
    shares = used.sum(axis=0) / used.sum()
    chance = float(np.sum(shares**2))
    kappa = (observed - chance) / (1 - chance) if chance < 1 else math.nan
    return kappa, len(used), m


def krippendorff_alpha(opinions: pd.DataFrame) -> float:
    """Krippendorff's alpha for nominal labels, any raters per item, via the coincidence matrix.

    Each item u with m_u >= 2 opinions contributes its m_u (m_u - 1) ordered pairs of
    opinions, weighted 1 / (m_u - 1) so that every pairable opinion counts once; items with
    a single opinion cannot be compared and are dropped. With o the coincidence matrix,
    n_c its margins and n the number of pairable opinions:

        alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k

    NaN when fewer than two categories occur among pairable opinions (no variation).
    Matches Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C.
    """
    counts = _counts(_opinions(opinions))
    if counts.size == 0:
        return math.nan
    raters = counts.sum(axis=1)
    counts, raters = counts[raters >= 2], raters[raters >= 2]
    if counts.size == 0:
        return math.nan
    weighted = counts / (raters - 1)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    margins = coincidence.sum(axis=1)
    n = margins.sum()
    expected = n**2 - np.sum(margins**2)  # sum over c != k of n_c n_k
    if expected <= 0:
        return math.nan
    observed = n - np.trace(coincidence)  # sum over c != k of o_ck
    return float(1 - (n - 1) * observed / expected)


def agreement_table(opinions: pd.DataFrame, subgroups: pd.Series | None = None) -> pd.DataFrame:
    """Agreement overall and per subgroup: where the labels can be trusted and where not.

    `subgroups` maps item_id (its index) to a subgroup value; numeric columns with many
    values are binned exactly as everywhere else (`subgroups.subgroup_labels`), items it
    does not cover fall in "(missing)". mean_pairwise_kappa is the unweighted mean of the
    defined pairwise Cohen's kappas (Light's kappa) over n_pairs pairs; fleiss_kappa rests
    on fleiss_items items with fleiss_m raters each; `small` marks fewer than SMALL_GROUP
    items, too few to rank subgroups on.

    Columns: scope ("overall" or "subgroup"), subgroup, n_items, n_annotators, n_opinions,
    mean_pairwise_kappa, n_pairs, fleiss_kappa, fleiss_items, fleiss_m, krippendorff_alpha,
    small.
    """
    frame = _opinions(opinions)
    rows = [("overall", OVERALL, *_agreement_row(frame))]
    if subgroups is not None:
        labels = subgroup_labels(subgroups)
        groups = frame["item_id"].map(labels).fillna(MISSING)
        for name, part in frame.groupby(groups.to_numpy(), sort=True):
            rows.append(("subgroup", name, *_agreement_row(part)))
    columns = [
        "scope",
        "subgroup",
        "n_items",
        "n_annotators",
        "n_opinions",
        "mean_pairwise_kappa",
        "n_pairs",
        "fleiss_kappa",
        "fleiss_items",
        "fleiss_m",
        "krippendorff_alpha",
    ]
    table = pd.DataFrame(rows, columns=columns)
    table["small"] = table["n_items"] < SMALL_GROUP
    return table


def _agreement_row(frame: pd.DataFrame) -> tuple:
    pairs = cohen_kappa_pairs(frame)
    kappas = pairs["kappa"].dropna() if len(pairs) else pd.Series(dtype=float)
    fleiss, fleiss_items, fleiss_m = _fleiss(frame)
    return (
        int(frame["item_id"].nunique()),
        int(frame["annotator"].nunique()),
        len(frame),
        float(kappas.mean()) if len(kappas) else math.nan,
        len(kappas),
        fleiss,
        fleiss_items,
        fleiss_m,
        krippendorff_alpha(frame),
    )


# ---------------------------------------------------------------------- consensus
def consensus(opinions: pd.DataFrame, method: str = "majority") -> pd.DataFrame:
    """One label per item by majority vote; ties get no label and need adjudication.

    A tie is not broken silently (alphabetically, by seniority, at random): whichever rule
    breaks it becomes an undocumented labeling policy. label is None for ties.

    Columns: item_id, label, n_opinions, agreement (share of opinions for the top label),
    tie.
    """
    if method != "majority":
        raise ValueError(f"unknown consensus method {method!r}; only 'majority' is implemented")
    columns = ["item_id", "label", "n_opinions", "agreement", "tie"]
    frame = _opinions(opinions)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    votes = frame.groupby(["item_id", "label"], sort=False).size().rename("votes").reset_index()
    votes["n_opinions"] = votes.groupby("item_id", sort=False)["votes"].transform("sum")
    votes["top"] = votes.groupby("item_id", sort=False)["votes"].transform("max")
    winners = votes[votes["votes"] == votes["top"]]
    n_winners = winners.groupby("item_id", sort=True)["label"].size()
    first = winners.groupby("item_id", sort=True).first()
    tie = n_winners > 1
    labels = first["label"].to_numpy(dtype=object).copy()
    labels[tie.to_numpy()] = None
    table = pd.DataFrame(
        {
            "item_id": first.index,
            "label": pd.Series(labels, dtype=object),  # object: None stays None, not NaN
            "n_opinions": first["n_opinions"].astype(int).to_numpy(),
            "agreement": (first["top"] / first["n_opinions"]).to_numpy(),
            "tie": tie.to_numpy(),
        }
    )
    return table[columns]


def disagreements(opinions: pd.DataFrame) -> pd.Index:
    """Ids of the items whose opinions are not unanimous (sorted; single opinions excluded)."""
    frame = _opinions(opinions)
    distinct = frame.groupby("item_id", sort=True)["label"].nunique()
    return pd.Index(distinct.index[distinct > 1], name="item_id")


# ---------------------------------------------------------------------- annotators
def annotator_report(
    opinions: pd.DataFrame,
    consensus: pd.Series,
    model_predictions: pd.DataFrame | None = None,
    *,
    margin: float = RUBBER_STAMP_MARGIN,
    alpha: float = RUBBER_STAMP_ALPHA,
    min_n: int = SMALL_GROUP,
) -> pd.DataFrame:
    """Per annotator: agreement with the consensus, and whether they rubber-stamp the model.

    One row per annotator in `opinions` (sorted); events of other annotators are ignored.

    `consensus` maps item_id to the reference label (e.g. `consensus(opinions)` indexed by
    item_id, or adjudicated labels); items where it is missing (ties) are not compared.
    A majority consensus includes the annotator's own vote, so with few raters per item
    their agreement is biased upwards: adjudicated or gold labels give the honest number.

    Rubber-stamping needs label events with columns annotator, label, suggestion,
    suggestion_shown (`Snapshot.labeled` has them): `model_predictions`, or `opinions`
    itself when it has those columns. Events with no suggestion are ignored. For each
    annotator, shown_acceptance is the share of labels equal to the model's suggestion when
    it was on screen, blind_agreement the same share when the suggestion was recorded but
    hidden. If the two are comparable samples, the gap is what showing the suggestion did.

    Rule: rubber_stamp_flag is True when both samples have at least `min_n` events, the gap
    shown_acceptance - blind_agreement exceeds `margin`, and a one-sided pooled
    two-proportion z test of "shown > blind" has p < `alpha`. The margin keeps a
    statistically real but harmless gap from flagging someone; the test keeps a large gap
    on a dozen items from doing so. Caveat: blind mode is chosen per session, not per item;
    if blind and shown periods differ in model quality or item difficulty, so will these
    rates for reasons that are not deference. A flag is a prompt to look, not a verdict.

    Columns: annotator, n_labels, n_compared, consensus_agreed, consensus_rate,
    consensus_low, consensus_high, n_shown, shown_accepted, shown_acceptance, shown_low,
    shown_high, n_blind, blind_agreed, blind_agreement, blind_low, blind_high, gap,
    p_value, rubber_stamp_flag.
    """
    frame = _opinions(opinions)
    reference = frame["item_id"].map(consensus)
    compared = frame.assign(agreed=frame["label"] == reference)[reference.notna().to_numpy()]
    per = pd.DataFrame(index=pd.Index(sorted(frame["annotator"].unique()), name="annotator"))
    per["n_labels"] = frame.groupby("annotator").size()
    per["n_compared"] = compared.groupby("annotator").size()
    per["consensus_agreed"] = compared.groupby("annotator")["agreed"].sum()
    per = per.fillna(0).astype(int)
    per["consensus_rate"] = per["consensus_agreed"] / per["n_compared"].where(per["n_compared"] > 0)
    per["consensus_low"], per["consensus_high"] = wilson_interval(
        per["consensus_agreed"], per["n_compared"]
    )

    events = model_predictions
    if events is None and {"suggestion", "suggestion_shown"} <= set(opinions.columns):
        events = opinions
    per = per.join(_suggestion_rates(events, per.index), how="left")
    for column in ("n_shown", "shown_accepted", "n_blind", "blind_agreed"):
        per[column] = per[column].fillna(0).astype(int)
    per["shown_acceptance"] = per["shown_accepted"] / per["n_shown"].where(per["n_shown"] > 0)
    per["blind_agreement"] = per["blind_agreed"] / per["n_blind"].where(per["n_blind"] > 0)
    per["shown_low"], per["shown_high"] = wilson_interval(per["shown_accepted"], per["n_shown"])
    per["blind_low"], per["blind_high"] = wilson_interval(per["blind_agreed"], per["n_blind"])
    per["gap"] = per["shown_acceptance"] - per["blind_agreement"]
    per["p_value"] = [
        _one_sided_z(a, n1, b, n2)
        for a, n1, b, n2 in zip(
            per["shown_accepted"], per["n_shown"], per["blind_agreed"], per["n_blind"], strict=True
        )
    ]
    per["rubber_stamp_flag"] = (
        (per["n_shown"] >= min_n)
        & (per["n_blind"] >= min_n)
        & (per["gap"] > margin)
        & (per["p_value"] < alpha)
    ).astype(bool)
    columns = [
        "annotator",
        "n_labels",
        "n_compared",
        "consensus_agreed",
        "consensus_rate",
        "consensus_low",
        "consensus_high",
        "n_shown",
        "shown_accepted",
        "shown_acceptance",
        "shown_low",
        "shown_high",
        "n_blind",
        "blind_agreed",
        "blind_agreement",
        "blind_low",
        "blind_high",
        "gap",
        "p_value",
        "rubber_stamp_flag",
    ]
    return per.reset_index()[columns]


def _suggestion_rates(events: pd.DataFrame | None, annotators: pd.Index) -> pd.DataFrame:
    """Per annotator: events with the suggestion shown / hidden, and how many matched it."""
    columns = ["n_shown", "shown_accepted", "n_blind", "blind_agreed"]
    if events is None:
        return pd.DataFrame(np.nan, index=annotators, columns=columns)
    needed = ["annotator", "label", "suggestion", "suggestion_shown"]
    missing = [c for c in needed if c not in events.columns]
    if missing:
        raise ValueError(f"model_predictions needs the columns {needed}; missing {missing}")
    usable = events[events["suggestion"].notna() & events["label"].notna()]
    shown = usable["suggestion_shown"].fillna(False).astype(bool)
    matched = usable["label"] == usable["suggestion"]
    table = pd.DataFrame(
        {
            "annotator": usable["annotator"],
            "shown": shown,
            "shown_match": shown & matched,
            "blind": ~shown,
            "blind_match": ~shown & matched,
        }
    )
    sums = table.groupby("annotator").sum()
    result = pd.DataFrame(
        {
            "n_shown": sums["shown"],
            "shown_accepted": sums["shown_match"],
            "n_blind": sums["blind"],
            "blind_agreed": sums["blind_match"],
        }
    )
    return result.reindex(annotators)


def _one_sided_z(successes_1: int, n_1: int, successes_2: int, n_2: int) -> float:
    """p-value of the pooled two-proportion z test of p1 > p2; NaN if undefined."""
    if n_1 == 0 or n_2 == 0:
        return math.nan
    pooled = (successes_1 + successes_2) / (n_1 + n_2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_1 + 1 / n_2))
    difference = successes_1 / n_1 - successes_2 / n_2
    if spread == 0:
        return math.nan
    return float(norm.sf(difference / spread))
