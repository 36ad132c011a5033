"""Batched, parameterised writes for the loaders: one statement per contract file.

Every statement takes ``$rows``. ``UPSERT`` statements take property maps and are safe to
repeat: nodes are MERGEd on their business key and properties are SET from the row, so
re-running a batch (after a crash, or a second load of the same folder) changes nothing.
``CREATE_NEW`` statements write the same nodes and edges faster, for rows whose key
``KEY_LOOKUP`` found absent; their rows are lists in ``STORED_COLUMNS`` order (shorter to send
and to parse than maps, and written inline in the CREATE); a key that appears meanwhile fails the uniqueness rule, and the
loader falls back to the upsert. Optional references use ``OPTIONAL MATCH`` + ``FOREACH`` so one
round trip writes a row's node and all its edges.
"""

from __future__ import annotations

from loaders.contract import STORED_COLUMNS

__all__ = [
    "UPSERT",
    "CREATE_NEW",
    "CREATE_NEW_EXTRAS",
    "KEY_LOOKUP",
    "KEY_OF_FILE",
    "REFERRAL_UPSERT",
    "ROW_BY_ROW_TRANSACTION",
    "NODE_PLAN",
    "GRAPH_IS_EMPTY",
]

_LINK = (
    "WITH n, r OPTIONAL MATCH ({var}:{label} {{{key}: r.{col}}}) "
    "FOREACH (_ IN CASE WHEN {var} IS NULL THEN [] ELSE [1] END | {verb} (n)-[:{rel}]->({var}))"
)

_CHANNEL = ("Channel", "channel_id", "channel_id", "VIA")
_PRODUCT = ("Product", "product_id", "product_id", "ABOUT")
_TOUCH_CAMPAIGN = "MATCH (k:Campaign {campaign_id: r.campaign_id})\n"

NODE_PLAN: dict[str, tuple[str, str, str | None, tuple[tuple[str, str, str, str], ...]]] = {
    # file: (label, key, relationship from the customer, optional links (label, key, column, type))
    "channels": ("Channel", "channel_id", None, ()),
    "products": ("Product", "product_id", None, ()),
    "customers": ("Customer", "customer_id", None, ()),
    "campaigns": ("Campaign", "campaign_id", None, (_CHANNEL, ("Product", "product_id", "offer_product_id", "OFFERS"))),
    "tickets": ("Ticket", "ticket_id", "RAISED", (_CHANNEL, _PRODUCT)),
    "transactions": ("Transaction", "transaction_id", "MADE", (_CHANNEL, ("Product", "product_id", "product_id", "FOR"))),
    "campaign_touches": ("Touch", "touch_id", "RECEIVED", (_CHANNEL,)),
    "interactions": ("Interaction", "interaction_id", "HAD", (
        _CHANNEL,
        _PRODUCT,
        ("Campaign", "campaign_id", "campaign_id", "ABOUT_CAMPAIGN"),
        ("Ticket", "ticket_id", "ticket_id", "ABOUT_TICKET"),
    )),
    "preferences": ("Preference", "preference_id", "HAS_PREFERENCE", ()),
}
"""What each file's row becomes: its node, the edge from its customer, and optional links.
The statements below are built from it, and so is the engine's bulk build
(:mod:`loaders.bulk`), so both write the same graph. Touches also link to their campaign
(mandatory, ``OF``)."""


def _statement(file: str, verb: str) -> str:
    """One file's repeatable batched upsert of row maps (``verb`` MERGE)."""
    label, key, edge, links = NODE_PLAN[file]
    lines = ["UNWIND $rows AS r"]
    if edge:
        lines.append("MATCH (c:Customer {customer_id: r.customer_id})")
    if file == "campaign_touches":
        lines.append(_TOUCH_CAMPAIGN.strip())
    write = f"MERGE (n:{label} {{{key}: r.{key}}}) SET n += r"
    if edge:
        write += f" {verb} (c)-[:{edge}]->(n)"
    if file == "campaign_touches":
        write += f" {verb} (n)-[:OF]->(k)"
    lines.append(write)
    lines += [_LINK.format(var=f"x{i}", label=lab, key=k, col=col, rel=rel, verb=verb) for i, (lab, k, col, rel) in enumerate(links)]
    lines.append("RETURN count(n) AS written")
    return "\n".join(lines)


def _create(file: str, extras: bool) -> str:
    """One file's batched CREATE of rows given as lists in :data:`STORED_COLUMNS` order.

    Properties are written inline in the CREATE, which the engines apply far faster than a
    ``SET n += map`` afterwards; ``extras`` adds the map of extra input columns (last item).
    """
    label, _key, edge, links = NODE_PLAN[file]
    cols = STORED_COLUMNS[file]
    at = {c: f"r[{i}]" for i, c in enumerate(cols)}
    lines = ["UNWIND $rows AS r"]
    if edge:
        lines.append(f"MATCH (c:Customer {{customer_id: {at['customer_id']}}})")
    if file == "campaign_touches":
        lines.append(f"MATCH (k:Campaign {{campaign_id: {at['campaign_id']}}})")
    props = ", ".join(f"{c}: {at[c]}" for c in cols)
    write = f"CREATE (n:{label} {{{props}}})"
    if extras:
        write += f" SET n += r[{len(cols)}]"
    if edge:
        write += f" CREATE (c)-[:{edge}]->(n)"
    if file == "campaign_touches":
        write += " CREATE (n)-[:OF]->(k)"
    lines.append(write)
    lines += [
        _LINK.format(var=f"x{i}", label=lab, key=k, col=col, rel=rel, verb="CREATE").replace(f"r.{col}}}", f"{at[col]}}}")
        for i, (lab, k, col, rel) in enumerate(links)
    ]
    lines.append("RETURN count(n) AS written")
    return "\n".join(lines)


UPSERT: dict[str, str] = {file: _statement(file, "MERGE") for file in NODE_PLAN}
"""Contract file -> its repeatable batched upsert of row maps (referrals are split by kind, below)."""

CREATE_NEW: dict[str, str] = {file: _create(file, extras=False) for file in NODE_PLAN}
"""Contract file -> the faster write for rows whose key is not in the graph yet (rows as lists)."""

CREATE_NEW_EXTRAS: dict[str, str] = {file: _create(file, extras=True) for file in NODE_PLAN}
"""The same, for files with extra columns: each row list ends with a map of those columns."""

KEY_OF_FILE: dict[str, tuple[str, str]] = {file: (v[0], v[1]) for file, v in NODE_PLAN.items()}
"""Contract file -> (label, key property) of the nodes its rows become."""

KEY_LOOKUP: dict[str, str] = {
    label: f"UNWIND $ids AS id MATCH (n:{label} {{{key}: id}}) RETURN n.{key} AS id"
    for label, key in sorted(set(KEY_OF_FILE.values()))
}
"""Which of ``$ids`` already exist: references to earlier loads, and which rows are new."""

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


ROW_BY_ROW_TRANSACTION = (
    "MATCH (c:Customer {customer_id: $customer_id})\n"
    "MERGE (n:Transaction {transaction_id: $transaction_id}) SET n += $props MERGE (c)-[:MADE]->(n)\n"
    "WITH n OPTIONAL MATCH (p:Product {product_id: $product_id})\n"
    "FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | MERGE (n)-[:FOR]->(p))\n"
    "WITH n OPTIONAL MATCH (h:Channel {channel_id: $channel_id})\n"
    "FOREACH (_ IN CASE WHEN h IS NULL THEN [] ELSE [1] END | MERGE (n)-[:VIA]->(h))"
)
"""The usual one-statement-per-row loop, kept only as the benchmark's baseline: it writes the
same node and edges as the batched load of a transaction row."""


GRAPH_IS_EMPTY = "MATCH (n) RETURN count(n) AS nodes"
"""How many nodes the graph holds: the bulk build is only for an empty graph."""
