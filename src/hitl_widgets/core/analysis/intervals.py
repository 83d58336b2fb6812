"""Confidence intervals for rates, shared by every analysis that reports one.

Wilson score intervals: good coverage for small n and for rates near 0 or 1, where the
normal approximation fails (it gives [1, 1] for 5 of 5); subgroups smaller than
SMALL_GROUP items are flagged, not ranked, since their interval is too wide to rank by.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

SMALL_GROUP = 10  # below this many items a subgroup is flagged, not ranked


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
