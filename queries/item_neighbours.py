"""Cypher that reads purchase pairs out and stores item-to-item neighbours as ``BOUGHT_WITH`` edges.

Every edge carries the id of the build that wrote it; the one ``(:ItemNeighbours {key:
'bought_with'})`` node names the current build. A new build writes its edges first, then
points the node at itself, then deletes older builds' edges, so a recommendation (one
statement that resolves the current build itself) always sees one complete set. Build ids
begin with their start time; when two builds overlap, the one started last wins, whichever
ends first, and the other removes its own edges. Builds made by the offline evaluation (ids
starting with ``eval-``) are never current; the evaluation deletes its own when it ends.
"""

from __future__ import annotations

__all__ = [
    "ACCOUNT_PRODUCTS",
    "WRITE_BOUGHT_WITH",
    "SET_CURRENT_BUILD",
    "CURRENT_BUILD",
    "CLEAR_OLD_BUILDS",
    "DROP_BUILD",
    "DROP_STALE_EVAL_BUILDS",
    "EVAL_PREFIX",
]

EVAL_PREFIX = "eval-"

ACCOUNT_PRODUCTS = """UNWIND $ids AS id
MATCH (c:Customer {customer_id: id})
WITH c
MATCH (c)-[:MADE]->(t:Transaction)
WHERE t.ts < $before_ts AND t.product_id IS NOT NULL
WITH c, collect(DISTINCT t.product_id) AS products
OPTIONAL MATCH (c)-[:BELONGS_TO]->(p:Person)
RETURN coalesce(p.person_id, c.customer_id) AS buyer, products"""
"""Distinct products each of ``$ids`` bought before ``$before_ts``, with the account's person
(the buyer neighbours are counted by: one person with two accounts is one buyer). Accounts
without purchases give no row. ``WITH c`` keeps FalkorDB 1.4.1 from planning one scan of every
Transaction per id (measured: 200 ids took 212 s written as one pattern; tests/test_query_plans.py)."""

WRITE_BOUGHT_WITH = """UNWIND $rows AS r
MATCH (a:Product {product_id: r.a})
UNWIND range(0, size(r.b) - 1) AS i
MATCH (b:Product {product_id: r.b[i]})
CREATE (a)-[n:BOUGHT_WITH {score: r.s[i], together: r.n[i], build: $build}]->(b)
RETURN count(n) AS written"""
"""One row per product: ``$rows`` is ``[{a, b: [neighbour ids], s: [scores], n: [common buyers]}]``.
CREATE, not MERGE: a build's edges are new by construction (its own ``build`` id)."""

SET_CURRENT_BUILD = """MERGE (m:ItemNeighbours {key: 'bought_with'})
SET m.switching = $build
WITH m, coalesce(m.build, '') < $build AS newer
FOREACH (_ IN CASE WHEN newer THEN [1] ELSE [] END |
  SET m.build = $build, m.built_at = $built_at, m.before_ts = $before_ts, m.edges = $edges,
      m.products = $products, m.top_n = $top_n, m.alpha = $alpha)
SET m.switching = null
RETURN m.build AS build"""
"""Make ``$build`` the set recommendations read, unless a newer build (a later id: ids start
with their start time) is already current; returns the current build either way, so the
caller knows whether it won. One write, so the switch is atomic; the first ``SET`` takes the
node's write lock before the comparison (Neo4j's documented guard against lost updates;
FalkorDB runs one write at a time anyway)."""

CURRENT_BUILD = """MATCH (m:ItemNeighbours {key: 'bought_with'})
RETURN m.build AS build, m.built_at AS built_at, m.before_ts AS before_ts, m.edges AS edges,
       m.products AS products, m.top_n AS top_n, m.alpha AS alpha"""
"""The current build's id and settings (no row before the first build)."""

CLEAR_OLD_BUILDS = """MATCH (m:ItemNeighbours {key: 'bought_with'})
MATCH (:Product)-[n:BOUGHT_WITH]->(:Product)
WHERE n.build < m.build AND NOT n.build STARTS WITH 'eval-'
WITH n LIMIT $limit
DELETE n
RETURN count(n) AS deleted"""
"""Delete up to ``$limit`` edges of builds older than the current one (repeat until it returns
fewer). A newer build still being written is left alone: it becomes current when it ends."""

DROP_BUILD = """MATCH (:Product)-[n:BOUGHT_WITH]->(:Product)
WHERE n.build = $build
WITH n LIMIT $limit
DELETE n
RETURN count(n) AS deleted"""
"""Delete up to ``$limit`` edges of one build (an evaluation's, when it ends)."""

DROP_STALE_EVAL_BUILDS = """MATCH (:Product)-[n:BOUGHT_WITH]->(:Product)
WHERE n.build STARTS WITH 'eval-' AND n.build < $older_than
WITH n LIMIT $limit
DELETE n
RETURN count(n) AS deleted"""
"""Delete up to ``$limit`` edges of evaluations interrupted long ago: their ids are
``eval-<10-digit epoch seconds>-<random>``, so ids compare like their start times."""
