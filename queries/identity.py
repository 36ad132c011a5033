"""Reads and writes of identity resolution: accounts, their persons, and the links between them."""

from __future__ import annotations

__all__ = [
    "ACCOUNT_PAGE",
    "PERSON_PAGE",
    "UPSERT_PERSONS",
    "UNLINK_OTHER_PERSONS",
    "LINK_ACCOUNTS",
    "DELETE_PERSONS",
]

ACCOUNT_PAGE = """
MATCH (c:Customer) WHERE c.customer_id > $after
WITH c ORDER BY c.customer_id LIMIT $limit
OPTIONAL MATCH (c)-[b:BELONGS_TO]->(p:Person)
RETURN c.customer_id AS key, c.email AS email, c.phone AS phone, c.loyalty_id AS loyalty_id,
       collect({person_id: p.person_id, rules: b.rules, matched_with: b.matched_with}) AS links
ORDER BY key
""".strip()
"""One page of accounts with the identifiers they link on and their current person links."""

PERSON_PAGE = """
MATCH (p:Person) WHERE p.person_id > $after
RETURN p.person_id AS key, p.size AS size
ORDER BY key LIMIT $limit
""".strip()

UPSERT_PERSONS = "UNWIND $rows AS r MERGE (p:Person {person_id: r.person_id}) SET p.size = r.size RETURN count(p) AS written"

UNLINK_OTHER_PERSONS = """
UNWIND $rows AS r
MATCH (c:Customer {customer_id: r.customer_id})-[b:BELONGS_TO]->(p:Person)
WHERE p.person_id <> r.person_id
DELETE b
RETURN count(*) AS removed
""".strip()

LINK_ACCOUNTS = """
UNWIND $rows AS r
MATCH (c:Customer {customer_id: r.customer_id})
MATCH (p:Person {person_id: r.person_id})
MERGE (c)-[b:BELONGS_TO]->(p)
SET b.rules = r.rules, b.matched_with = r.matched_with
RETURN count(b) AS written
""".strip()

DELETE_PERSONS = "UNWIND $ids AS id MATCH (p:Person {person_id: id}) DETACH DELETE p RETURN count(*) AS deleted"
