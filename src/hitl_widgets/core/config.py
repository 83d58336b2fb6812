"""Validated Session settings: every bad argument fails at the call, naming the argument.

A setting that is wrong but accepted (a NaN claim lifetime, `overlap=True`) fails much
later, far from its cause, or silently does something else; so each one is checked
here, once, with a message that says what was given and what is wanted.
"""

from __future__ import annotations

import getpass
import math
import numbers
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .events import check_text

ROLES = ("annotator", "reviewer")
TRAINING = ("majority", "resolved")


@dataclass(frozen=True)
class SessionConfig:
    """The settings of one Session (see `Session` for what each one means)."""

    classes: tuple[Hashable, ...]
    subgroups: tuple[str, ...]
    truth: str | None
    annotator: str
    random_state: int | None
    audit_share: float
    overlap: int
    role: str
    training: str
    claim_ttl: float

    @cached_property
    def class_index(self) -> dict[Hashable, int]:
        return {c: i for i, c in enumerate(self.classes)}

    @cached_property
    def class_by_text(self) -> dict[str, Hashable]:
        return {str(c): c for c in self.classes}

    def class_of(self, text: str | None) -> Hashable:
        """The class whose stored text is `text`."""
        return self.class_by_text[text or ""]

    def check_label(self, label: Any) -> Hashable:
        """The declared class equal to `label`; a ValueError naming the classes otherwise."""
        index = self.class_index
        try:
            known = not isinstance(label, bool) and label in index
        except TypeError:  # unhashable
            known = False
        if not known:
            raise ValueError(f"label {label!r} is not one of the classes {list(self.classes)!r}")
        return self.classes[index[label]]


def check_classes(classes: Any) -> tuple[Hashable, ...]:
    if isinstance(classes, (str, bytes)) or not isinstance(classes, (Sequence, np.ndarray)):
        raise TypeError("classes must be a list of labels, e.g. ['neg', 'pos']")
    values = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if len(values) < 2:
        raise ValueError(f"declare at least two classes, got {values!r}")
    for c in values:
        if not isinstance(c, (str, int)) or isinstance(c, bool):
            raise TypeError(f"classes must be strings or integers, got {c!r}")
        if isinstance(c, str):
            check_text(c, "class label")
            if not c:
                raise ValueError("class labels must not be empty strings")
    texts = [str(c) for c in values]
    if len(set(texts)) != len(texts):
        raise ValueError(f"classes must be distinct (as text too), got {values!r}")
    return tuple(values)


def check_columns(columns: Any, present: Sequence[Hashable], what: str) -> tuple[str, ...]:
    """Column names that exist in the pool; None gives none."""
    if columns is None:
        return ()
    names = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in names if c not in present]
    if missing:
        raise ValueError(f"{what} columns not in the pool: {missing!r}")
    return tuple(names)


def check_count(value: Any, name: str, minimum: int = 0) -> int:
    """An integer >= minimum; booleans, floats and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(value)


def check_share(value: Any, name: str) -> float:
    """A finite number between 0 and 1."""
    number = _real(value, name)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return number


def check_nonnegative(value: Any, name: str) -> float:
    """A finite number >= 0."""
    number = _real(value, name)
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        wanted = " or ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return str(value)


def check_random_state(value: Any) -> int | None:
    if value is None:
        return None
    return check_count(value, "random_state")


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def encode_truth(values: Any, class_index: dict[Hashable, int]) -> np.ndarray:
    """Truth as class indices (-1 where unknown or not a class), for fast evaluation."""
    # one lookup per distinct value, not per row: 10M rows of two classes take 2 s, not 8
    codes, uniques = pd.factorize(pd.Series(values, dtype=getattr(values, "dtype", None)))
    table = [class_index.get(v, -1) if _known(v) else -1 for v in uniques]
    return np.asarray([*table, -1], dtype=np.int16)[codes]  # code -1 (missing): the last


def _known(value: Any) -> bool:
    try:
        return not (value is None or (isinstance(value, float) and math.isnan(value)))
    except TypeError:
        return True


def login_name() -> str:
    """The default annotator: the login name, or "annotator" where there is none."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "annotator"
