"""Read every transaction out of the graph for model fitting, and write value scores back.

Reading is keyset-paged on ``Customer.customer_id`` (one row per account with its purchase
lines as text), so memory on the engine side stays bounded and each page is one round
trip. Writing is batched ``UNWIND`` + ``SET +=`` on the node keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from graph.backend import GraphBackend

__all__ = [
    "SCORING_TRANSACTIONS",
    "WRITE_PERSON_SCORES",
    "WRITE_CUSTOMER_SCORES",
    "CLEAR_STALE_PERSON_SCORES",
    "CLEAR_STALE_CUSTOMER_SCORES",
    "SCORE_PROPERTIES",
    "iter_account_lines",
    "transactions_frame",
    "write_scores",
    "clear_stale_scores",
]

SCORE_PROPERTIES = (
    "clv", "p_alive", "churn_risk", "expected_purchases", "expected_aov",
    "rfm_r", "rfm_f", "rfm_m", "rfm", "rfm_segment", "scored_at",
)
"""Properties ``c360 clv fit`` writes onto Person and Customer nodes."""

SCORING_TRANSACTIONS = """MATCH (c:Customer)
WHERE c.customer_id > $after
WITH c ORDER BY c.customer_id LIMIT $limit
OPTIONAL MATCH (c)-[:BELONGS_TO]->(p:Person)
OPTIONAL MATCH (c)-[:MADE]->(t:Transaction)
RETURN toString(size(c.customer_id)) + ' ' + toString(size(coalesce(p.person_id, ''))) + ' '
       + coalesce(toString(t.ts), '') + ' ' + coalesce(toString(t.amount), '') + ' '
       + c.customer_id + coalesce(p.person_id, '') + coalesce(t.order_id, '') AS line"""
"""One keyset page of ``$limit`` accounts after ``$after``: one text row per purchase line.

Each row is ``"<len(customer_id)> <len(person_id)> <ts> <amount> <customer_id><person_id><order_id>"``
(an account without purchases gives one row with empty ts and amount). One text value per
line decodes several times faster in the FalkorDB client than four values, which matters at
a million lines; the length prefixes keep any id text unambiguous. FalkorDB prints amounts
with six decimals, exact for money. The page is over accounts, not rows, so it is read with
:func:`iter_account_lines`' own keyset loop rather than ``graph.stream`` (whose page-size
test counts rows).
"""

WRITE_PERSON_SCORES = """UNWIND $rows AS r
MATCH (p:Person {person_id: r.id})
SET p += r.scores
WITH p, r
MATCH (c:Customer)-[:BELONGS_TO]->(p)
SET c += r.scores"""
"""Set score properties on Person nodes and every account linked to them (``$rows``: ``[{id, scores}]``)."""

WRITE_CUSTOMER_SCORES = """UNWIND $rows AS r
MATCH (c:Customer {customer_id: r.id})
SET c += r.scores"""
"""Set score properties on Customer nodes (accounts without a Person; ``$rows``: ``[{id, scores}]``)."""

_CLEAR = """
WHERE n.scored_at IS NOT NULL AND n.scored_at <> $scored_at
SET n.clv = null, n.p_alive = null, n.churn_risk = null, n.expected_purchases = null,
    n.expected_aov = null, n.rfm_r = null, n.rfm_f = null, n.rfm_m = null, n.rfm = null,
    n.rfm_segment = null, n.scored_at = null
RETURN count(n) AS cleared"""

CLEAR_STALE_PERSON_SCORES = "MATCH (n:Person)" + _CLEAR
"""Remove scores a previous fit left on persons this fit did not score."""

CLEAR_STALE_CUSTOMER_SCORES = "MATCH (n:Customer)" + _CLEAR
"""Remove scores a previous fit left on accounts this fit did not score."""


def iter_account_lines(
    graph: GraphBackend, *, page_size: int = 25_000
) -> Iterator[tuple[str, str | None, int | None, float | None, str | None]]:
    """Yield ``(customer_id, person_id, ts, amount, order_id)`` for every purchase line.

    Keyset-paged over accounts (``$after`` = the last account of the previous page); an
    account without purchases yields one tuple with ``ts`` and ``amount`` None.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    after = ""
    while True:
        rows = graph.read(SCORING_TRANSACTIONS, {"after": after, "limit": page_size})
        last = after
        accounts = set()
        for row in rows:
            n_cid, n_pid, ts, amount, rest = row["line"].split(" ", 4)
            lc, lp = int(n_cid), int(n_pid)
            cid, pid, order = rest[:lc], rest[lc:lc + lp] or None, rest[lc + lp:] or None
            accounts.add(cid)
            if cid > last:
                last = cid
            yield cid, pid, (int(ts) if ts else None), (float(amount) if amount else None), order
        if len(accounts) < page_size:
            return
        after = last


def transactions_frame(graph: GraphBackend, *, page_size: int = 25_000) -> tuple[pd.DataFrame, dict[str, str | None]]:
    """All purchase lines as a DataFrame, plus every account's person.

    Returns
    -------
    (tx, person_of)
        ``tx`` has columns ``customer_id, person_id, occurred_at`` (naive UTC datetime),
        ``amount`` (float), ``order_id`` (str or None); ``person_of`` maps every account,
        with or without purchases, to its person id (None when not linked).
    """
    cust: list[str] = []
    person: list[str | None] = []
    ts: list[int] = []
    amount: list[float] = []
    order: list[str | None] = []
    person_of: dict[str, str | None] = {}
    for cid, pid, t, a, o in iter_account_lines(graph, page_size=page_size):
        person_of[cid] = pid
        if t is None:
            continue
        cust.append(cid)
        person.append(pid)
        ts.append(t)
        amount.append(a)
        order.append(o)
    tx = pd.DataFrame({
        "customer_id": pd.array(cust, dtype=object),
        "person_id": pd.array(person, dtype=object),
        "occurred_at": pd.to_datetime(np.asarray(ts, dtype="int64"), unit="s"),
        "amount": np.asarray(amount, dtype=float),
        "order_id": pd.array(order, dtype=object),
    })
    return tx, person_of


def _batches(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def write_scores(
    graph: GraphBackend,
    *,
    persons: Mapping[str, Mapping[str, Any]],
    customers: Mapping[str, Mapping[str, Any]],
    batch_size: int = 5000,
) -> tuple[int, int]:
    """Write ``{id: {property: value}}`` onto Person nodes (and their accounts) and Customer nodes.

    ``persons`` values are copied onto every account linked to the person in the same
    statement, so ``customers`` only needs the accounts without a Person. Values must be plain (str, int, float, bool, None); None removes the property.
    Returns the number of (person, customer) rows sent.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    for query, table in ((WRITE_PERSON_SCORES, persons), (WRITE_CUSTOMER_SCORES, customers)):
        rows = [{"id": key, "scores": dict(values)} for key, values in table.items()]
        for batch in _batches(rows, batch_size):
            graph.write(query, {"rows": list(batch)})
    return len(persons), len(customers)


def clear_stale_scores(graph: GraphBackend, *, scored_at: str) -> int:
    """Null the scores of nodes not stamped with this fit's ``scored_at``; returns how many."""
    cleared = 0
    for query in (CLEAR_STALE_PERSON_SCORES, CLEAR_STALE_CUSTOMER_SCORES):
        rows = graph.write(query, {"scored_at": scored_at})
        cleared += int(rows[0]["cleared"]) if rows else 0
    return cleared
