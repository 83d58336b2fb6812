"""The core: sessions, pools, strategies, stores, analyses. No widget or chart imports here."""

from .analysis.routing import RoutingPolicy
from .events import LabelEvent
from .pool import Pool, PoolError, build_pool
from .session import Session, SessionStatus
from .snapshot import Snapshot
from .store import (
    LabelStore,
    SQLiteStore,
    StoreCorruptError,
    StoreError,
    StoreMismatchError,
    StoreVanishedError,
    open_store,
)
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
    "RoutingPolicy",
    "SQLiteStore",
    "Session",
    "SessionStatus",
    "Snapshot",
    "StoreCorruptError",
    "StoreError",
    "StoreMismatchError",
    "StoreVanishedError",
    "build_pool",
    "open_store",
]
