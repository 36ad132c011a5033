"""Cypher for the lease that keeps two look-alike or segment builds from running at once.

One ``(:BuildLock {key})`` node per kind of build. A build takes it when it is free or its
lease ran out (a build that died keeps it only until then), renews it while it runs and
frees it at the end. Each statement is one write, so taking the lock is atomic: the first
``SET`` takes the node's write lock before the comparison (Neo4j's documented guard against
lost updates; FalkorDB runs one write at a time anyway). Times are epoch seconds.
"""

from __future__ import annotations

__all__ = ["ACQUIRE_LOCK", "RENEW_LOCK", "RELEASE_LOCK"]

ACQUIRE_LOCK = """MERGE (l:BuildLock {key: $key})
SET l.claiming = $holder
WITH l, (l.holder IS NULL OR l.expires < $now) AS free
FOREACH (_ IN CASE WHEN free THEN [1] ELSE [] END |
  SET l.holder = $holder, l.job = $job, l.started = $now, l.expires = $expires)
SET l.claiming = null
RETURN l.holder AS holder, l.job AS job, l.started AS started, l.expires AS expires"""
"""Take lock ``$key`` for ``$holder`` until ``$expires`` unless someone else holds an unexpired
lease; returns the holder after the attempt (``$holder`` when it was taken)."""

RENEW_LOCK = """MATCH (l:BuildLock {key: $key})
WHERE l.holder = $holder
SET l.expires = $expires
RETURN l.expires AS expires"""
"""Extend ``$holder``'s lease; no row when the lease was lost (expired and taken by another)."""

RELEASE_LOCK = """MATCH (l:BuildLock {key: $key})
WHERE l.holder = $holder
SET l.holder = null, l.expires = null, l.released = $now
RETURN count(l) AS released"""
"""Free the lock if ``$holder`` still holds it."""
