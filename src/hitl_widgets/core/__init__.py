"""The core: sessions, pools, strategies, stores. No widget or chart imports here."""

from .events import LabelEvent
from .pool import Pool, PoolError, build_pool
from .session import Session, SessionStatus
from .store import LabelStore, SQLiteStore, StoreError, StoreMismatchError, open_store
from .strategies import (
    EntropySampling,
    LeastConfidence,
    MarginSampling,
    ProbabilityStrategy,
    QueryStrategy,
    RandomSampling,
)

__all__ = [
    "EntropySampling",
    "LabelEvent",
    "LabelStore",
    "LeastConfidence",
    "MarginSampling",
    "Pool",
    "PoolError",
    "ProbabilityStrategy",
    "QueryStrategy",
    "RandomSampling",
    "SQLiteStore",
    "Session",
    "SessionStatus",
    "StoreError",
    "StoreMismatchError",
    "build_pool",
    "open_store",
]
