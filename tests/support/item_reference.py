"""Item neighbours and the table-walk recommendation, written from the documented formulas in plain
Python (no scipy, no graph), so the library's and the engine's results are checked against them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable


def expected_neighbours(
    pairs: Iterable[tuple[str, str]], *, top_n: int, alpha: float, min_together: int = 1
) -> dict[str, list[tuple[str, float, int]]]:
    """product -> [(other, score, together)] best first (ties by other id), from (buyer, product) pairs."""
    buyers: dict[str, set[str]] = defaultdict(set)
    for buyer, product in pairs:
        buyers[product].add(buyer)
    by_buyer: dict[str, set[str]] = defaultdict(set)
    for product, who in buyers.items():
        for b in who:
            by_buyer[b].add(product)
    out: dict[str, list[tuple[str, float, int]]] = {}
    for i in sorted(buyers):
        together: dict[str, int] = defaultdict(int)
        for b in buyers[i]:
            for j in by_buyer[b]:
                if j != i:
                    together[j] += 1
        scored = [
            (j, round(n / (len(buyers[i]) ** alpha * len(buyers[j]) ** (1 - alpha)), 12), n)
            for j, n in together.items()
            if n >= min_together
        ]
        scored.sort(key=lambda t: (-t[1], t[0]))
        if scored:
            out[i] = scored[:top_n]
    return out


def expected_table_recommendations(
    neighbours: dict[str, list[tuple[str, float, int]]],
    history: dict[str, int],
    *,
    k: int,
    ref_ts: int,
    half_life_days: float,
    item_seeds: int,
    max_reasons: int,
    candidates: int,
) -> list[dict]:
    """The table walk: ``history`` is product -> the person's last purchase time of it."""
    recent = sorted(history, key=lambda p: (-history[p], p))[:item_seeds]
    contributions: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for seed in recent:
        weight = 0.5 ** ((ref_ts - history[seed]) / (half_life_days * 86400.0))
        for other, score, _ in neighbours.get(seed, []):
            if other not in history:
                contributions[other].append((weight * score, seed))
    raw = {p: sum(w for w, _ in c) for p, c in contributions.items()}
    kept = sorted(raw, key=lambda p: (-raw[p], p))[:candidates]
    if not kept:
        return []
    best = raw[kept[0]]
    ranked = sorted(kept, key=lambda p: (-raw[p] / best, p))[:k]
    return [
        {
            "product_id": p,
            "score": raw[p] / best,
            "reasons": [s for _, s in sorted(contributions[p], key=lambda c: (-c[0], c[1]))][:max_reasons],
        }
        for p in ranked
    ]
