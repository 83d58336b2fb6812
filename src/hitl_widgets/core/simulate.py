"""A simulated annotator: labels items through the same path a person's clicks take.

For teaching and benchmarking. The oracle answers from the truth column, another
column or a function; optional label noise makes it as fallible as people are. Every
answer goes through `Session.submit`, so the store, the refit and the charts see
exactly what they would see with a human at the keyboard.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .progress import steps

if TYPE_CHECKING:
    from .session import Session

Oracle = None | str | Callable[[Hashable, pd.Series], Hashable]


def simulate(
    session: Session,
    n: int,
    oracle: Oracle = None,
    *,
    noise: float = 0.0,
    pace: float | None = None,
    wait: bool = True,
    claims: bool | None = None,
    random_state: int | None = None,
) -> pd.DataFrame:
    """Label the next `n` queued items as the oracle would; returns what was answered.

    oracle : None (the session's truth column), a column name, or `f(item_id, row) -> label`.
    noise : probability of answering a different class, uniformly chosen (label noise).
    pace : seconds to pause after each label (to animate a widget live).
    wait : let each refit finish before the next pick, as a human's reading time would.
    A progress bar shows when it runs longer than two seconds (see `Session(progress=)`).
    claims : take items through `Session.claim` (as teammates do); default: when the
        session wants several opinions per item.
    """
    answer = _oracle(session, oracle)
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be between 0 and 1, got {noise!r}")
    rng = np.random.default_rng(random_state)
    use_claims = session.overlap > 1 if claims is None else claims
    rows = []
    for _ in steps(range(n), n, "simulating labels", session.progress):
        queue = session.claim(1) if use_claims else session.queue(1)
        if queue.empty or bool(queue["skipped"].iloc[0]):
            break
        item_id = queue.index[0]
        truth = answer(item_id, session.data.loc[item_id])
        given = truth
        if noise and rng.random() < noise:
            others = [c for c in session.classes if c != truth]
            given = others[rng.integers(len(others))]
        session.submit(item_id, given)
        rows.append((item_id, given, truth, bool(queue["audit"].iloc[0])))
        if wait:
            session.wait()
        if pace:
            time.sleep(pace)
    index_name = session.data.index.name or "item_id"
    frame = pd.DataFrame(rows, columns=[index_name, "label", "oracle_label", "audit"])
    return frame.set_index(index_name)


def _oracle(session: Session, oracle: Oracle) -> Callable[[Hashable, pd.Series], Any]:
    if callable(oracle):
        return oracle
    column = oracle if oracle is not None else session.truth
    if column is None:
        raise ValueError(
            "simulate needs an oracle: pass truth= to the Session, a column or a function"
        )
    if column not in session.data.columns:
        raise ValueError(f"oracle column {column!r} is not in the pool")
    values = session.data[column]
    unknown = set(values.dropna().unique().tolist()) - set(session.classes)
    if unknown:
        raise ValueError(
            f"oracle column {column!r} holds values that are not classes: "
            f"{sorted(map(str, unknown))[:5]}"
        )
    return lambda item_id, row: values.at[item_id]
