"""Picking the next items: top k by score, ties broken by a seeded random key.

This is the one place where ranking happens, for every strategy. It never sorts the
whole pool: `argpartition` finds the k best in linear time, so a 1M-row pool costs
a few milliseconds per queue.
"""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, tiebreak: np.ndarray, eligible: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k best eligible rows, best first.

    Order: higher score first; equal scores by ascending `tiebreak` (a seeded random
    permutation key, so ties are broken the same way for the same `random_state`).
    `eligible` is a boolean mask or an array of candidate positions.
    """
    candidates = np.flatnonzero(eligible) if eligible.dtype == bool else np.asarray(eligible)
    if k <= 0 or candidates.size == 0:
        return np.empty(0, dtype=np.intp)
    candidate_scores = scores[candidates]
    if k < candidates.size:
        # the k-th best score; everything strictly above it is in, ties at it compete
        kth = np.partition(candidate_scores, candidates.size - k)[candidates.size - k]
        above = candidate_scores > kth
        at = np.flatnonzero(candidate_scores == kth)
        need = k - int(above.sum())
        keys = tiebreak[candidates[at]]
        if need < len(at):  # the `need` smallest keys, in linear time (1M ties: 113 -> 6 ms)
            first = np.argpartition(keys, need - 1)[:need]
            tied = at[first[np.argsort(keys[first], kind="stable")]]
        else:
            tied = at[np.argsort(keys, kind="stable")]
        chosen = np.concatenate([np.flatnonzero(above), tied])
        candidates, candidate_scores = candidates[chosen], candidate_scores[chosen]
    order = np.lexsort((tiebreak[candidates], -candidate_scores))
    return candidates[order]
