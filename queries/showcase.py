"""Pick customers worth showing in the demo and the docs: rich, multi-system histories."""

from __future__ import annotations

from graph.backend import GraphBackend

__all__ = ["SHOWCASE_CUSTOMERS", "LATEST_PURCHASE", "showcase_customers", "latest_purchase"]

SHOWCASE_CUSTOMERS = """
MATCH (p:Person) WHERE p.size >= $min_accounts
WITH p ORDER BY p.size DESC, p.person_id LIMIT 200
MATCH (c:Customer)-[:BELONGS_TO]->(p)
OPTIONAL MATCH (c)-[m:MADE]->(:Transaction)
WITH p, c, count(m) AS purchases
OPTIONAL MATCH (c)-[r:RAISED]->(:Ticket)
WITH p, c, purchases, count(r) AS tickets
WITH p, toInteger(sum(purchases)) AS purchases, toInteger(sum(tickets)) AS tickets, collect(c.customer_id) AS accounts
WHERE purchases > 0
RETURN p.person_id AS person_id, p.size AS accounts_linked, purchases, tickets, accounts
ORDER BY tickets > 0 DESC, accounts_linked DESC, purchases DESC, person_id
LIMIT $limit
""".strip()
"""Persons with several linked accounts, purchases and (preferably) tickets, best first."""


def showcase_customers(graph: GraphBackend, *, limit: int = 5, min_accounts: int = 2) -> list[dict]:
    """Persons whose 360 view shows the most: linked accounts, purchases and service history."""
    return graph.read(SHOWCASE_CUSTOMERS, {"limit": limit, "min_accounts": min_accounts})


LATEST_PURCHASE = "MATCH (t:Transaction) RETURN max(t.occurred_at) AS latest"
"""When the data's purchase history ends (a full scan: for demos and reports, not hot paths)."""


def latest_purchase(graph: GraphBackend) -> str | None:
    """ISO time of the newest purchase line, None on an empty graph."""
    rows = graph.read(LATEST_PURCHASE)
    return rows[0]["latest"] if rows else None
