"""FalkorDB plans of statements that look accounts or products up by id, then filter what lies beyond.

Written as one pattern (``UNWIND $ids AS id MATCH (c:Customer {customer_id: id})-[:R]->(t:T)
WHERE t.x ...``), FalkorDB 1.4.1 plans a scan of every ``T`` node per id and joins back to the
account: 200 ids took 212 s on the 100k benchmark graph instead of 0.01 s. A ``WITH`` right
after the lookup makes it start from the index. These tests read the engine's plan, so a
rewrite that brings the scan back fails here rather than in production.
"""

from __future__ import annotations

import pytest

from queries.analytics_io import ACCEPTED_OFFERS_OF
from queries.item_neighbours import ACCOUNT_PRODUCTS
from queries.recommend import ITEM_CO_PURCHASE

CASES = {
    "ACCOUNT_PRODUCTS": (ACCOUNT_PRODUCTS, {"ids": ["crm-000001"], "before_ts": 1}, "(t:Transaction)"),
    "ITEM_CO_PURCHASE": (ITEM_CO_PURCHASE, {"seeds": [{"product_id": "p-0001", "weight": 1.0}], "owned": [],
                                            "build": None, "candidates": 1, "max_reasons": 1}, "(q:Product)"),
    "ACCEPTED_OFFERS_OF": (ACCEPTED_OFFERS_OF, {"ids": ["crm-000001"]}, "(k:Touch)"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lookup_by_id_starts_from_the_index(graph, name):
    text, params, far = CASES[name]
    plan = "\n".join(graph.explain(text, params))
    assert "Node By Index Scan" in plan, plan
    assert f"Label Scan | {far}" not in plan, plan


def test_the_one_pattern_form_is_the_trap(graph):
    """The check above can fail: the same lookup without the WITH scans every Transaction."""
    trap = ACCOUNT_PRODUCTS.replace("MATCH (c:Customer {customer_id: id})\nWITH c\nMATCH (c)", "MATCH (c:Customer {customer_id: id})")
    assert trap != ACCOUNT_PRODUCTS
    assert "Label Scan | (t:Transaction)" in "\n".join(graph.explain(trap, {"ids": ["x"], "before_ts": 1}))
