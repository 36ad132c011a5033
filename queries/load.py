"""Batched, parameterised writes for the loaders: one statement per contract file.

Every statement takes ``$rows``, a list of property maps, and is safe to repeat: nodes are
MERGEd on their business key and properties are SET from the row, so re-running a batch
(after a crash, or a second load of the same folder) changes nothing.
Optional references use ``OPTIONAL MATCH`` + ``FOREACH`` so one round trip writes a row's
node and all its edges.
"""

from __future__ import annotations

__all__ = [
    "UPSERT",
    "REFERRAL_UPSERT",
    "REF_LOOKUP",
    "ROW_BY_ROW_TRANSACTION",
]

_LINK = "WITH n, r OPTIONAL MATCH ({var}:{label} {{{key}: r.{col}}}) FOREACH (_ IN CASE WHEN {var} IS NULL THEN [] ELSE [1] END | MERGE (n)-[:{rel}]->({var}))"


def _links(*links: tuple[str, str, str, str]) -> str:
    return "\n".join(
        _LINK.format(var=f"x{i}", label=label, key=key, col=col, rel=rel) for i, (label, key, col, rel) in enumerate(links)
    )


_CHANNEL = ("Channel", "channel_id", "channel_id", "VIA")
_PRODUCT = ("Product", "product_id", "product_id", "ABOUT")

UPSERT: dict[str, str] = {
    "channels": "UNWIND $rows AS r MERGE (n:Channel {channel_id: r.channel_id}) SET n += r RETURN count(n) AS written",
    "products": "UNWIND $rows AS r MERGE (n:Product {product_id: r.product_id}) SET n += r RETURN count(n) AS written",
    "customers": "UNWIND $rows AS r MERGE (n:Customer {customer_id: r.customer_id}) SET n += r RETURN count(n) AS written",
    "campaigns": (
        "UNWIND $rows AS r MERGE (n:Campaign {campaign_id: r.campaign_id}) SET n += r\n"
        + _links(_CHANNEL, ("Product", "product_id", "offer_product_id", "OFFERS"))
        + "\nRETURN count(n) AS written"
    ),
    "tickets": (
        "UNWIND $rows AS r MATCH (c:Customer {customer_id: r.customer_id})\n"
        "MERGE (n:Ticket {ticket_id: r.ticket_id}) SET n += r MERGE (c)-[:RAISED]->(n)\n"
        + _links(_CHANNEL, _PRODUCT)
        + "\nRETURN count(n) AS written"
    ),
    "transactions": (
        "UNWIND $rows AS r MATCH (c:Customer {customer_id: r.customer_id})\n"
        "MERGE (n:Transaction {transaction_id: r.transaction_id}) SET n += r MERGE (c)-[:MADE]->(n)\n"
        + _links(_CHANNEL, ("Product", "product_id", "product_id", "FOR"))
        + "\nRETURN count(n) AS written"
    ),
    "campaign_touches": (
        "UNWIND $rows AS r MATCH (c:Customer {customer_id: r.customer_id})\n"
        "MATCH (k:Campaign {campaign_id: r.campaign_id})\n"
        "MERGE (n:Touch {touch_id: r.touch_id}) SET n += r MERGE (c)-[:RECEIVED]->(n) MERGE (n)-[:OF]->(k)\n"
        + _links(_CHANNEL)
        + "\nRETURN count(n) AS written"
    ),
    "interactions": (
        "UNWIND $rows AS r MATCH (c:Customer {customer_id: r.customer_id})\n"
        "MERGE (n:Interaction {interaction_id: r.interaction_id}) SET n += r MERGE (c)-[:HAD]->(n)\n"
        + _links(
            _CHANNEL,
            _PRODUCT,
            ("Campaign", "campaign_id", "campaign_id", "ABOUT_CAMPAIGN"),
            ("Ticket", "ticket_id", "ticket_id", "ABOUT_TICKET"),
        )
        + "\nRETURN count(n) AS written"
    ),
    "preferences": (
        "UNWIND $rows AS r MATCH (c:Customer {customer_id: r.customer_id})\n"
        "MERGE (n:Preference {preference_id: r.preference_id}) SET n += r MERGE (c)-[:HAS_PREFERENCE]->(n)\n"
        "RETURN count(n) AS written"
    ),
}
"""Contract file -> its batched upsert (referrals are split by kind, below)."""

REFERRAL_UPSERT: dict[str, str] = {
    rel: (
        "UNWIND $rows AS r MATCH (a:Customer {customer_id: r.from_customer_id})\n"
        "MATCH (b:Customer {customer_id: r.to_customer_id})\n"
        f"MERGE (a)-[e:{rel}]->(b) SET e.kind = r.kind, e.occurred_at = r.occurred_at, e.ts = r.ts\n"
        "RETURN count(e) AS written"
    )
    for rel in ("REFERRED", "FOLLOWS", "HOUSEHOLD", "MENTIONED")
}
"""Relationship type (from :data:`loaders.contract.INFLUENCE_TYPES`) -> its upsert."""

REF_LOOKUP: dict[str, str] = {
    label: f"UNWIND $ids AS id MATCH (n:{label} {{{key}: id}}) RETURN n.{key} AS id"
    for label, key in [
        ("Customer", "customer_id"),
        ("Product", "product_id"),
        ("Channel", "channel_id"),
        ("Campaign", "campaign_id"),
        ("Ticket", "ticket_id"),
    ]
}
"""Which of ``$ids`` already exist in the graph (references to rows of earlier loads)."""

ROW_BY_ROW_TRANSACTION = (
    "MATCH (c:Customer {customer_id: $customer_id})\n"
    "MERGE (n:Transaction {transaction_id: $transaction_id}) SET n += $props MERGE (c)-[:MADE]->(n)"
)
"""The usual one-statement-per-row loop, kept only as the benchmark's baseline."""
