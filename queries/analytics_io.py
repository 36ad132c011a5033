"""Cypher for graph analytics: stream the influence and interaction data out, write scores back.

Reads are keyset-paged on ``Customer.customer_id`` (influence edges, account ids) or on
``Touch.touch_id`` (accepted offers), or take a chunk of account ids (product events); every
account row is one whole account (its outgoing influence edges or its product events
collected into lists), so a page never splits an account and memory on both sides stays
bounded. Writes are batched ``UNWIND``
statements keyed on business ids. The ``GDS_*`` statements run only on Neo4j with the
Graph Data Science library installed (see :func:`analytics.pipeline.gds_available`).
"""

from __future__ import annotations

__all__ = [
    "INFLUENCE_EDGES",
    "REVENUE_OF",
    "CUSTOMER_LABELS",
    "WRITE_INFLUENCE",
    "CUSTOMER_KEYS",
    "ACCOUNT_EVENTS",
    "ACCEPTED_OFFERS",
    "ACCEPTED_OFFERS_OF",
    "PRODUCT_AUDIENCE",
    "CUSTOMER_EXISTS",
    "CLEAR_SIMILAR",
    "WRITE_SIMILAR",
    "WRITE_SEGMENTS",
    "WRITE_MEMBERSHIP",
    "CLEAR_MEMBERSHIP",
    "DELETE_EMPTY_SEGMENTS",
    "LIST_SEGMENTS",
    "GDS_VERSION",
    "GDS_PROJECT_INFLUENCE",
    "GDS_PAGERANK",
    "GDS_PROJECT_PURCHASES",
    "GDS_NODE_SIMILARITY",
    "GDS_PROJECT_SIMILAR",
    "GDS_LOUVAIN",
    "GDS_DROP",
]

# --- influence -------------------------------------------------------------------------------

INFLUENCE_EDGES = """MATCH (c:Customer)
WHERE c.customer_id > $after
WITH c ORDER BY c.customer_id LIMIT $limit
OPTIONAL MATCH (c)-[e:REFERRED|FOLLOWS|HOUSEHOLD|MENTIONED]->(o:Customer)
RETURN c.customer_id AS key, collect(type(e)) AS types, collect(o.customer_id) AS others
ORDER BY key"""
"""One keyset page of accounts with their outgoing influence edges as two aligned lists
(relationship types, other account ids; both empty for an account without edges: collect
skips the nulls of the optional match, and both collects see the same rows in the same order).
OPTIONAL MATCH + collect, not a pattern comprehension: FalkorDB runs the comprehension
several times slower; two flat lists parse faster than a list of pairs."""

REVENUE_OF = """UNWIND $ids AS id
MATCH (c:Customer {customer_id: id})
OPTIONAL MATCH (c)-[:MADE]->(t:Transaction)
RETURN c.customer_id AS customer_id, sum(t.amount) AS revenue"""
"""Net revenue (refunds included) of the given accounts."""

CUSTOMER_LABELS = """UNWIND $ids AS id
MATCH (c:Customer {customer_id: id})
RETURN c.customer_id AS customer_id, c.name AS name, c.segment_id AS segment_id"""
"""Display name and segment of the given accounts (the report's top rows)."""

WRITE_INFLUENCE = """UNWIND $rows AS r
MATCH (c:Customer {customer_id: r.id})
SET c.influence_score = r.score, c.influence_rank = r.rank, c.reach_direct = r.reach_direct,
    c.reach_total = r.reach_total, c.referred_revenue = r.referred_revenue
RETURN count(c) AS written"""
"""Write influence scores onto Customer nodes (``$rows``: ``[{id, score, rank, reach_direct, ...}]``)."""

# --- look-alikes -----------------------------------------------------------------------------

CUSTOMER_KEYS = """MATCH (c:Customer)
WHERE c.customer_id > $after
WITH c ORDER BY c.customer_id LIMIT $limit
RETURN c.customer_id AS key"""
"""One keyset page of account ids (the look-alike read asks for their events in chunks of ids:
looking accounts up by id is far cheaper than sorting the remaining accounts once per page)."""

ACCOUNT_EVENTS = """UNWIND $ids AS id
MATCH (c:Customer {customer_id: id})
OPTIONAL MATCH (c)-[:MADE]->(t:Transaction)
WITH c, sum(t.amount) AS revenue,
     collect(toString(t.ts) + ' ' + t.product_id) AS bought,
     collect(CASE WHEN t.ts IS NOT NULL AND t.product_id IS NOT NULL THEN coalesce(t.amount, 0.0) END) AS spent
OPTIONAL MATCH (c)-[:HAD]->(i:Interaction)
WHERE i.kind = 'product_view' AND i.product_id IS NOT NULL
WITH c, revenue, bought, spent, collect(toString(i.ts) + ' ' + i.product_id) AS viewed
RETURN c.customer_id AS key, c.churn_risk AS churn_risk, revenue, bought, spent, viewed"""
"""Purchases and product views of the given accounts, one row per account: ``bought`` and
``viewed`` hold one ``"<ts> <product_id>"`` text per event (product-less lines left out),
``spent`` the amounts aligned with ``bought``, ``revenue`` the net sum of every purchase line
(refunds and product-less lines included).

Why text: the client turns every returned value into a Python object, and that, not the
engine, dominated the read (three values plus a list per purchase before; one value now).
Timestamps are integers, so ``toString`` is exact on both engines; amounts stay numbers
(FalkorDB's ``toString`` keeps only 6 decimals). Both collects of a ``WITH`` see the same rows
in the same order and skip exactly the same (null) entries, so ``spent`` lines up with ``bought``.
The foreign-key properties the loader keeps on event nodes (``product_id``: present only when
the product exists) save one hop per event."""

ACCEPTED_OFFERS = """MATCH (k:Touch)
WHERE k.response = 'accepted' AND k.touch_id > $after
WITH k ORDER BY k.touch_id LIMIT $limit
OPTIONAL MATCH (c:Customer)-[:RECEIVED]->(k)
OPTIONAL MATCH (k)-[:OF]->(m:Campaign)
RETURN k.touch_id AS key, c.customer_id AS customer_id, m.offer_product_id AS product_id,
       coalesce(k.responded_ts, k.sent_ts) AS ts
ORDER BY key"""
"""One keyset page of accepted campaign touches with the account and the offered product (null
when the campaign offers none). Read over all touches at once: accepted ones are few, and
walking every account's touches cost more than the whole scan."""

ACCEPTED_OFFERS_OF = """UNWIND $ids AS id
MATCH (c:Customer {customer_id: id})
WITH c
MATCH (c)-[:RECEIVED]->(k:Touch)-[:OF]->(m:Campaign)
WHERE k.response = 'accepted' AND m.offer_product_id IS NOT NULL
RETURN c.customer_id AS customer_id, m.offer_product_id AS product_id, coalesce(k.responded_ts, k.sent_ts) AS ts"""
"""Accepted offers (with a product) of the given accounts. ``WITH c`` keeps FalkorDB 1.4.1 from
scanning every Touch per id (it planned the one-pattern form that way: tests/test_query_plans.py)."""

PRODUCT_AUDIENCE = """UNWIND $products AS pid
MATCH (p:Product {product_id: pid})
RETURN p.product_id AS product_id,
       [(p)<-[:FOR]-(t:Transaction) | t.customer_id] AS buyers,
       [(p)<-[:ABOUT]-(i:Interaction) WHERE i.kind = 'product_view' | i.customer_id] AS viewers,
       [(p)<-[:OFFERS]-(:Campaign)<-[:OF]-(k:Touch) WHERE k.response = 'accepted' | k.customer_id] AS acceptors"""
"""Accounts that bought, viewed or accepted an offer of each product (the look-alike candidates)."""

CUSTOMER_EXISTS = """UNWIND $ids AS id
MATCH (c:Customer {customer_id: id})
RETURN c.customer_id AS customer_id"""
"""Which of ``$ids`` are accounts in the graph."""

CLEAR_SIMILAR = """MATCH (:Customer)-[s:SIMILAR_TO]->(:Customer)
WITH s LIMIT $limit
DELETE s
RETURN count(s) AS deleted"""
"""Delete up to ``$limit`` SIMILAR_TO edges (repeat until it returns 0: bounded transactions)."""

WRITE_SIMILAR = """UNWIND $rows AS r
MATCH (a:Customer {customer_id: r.a})
UNWIND range(0, size(r.b) - 1) AS i
MATCH (b:Customer {customer_id: r.b[i]})
CREATE (a)-[s:SIMILAR_TO {score: r.s[i], shared: r.n[i]}]->(b)
RETURN count(s) AS written"""
"""Create look-alike edges, one row per account: ``$rows`` is ``[{a, b: [other ids], s: [scores],
n: [shared counts or null]}]`` (aligned lists). CREATE, not MERGE: the caller deletes the old
edges first (:data:`CLEAR_SIMILAR`), and a row per account looks its id up once instead of
once per edge; both cut the engine's work per edge."""

# --- segments --------------------------------------------------------------------------------

WRITE_SEGMENTS = """UNWIND $rows AS r
MERGE (s:Segment {segment_id: r.segment_id})
SET s.size = r.size, s.avg_value = r.avg_value, s.churn_risk = r.churn_risk,
    s.top_products = r.top_products, s.description = r.description
RETURN count(s) AS written"""
"""Create or update Segment nodes (``$rows``: one map per segment)."""

CLEAR_MEMBERSHIP = """MATCH (:Customer)-[m:IN_SEGMENT]->(:Segment)
WITH m LIMIT $limit
DELETE m
RETURN count(m) AS deleted"""
"""Delete up to ``$limit`` IN_SEGMENT edges (repeat until it returns 0)."""

WRITE_MEMBERSHIP = """UNWIND $rows AS r
MATCH (c:Customer {customer_id: r.id})
MATCH (s:Segment {segment_id: r.segment_id})
MERGE (c)-[m:IN_SEGMENT]->(s)
SET c.segment_id = r.segment_id
RETURN count(m) AS written"""
"""Put accounts in their segment and stamp ``Customer.segment_id`` (``$rows``: ``[{id, segment_id}]``)."""

DELETE_EMPTY_SEGMENTS = """MATCH (s:Segment)
WHERE NOT s.segment_id IN $keep
DETACH DELETE s
RETURN count(s) AS deleted"""
"""Remove segments of an earlier run that this run no longer has."""

LIST_SEGMENTS = """MATCH (s:Segment)
OPTIONAL MATCH (c:Customer)-[m:IN_SEGMENT]->(s)
RETURN s.segment_id AS segment_id, s.size AS size, count(m) AS members, s.avg_value AS avg_value,
       s.churn_risk AS churn_risk, s.top_products AS top_products, s.description AS description
ORDER BY segment_id"""
"""Every segment with its stored summary and the live member count."""

# --- Neo4j Graph Data Science (Neo4j only) ---------------------------------------------------

GDS_VERSION = "RETURN gds.version() AS version"
"""Fails unless the GDS library is installed."""

GDS_PROJECT_INFLUENCE = """MATCH (a:Customer)-[e:REFERRED|FOLLOWS|HOUSEHOLD|MENTIONED]->(b:Customer)
WHERE a <> b
WITH gds.graph.project($name, b, a, {relationshipProperties: {weight: $weights[type(e)]}}) AS g
RETURN g.graphName AS name, g.nodeCount AS nodes, g.relationshipCount AS relationships"""
"""Project influence edges **reversed** (influenced -> influencer) with the kind weight (``$weights``:
relationship type -> weight), so PageRank flows to the influencer."""

GDS_PAGERANK = """CALL gds.pageRank.stream($name, {relationshipWeightProperty: 'weight', dampingFactor: $alpha})
YIELD nodeId, score
RETURN gds.util.asNode(nodeId).customer_id AS customer_id, score"""
"""Weighted PageRank over a projection made by :data:`GDS_PROJECT_INFLUENCE`."""

GDS_PROJECT_PURCHASES = """MATCH (c:Customer)-[:MADE]->(t:Transaction)-[:FOR]->(p:Product)
WITH DISTINCT c, p
WITH gds.graph.project($name, c, p) AS g
RETURN g.graphName AS name, g.nodeCount AS nodes, g.relationshipCount AS relationships"""
"""Customer -> Product bipartite projection (one relationship per bought product)."""

GDS_NODE_SIMILARITY = """CALL gds.nodeSimilarity.stream($name, {topK: $k, similarityCutoff: 0.0})
YIELD node1, node2, similarity
RETURN gds.util.asNode(node1).customer_id AS customer_id, gds.util.asNode(node2).customer_id AS other_id,
       similarity AS score"""
"""Jaccard top-k look-alikes over :data:`GDS_PROJECT_PURCHASES`."""

GDS_PROJECT_SIMILAR = """MATCH (a:Customer)-[s:SIMILAR_TO]->(b:Customer)
WHERE a <> b
WITH gds.graph.project($name, a, b, {relationshipProperties: {score: s.score}},
                       {undirectedRelationshipTypes: ['*']}) AS g
RETURN g.graphName AS name, g.nodeCount AS nodes, g.relationshipCount AS relationships"""
"""Undirected projection of the stored look-alike edges, for Louvain."""

GDS_LOUVAIN = """CALL gds.louvain.stream($name, {relationshipWeightProperty: 'score'})
YIELD nodeId, communityId
RETURN gds.util.asNode(nodeId).customer_id AS customer_id, communityId AS community"""
"""Louvain communities over :data:`GDS_PROJECT_SIMILAR`."""

GDS_DROP = """CALL gds.graph.drop($name, false)
YIELD graphName
RETURN graphName"""
"""Drop an in-memory projection (no error if it is gone)."""
