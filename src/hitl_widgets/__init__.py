"""hitl_widgets: Jupyter-native labeling widgets for human-in-the-loop machine learning."""

from .core import (
    EntropySampling,
    LabelEvent,
    LeastConfidence,
    MarginSampling,
    PoolError,
    ProbabilityStrategy,
    QueryStrategy,
    RandomSampling,
    Session,
    SQLiteStore,
    StoreCorruptError,
    StoreError,
    StoreMismatchError,
    StoreVanishedError,
)

__version__ = "0.1.0"


def __getattr__(name: str):
    """Widgets load on first use, so the core works without the built front end."""
    if name in ("Labeler", "Dashboard", "LabelingApp", "label", "show"):
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module 'hitl_widgets' has no attribute {name!r}")


__all__ = [
    "Dashboard",
    "EntropySampling",
    "LabelEvent",
    "Labeler",
    "LabelingApp",
    "LeastConfidence",
    "MarginSampling",
    "PoolError",
    "ProbabilityStrategy",
    "QueryStrategy",
    "RandomSampling",
    "SQLiteStore",
    "Session",
    "StoreCorruptError",
    "StoreError",
    "StoreMismatchError",
    "StoreVanishedError",
    "__version__",
    "label",
    "show",
]
