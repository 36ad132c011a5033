"""Neighbour-based product recommendations: "customers who bought what you bought also bought".

Two sources, blended:

* **co-purchase** (item-item), read one of two ways:

  - from the precomputed ``(:Product)-[:BOUGHT_WITH {score}]->(:Product)`` neighbours
    (:mod:`analytics.item_neighbours`; ``c360 item-neighbours`` builds them): each product
    the person owns adds its neighbours' scores times a recency weight of the person's last
    purchase of it. The neighbour score already divides by the neighbour's popularity, so
    best-sellers do not win every list. One short query: the fast path the API uses.
  - without those edges, live: from the person's most recent purchases to other buyers of
    the same products (the person's own accounts excluded), to what those buyers bought.
    Each co-bought product sums, over the co-buyers' purchase lines, a recency weight times
    the co-buyer's closeness (``shared ^ 2``: how many distinct products the co-buyer and the
    person both bought), divided by ``log(2 + buyers)``.
* **look-alike** (user-user): when ``(:Customer)-[:SIMILAR_TO {score}]->(:Customer)`` edges
  exist, the neighbours' purchases weighted by similarity and recency (same divisor).

Each source's scores are scaled to [0, 1] by its best item, then summed; an item's ``source``
is the one that contributed more and ``reasons`` are that source's seed products or
neighbours. See ``docs/recommendations.md`` for the exact formula.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from graph.backend import GraphBackend
from graph.errors import InputError, NotFoundError
from queries.item_neighbours import CURRENT_BUILD

__all__ = [
    "RECOMMEND_ACCOUNTS",
    "PERSON_ACCOUNTS",
    "PURCHASE_HISTORY",
    "CO_BUYERS",
    "CO_PURCHASE",
    "CO_PURCHASE_REASONS",
    "ITEM_CO_PURCHASE",
    "WALKS",
    "clear_item_neighbours_cache",
    "item_neighbours_present",
    "LOOKALIKE",
    "PRODUCT_POPULARITY",
    "EVAL_LAST_PURCHASE",
    "EVAL_RECENT_BUYERS",
    "CATALOGUE_SIZE",
    "RecommendSettings",
    "recommend",
    "person_accounts",
    "resolve_customer",
    "pick_seeds",
    "purchase_history",
    "product_popularity",
    "clear_popularity_cache",
    "NO_CUTOFF",
]

NO_CUTOFF = 2**62
"""``before_ts`` meaning "every purchase counts" (epoch seconds far in the future)."""

RECOMMEND_ACCOUNTS = """
MATCH (c:Customer {customer_id: $customer_id})
OPTIONAL MATCH (c)-[:BELONGS_TO]->(:Person)<-[:BELONGS_TO]-(a:Customer)
RETURN c.customer_id AS customer_id, collect(DISTINCT a.customer_id) AS linked
""".strip()
"""The customer and every account of the same person (empty ``linked`` without identity links)."""

PERSON_ACCOUNTS = """
MATCH (p:Person {person_id: $person_id})<-[:BELONGS_TO]-(c:Customer)
RETURN c.customer_id AS customer_id
ORDER BY customer_id
""".strip()
"""The accounts of a person id (so every call also accepts ``p-...`` ids)."""

PURCHASE_HISTORY = """
UNWIND $accounts AS aid
MATCH (c:Customer {customer_id: aid})
WITH c
MATCH (c)-[:MADE]->(t:Transaction)-[:FOR]->(p:Product)
WHERE t.ts < $before_ts
RETURN p.product_id AS product_id, p.category AS category,
       min(t.ts) AS first_ts, max(t.ts) AS last_ts, count(t) AS lines
ORDER BY last_ts DESC, product_id
""".strip()
"""Products bought by any of ``$accounts`` before ``$before_ts``, most recent first."""

CO_BUYERS = """
UNWIND $seeds AS seed
MATCH (sp:Product {product_id: seed})
WITH seed, sp
MATCH (sp)<-[:FOR]-(t:Transaction)
WHERE t.ts < $before_ts AND NOT t.customer_id IN $accounts
WITH seed, t.customer_id AS buyer, max(t.ts) AS seen_ts
ORDER BY seen_ts DESC, buyer
WITH seed, collect(buyer)[..$per_seed] AS buyers
UNWIND buyers AS buyer
WITH buyer, collect(seed) AS via
RETURN buyer, via
ORDER BY buyer
""".strip()
"""Co-buyers: per seed product the ``$per_seed`` most recent other buyers, with the seeds they share.

The person's own accounts are excluded by id (FalkorDB can bind a converging pattern's two
ends to the same node). Uses the foreign-key properties the loader keeps on Transaction
(``customer_id``, ``product_id``): one hop fewer per purchase line.
"""

CO_PURCHASE = """
UNWIND $buyers AS b
MATCH (o:Customer {customer_id: b})
WITH o
MATCH (o)-[:MADE]->(t:Transaction)
WHERE t.ts < $before_ts AND t.product_id IN $owned
WITH o, count(DISTINCT t.product_id) AS shared
MATCH (o)-[:MADE]->(t:Transaction)
WHERE t.ts < $before_ts AND NOT t.product_id IN $owned
WITH t.product_id AS pid, sum(shared ^ $shared_power * 0.5 ^ (($ref_ts - t.ts) / $half_life)) AS raw
ORDER BY raw DESC, pid
LIMIT $candidates
RETURN pid AS product_id, raw
""".strip()
"""What the co-buyers bought (not owned by the person), each line weighted by recency and by
the co-buyer's closeness: ``shared ^ $shared_power``, where ``shared`` is the number of distinct
products the co-buyer and the person both bought (at least 1: the seed that led to them)."""

CO_PURCHASE_REASONS = """
UNWIND $buyers AS b
MATCH (o:Customer {customer_id: b})
WITH o, b
MATCH (o)-[:MADE]->(t:Transaction)
WHERE t.ts < $before_ts AND t.product_id IN $products
RETURN b AS buyer, collect(DISTINCT t.product_id) AS products
ORDER BY buyer
""".strip()
"""Which co-buyers bought which of the final products (to name the seed products behind each)."""

ITEM_CO_PURCHASE = """
OPTIONAL MATCH (m:ItemNeighbours {key: 'bought_with'})
WITH coalesce($build, m.build) AS build
UNWIND $seeds AS s
MATCH (p:Product {product_id: s.product_id})
WITH build, s, p
MATCH (p)-[n:BOUGHT_WITH]->(q:Product)
WHERE n.build = build AND NOT q.product_id IN $owned
WITH q.product_id AS pid, s.product_id AS seed, s.weight * n.score AS w
ORDER BY w DESC, seed
WITH pid, sum(w) AS raw, collect(seed) AS via
ORDER BY raw DESC, pid
LIMIT $candidates
RETURN pid AS product_id, raw, via[..$max_reasons] AS reasons
""".strip()
"""Item-item from the stored neighbours: ``$seeds`` is ``[{product_id, weight}]`` (the person's
products and their recency weights); each neighbour not owned sums ``weight * score`` over
the seeds, and its reasons are the seeds that gave it the most. ``$build`` null reads the
current build (resolved in the same statement, so a rebuild never shows half a set). The
``WITH`` after the seed lookup keeps FalkorDB 1.4.1 from scanning every product per seed."""

LOOKALIKE = """
UNWIND $accounts AS aid
MATCH (c:Customer {customer_id: aid})
WITH c
MATCH (c)-[s:SIMILAR_TO]->(o:Customer)
WHERE NOT o.customer_id IN $accounts
WITH o, max(s.score) AS sim
ORDER BY sim DESC, o.customer_id
LIMIT $neighbours
MATCH (o)-[:MADE]->(t:Transaction)
WHERE t.ts < $before_ts AND NOT t.product_id IN $owned
WITH o, sim, t.product_id AS pid, max(t.ts) AS last_ts
WITH pid, o, sim * 0.5 ^ (($ref_ts - last_ts) / $half_life) AS w
ORDER BY w DESC, o.customer_id
WITH pid, sum(w) AS raw, collect(o.customer_id) AS neighbours
ORDER BY raw DESC, pid
LIMIT $candidates
RETURN pid AS product_id, raw, neighbours[..$max_reasons] AS reasons
""".strip()
"""User-user: purchases of the person's look-alike neighbours (``SIMILAR_TO`` edges), similarity-weighted."""

PRODUCT_POPULARITY = """
MATCH (t:Transaction)
WHERE t.ts < $before_ts AND t.product_id IS NOT NULL
WITH t.product_id AS pid, count(DISTINCT t.customer_id) AS buyers
MATCH (p:Product {product_id: pid})
RETURN pid AS product_id, p.name AS name, p.category AS category, buyers
""".strip()
"""Distinct buying accounts per product before ``$before_ts`` (the popularity divisor and baseline)."""

EVAL_LAST_PURCHASE = "MATCH (t:Transaction) RETURN max(t.ts) AS last_ts, count(t) AS lines"
"""Time of the latest purchase line (the evaluation holds out the days before it)."""

EVAL_RECENT_BUYERS = """
MATCH (c:Customer)-[:MADE]->(t:Transaction)
WHERE t.ts >= $cutoff
WITH DISTINCT c
OPTIONAL MATCH (c)-[:BELONGS_TO]->(p:Person)
WITH coalesce(p.person_id, c.customer_id) AS person, c.customer_id AS customer_id
RETURN person, min(customer_id) AS customer_id
ORDER BY person
""".strip()
"""One account per person who bought something at or after ``$cutoff``."""

CATALOGUE_SIZE = "MATCH (p:Product) RETURN count(p) AS products"


@dataclass(frozen=True)
class RecommendSettings:
    """Fan-out caps and weights (defaults keep one call well under 30 ms on 1M purchase lines)."""

    max_seeds: int = 10
    """Only the person's most recently bought products seed the co-purchase walk."""
    seed_buyer_budget: int = 2000
    """Seeds are taken in recency order while their buyer counts add up to at most this
    (a best-seller says little about taste and costs the most to walk); if none fits, the
    least bought product is the one seed."""
    per_seed: int = 20
    """Co-buyers considered per seed product (the most recent ones)."""
    neighbours: int = 50
    """Look-alike neighbours considered."""
    candidates: int = 300
    """Candidates kept per source (by raw score) before the popularity divisor."""
    shared_power: float = 2.0
    """A co-buyer's weight is (distinct products shared with the person) ^ this: the more of
    the person's products a co-buyer also bought, the more their purchases count (0: all equal)."""
    half_life_days: float = 180.0
    """A purchase this old counts half as much as one made at the reference time."""
    max_reasons: int = 5
    lookalike_weight: float = 1.0
    """Weight of the look-alike source in the blend (co-purchase has weight 1; 0 skips it)."""
    popularity_penalty: str = "log"
    """Divisor of raw scores by the product's distinct buyers b: "log" = log(2 + b), "sqrt" = sqrt(1 + b), "none"."""
    popularity_ttl_s: float = 300.0
    """How long product popularity is cached per graph and cutoff."""
    walk: str = "auto"
    """Co-purchase source: "table" (the stored ``BOUGHT_WITH`` neighbours), "live" (walk the
    co-buyers' purchases per call) or "auto" (table when a build exists, else live)."""
    item_seeds: int = 50
    """Table walk: the person's most recently bought products whose neighbours count."""
    presence_ttl_s: float = 30.0
    """How long "is there a ``BOUGHT_WITH`` build" is cached per graph (auto walk)."""


WALKS = ("auto", "table", "live")


DEFAULTS = RecommendSettings()

class _PerGraphCache:
    """Values computed from a graph, kept ``ttl_s`` seconds per graph object and key. Weakly
    keyed, so a closed backend's entries go with it; a backend that cannot be weakly referenced
    is simply not cached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: "weakref.WeakKeyDictionary[Any, dict[Any, tuple[float, Any]]]" = weakref.WeakKeyDictionary()

    def get(self, graph: GraphBackend, key: Any, ttl_s: float, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            per_graph = self._entries.get(graph)
            hit = per_graph.get(key) if per_graph else None
            if hit and now - hit[0] < ttl_s:
                return hit[1]
        value = compute()
        with self._lock:
            try:
                self._entries.setdefault(graph, {})[key] = (now, value)
            except TypeError:
                pass
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_popularity_cache = _PerGraphCache()
_presence_cache = _PerGraphCache()


def clear_item_neighbours_cache() -> None:
    """Forget whether graphs have a ``BOUGHT_WITH`` build (call after building one in this process)."""
    _presence_cache.clear()


def item_neighbours_present(graph: GraphBackend, *, ttl_s: float = 30.0) -> bool:
    """True when the graph has a current ``BOUGHT_WITH`` build (cached ``ttl_s`` seconds)."""
    return _presence_cache.get(graph, None, ttl_s, lambda: bool(graph.read(CURRENT_BUILD)))


def clear_popularity_cache() -> None:
    """Forget cached popularity (call after loading new transactions in the same process)."""
    _popularity_cache.clear()


def product_popularity(
    graph: GraphBackend, *, before_ts: int = NO_CUTOFF, ttl_s: float = DEFAULTS.popularity_ttl_s
) -> dict[str, dict[str, Any]]:
    """``product_id -> {name, category, buyers}`` for every bought product (cached ``ttl_s`` seconds).

    Counting buyers touches every purchase line, so it is done once per graph and cutoff,
    not once per recommendation.
    """
    def compute() -> dict[str, dict[str, Any]]:
        rows = graph.read(PRODUCT_POPULARITY, {"before_ts": int(before_ts)})
        return {r["product_id"]: {"name": r["name"], "category": r["category"], "buyers": int(r["buyers"])} for r in rows}

    return _popularity_cache.get(graph, before_ts, ttl_s, compute)


def resolve_customer(graph: GraphBackend, customer_id: str) -> tuple[str, list[str]]:
    """``(account id, all accounts of its person)`` for an account id or a person id.

    A person id resolves to its smallest account id. Raises NotFoundError when neither exists.
    """
    rows = graph.read(RECOMMEND_ACCOUNTS, {"customer_id": str(customer_id)})
    if rows:
        return rows[0]["customer_id"], sorted({rows[0]["customer_id"], *(rows[0]["linked"] or [])})
    accounts = [r["customer_id"] for r in graph.read(PERSON_ACCOUNTS, {"person_id": str(customer_id)})]
    if accounts:
        return accounts[0], accounts
    raise NotFoundError(f"no customer with id {customer_id!r}")


def person_accounts(graph: GraphBackend, customer_id: str) -> list[str]:
    """Every account of the customer's person (just the customer without identity links)."""
    return resolve_customer(graph, customer_id)[1]


def purchase_history(graph: GraphBackend, accounts: Iterable[str], *, before_ts: int = NO_CUTOFF) -> list[dict[str, Any]]:
    """Products the accounts bought before ``before_ts``: product_id, category, first_ts, last_ts, lines."""
    return graph.read(PURCHASE_HISTORY, {"accounts": list(accounts), "before_ts": int(before_ts)})


def pick_seeds(owned: list[str], popularity: dict[str, dict[str, Any]], settings: RecommendSettings = DEFAULTS) -> list[str]:
    """The seed products of the co-purchase walk, from products in recency order (see ``seed_buyer_budget``)."""
    seeds: list[str] = []
    spent = 0
    for pid in owned:
        if len(seeds) >= settings.max_seeds:
            break
        buyers = popularity.get(pid, {}).get("buyers", 0)
        if spent + buyers <= settings.seed_buyer_budget:
            seeds.append(pid)
            spent += buyers
    if not seeds and owned:
        seeds = [min(owned, key=lambda pid: (popularity.get(pid, {}).get("buyers", 0), pid))]
    return seeds


def _epoch(value: datetime | int | float | None) -> int:
    if value is None:
        return int(time.time())
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp())
    return int(value)


def _penalty(buyers: int, kind: str) -> float:
    if kind == "log":
        return math.log(2.0 + buyers)
    if kind == "sqrt":
        return math.sqrt(1.0 + buyers)
    if kind == "none":
        return 1.0
    raise InputError(f"unknown popularity penalty {kind!r} (log, sqrt or none)")


def _scaled(
    rows: list[dict[str, Any]], pop: dict[str, dict[str, Any]], penalty: str = "log"
) -> dict[str, tuple[float, dict[str, Any]]]:
    """product_id -> (raw / penalty(buyers) scaled so the best item is 1, row)."""
    scored = {}
    for r in rows:
        buyers = pop.get(r["product_id"], {}).get("buyers", 0)
        scored[r["product_id"]] = (float(r["raw"]) / _penalty(buyers, penalty), r)
    top = max((s for s, _ in scored.values()), default=0.0)
    if top <= 0:
        return {}
    return {pid: (s / top, r) for pid, (s, r) in scored.items()}


def recommend(
    graph: GraphBackend,
    customer_id: str,
    *,
    k: int = 10,
    now: datetime | int | None = None,
    before_ts: int | None = None,
    settings: RecommendSettings = DEFAULTS,
    item_build: str | None = None,
) -> list[dict[str, Any]]:
    """Top ``k`` products for the customer's person, each with its score, reasons and source.

    Parameters
    ----------
    graph : the backend.
    customer_id : any account of the person; all the person's accounts count.
    k : list length (1-1000).
    now : reference time for recency weights (datetime or epoch seconds; default: the clock,
        or ``before_ts`` when that is given).
    before_ts : only purchases strictly before this epoch second are used (offline evaluation
        hides later purchases this way instead of deleting data).
    item_build : read this ``BOUGHT_WITH`` build instead of the current one (the offline
        evaluation's, built from purchases before its cutoff); implies the table walk.

    Returns
    -------
    list of ``{product_id, name, category, score, reasons, source}``, best first; ties are
    broken by ``product_id``. Empty when the person bought nothing and has no look-alikes.
    """
    if not 1 <= int(k) <= 1000:
        raise InputError("k must be between 1 and 1000")
    if settings.walk not in WALKS:
        raise InputError(f"unknown walk {settings.walk!r} (use one of: {', '.join(WALKS)})")
    cutoff = NO_CUTOFF if before_ts is None else int(before_ts)
    ref_ts = _epoch(now) if (now is not None or before_ts is None) else cutoff
    accounts = person_accounts(graph, customer_id)
    history = purchase_history(graph, accounts, before_ts=cutoff)
    owned = [h["product_id"] for h in history]
    table = item_build is not None or settings.walk == "table" or (
        settings.walk == "auto" and bool(owned) and item_neighbours_present(graph, ttl_s=settings.presence_ttl_s)
    )
    pop = product_popularity(graph, before_ts=cutoff, ttl_s=settings.popularity_ttl_s) if owned and not table else {}
    seeds = [] if table else pick_seeds(owned, pop, settings)
    params = {
        "accounts": accounts,
        "owned": owned,
        "before_ts": cutoff,
        "ref_ts": ref_ts,
        "half_life": settings.half_life_days * 86400.0,
        "candidates": settings.candidates,
        "max_reasons": settings.max_reasons,
    }
    via: dict[str, list[str]] = {}
    co_rows: list[dict[str, Any]] = []
    if table and owned:
        half_life = params["half_life"]
        weighted = [
            {"product_id": h["product_id"], "weight": 0.5 ** ((ref_ts - int(h["last_ts"])) / half_life)}
            for h in history[: settings.item_seeds]
        ]
        co_rows = graph.read(ITEM_CO_PURCHASE, {**params, "seeds": weighted, "build": item_build})
    if seeds:
        via = {r["buyer"]: list(r["via"]) for r in graph.read(CO_BUYERS, {**params, "seeds": seeds, "per_seed": settings.per_seed})}
    if via:
        co_rows = graph.read(CO_PURCHASE, {**params, "buyers": sorted(via), "shared_power": float(settings.shared_power)})
    la_rows = graph.read(LOOKALIKE, {**params, "neighbours": settings.neighbours}) if settings.lookalike_weight > 0 else []
    if not co_rows and not la_rows:
        return []
    pop = pop or product_popularity(graph, before_ts=cutoff, ttl_s=settings.popularity_ttl_s)
    # the stored neighbour scores already divide by the neighbour's popularity
    co = _scaled(co_rows, pop, "none" if table else settings.popularity_penalty)
    la = _scaled(la_rows, pop, settings.popularity_penalty)
    items = []
    for pid in set(co) | set(la):
        c_score = co.get(pid, (0.0, None))[0]
        l_score, l_row = la.get(pid, (0.0, None))
        l_score *= settings.lookalike_weight
        use_co = c_score >= l_score
        if not use_co:
            reasons = list(l_row["reasons"])
        else:  # the live walk names its seeds afterwards, for the final list only
            reasons = list(co[pid][1]["reasons"]) if table else []
        info = pop.get(pid, {})
        items.append(
            {
                "product_id": pid,
                "name": info.get("name"),
                "category": info.get("category"),
                "score": round(c_score + l_score, 12),
                "reasons": reasons,
                "source": "co-purchase" if use_co else "look-alike",
            }
        )
    items.sort(key=lambda it: (-it["score"], it["product_id"]))
    top = items[: int(k)]
    if not table:
        _co_reasons(graph, top, via, seeds, cutoff, settings.max_reasons)
    return top


def _co_reasons(
    graph: GraphBackend, items: list[dict[str, Any]], via: dict[str, list[str]], seeds: list[str], cutoff: int, limit: int
) -> None:
    """Fill ``reasons`` of co-purchase items: the seeds whose co-buyers bought the item, most shared first."""
    wanted = [it["product_id"] for it in items if it["source"] == "co-purchase"]
    if not wanted:
        return
    rows = graph.read(CO_PURCHASE_REASONS, {"buyers": sorted(via), "products": wanted, "before_ts": cutoff})
    rank = {seed: i for i, seed in enumerate(seeds)}
    counts: dict[str, dict[str, int]] = {pid: {} for pid in wanted}
    for r in rows:
        for pid in r["products"]:
            for seed in via.get(r["buyer"], []):
                counts[pid][seed] = counts[pid].get(seed, 0) + 1
    for it in items:
        if it["source"] == "co-purchase":
            c = counts[it["product_id"]]
            it["reasons"] = sorted(c, key=lambda seed: (-c[seed], rank.get(seed, len(rank)), seed))[:limit]
