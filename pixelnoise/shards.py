"""Splitting image ids into shards for per-image stages (deterministic, order-independent)."""

from __future__ import annotations

from pixelnoise.errors import ConfigError


def shard_ids(ids: list[str], shard: int, shards: int) -> list[str]:
    """Every ``shards``-th id of the sorted list, starting at ``shard``.

    >>> shard_ids(["c", "a", "b", "d"], 1, 2)
    ['b', 'd']
    """
    if shards < 1 or not 0 <= shard < shards:
        raise ConfigError(f"shard {shard} is not in 0..{shards - 1} (config key `shards`)")
    return sorted(ids)[shard::shards]
