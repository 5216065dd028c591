"""The keys the SDK and the platform share in an app's Redis keyspace: the SDK writes them,
the platform reads (cache counts) or bumps (query cache versions) them. ``prefix`` is the
app's key prefix (``<app>:``, ``REDIS_KEY_PREFIX``)."""

from __future__ import annotations


def stats_key(prefix: str) -> str:
    """The hash of the cache's counts (hits, misses, sets, invalidations)."""
    return f"{prefix}__comind:cache"


def version_key(prefix: str, table: str) -> str:
    """The version of ``table``, bumped after each committed write to it."""
    return f"{prefix}__comind:qc:v:{table}"


def epoch_key(prefix: str) -> str:
    """Bumped whenever the platform starts listening: writes before went unheard."""
    return f"{prefix}__comind:qc:epoch"
