"""The one codec between a pool's item ids and the text the store keeps.

A pool's ids are all integers or all strings (checked when the pool is built), so
`str(id)` is reversible: the stored text "17" means the integer 17 in an integer pool
and the string "17" in a string pool. Every module that turns stored ids back into
pool ids goes through `IdCodec`, so that rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable


class IdCodec:
    """Encode pool ids as stored text and decode them back."""

    def __init__(self, int_ids: bool):
        self.int_ids = int_ids

    def encode(self, item_id: Hashable) -> str:
        return str(item_id)

    def decode(self, key: str) -> Hashable:
        return int(key) if self.int_ids else key

    def decode_all(self, keys: Iterable[str]) -> list[Hashable]:
        return [int(k) for k in keys] if self.int_ids else list(keys)
