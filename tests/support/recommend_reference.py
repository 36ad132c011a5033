"""The live co-buyer walk written independently over CSV rows, and a generated, loaded data set:
shared by the recommendation, evaluation and item-neighbour tests."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import pandas as pd

from benchmarks.taste import valid_purchases
from loaders.generate import generate
from loaders.load import load_folder
from queries.recommend import RecommendSettings, clear_popularity_cache


def valid_transactions(folder: Path, truth) -> pd.DataFrame:
    """The transaction rows the loader keeps: planted bad rows and exact duplicates dropped."""
    return valid_purchases(folder, truth.malformed)


_INDEX: dict[int, tuple[pd.DataFrame, dict]] = {}


def _index(tx: pd.DataFrame) -> dict:
    """Plain-Python lookups over the rows, built once per frame (keeps the pandas check fast)."""
    hit = _INDEX.get(id(tx))
    if hit is not None and hit[0] is tx:
        return hit[1]
    last = tx.groupby(["product_id", "customer_id"]).ts.max()
    by_product: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (pid, cid), ts in last.items():
        by_product[pid].append((cid, int(ts)))
    lines: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for cid, pid, ts in zip(tx.customer_id, tx.product_id, tx.ts):
        lines[cid].append((pid, int(ts)))
    data = {"by_product": by_product, "lines": lines, "buyers": {p: len(v) for p, v in by_product.items()}}
    _INDEX[id(tx)] = (tx, data)
    return data


def expected_recommendations(tx: pd.DataFrame, accounts: set[str], k: int, ref_ts: int, s: RecommendSettings) -> list[dict]:
    """The documented co-purchase formula, written independently over the rows."""
    ix = _index(tx)
    buyers_per_product = ix["buyers"]
    mine: dict[str, int] = {}
    for cid in accounts:
        for pid, ts in ix["lines"].get(cid, []):
            mine[pid] = max(ts, mine.get(pid, ts))
    owned = set(mine)
    recent = sorted(mine, key=lambda p: (-mine[p], p))
    seeds, spent = [], 0  # most recent first, within the buyer budget
    for pid in recent:
        if len(seeds) < s.max_seeds and spent + buyers_per_product[pid] <= s.seed_buyer_budget:
            seeds.append(pid)
            spent += buyers_per_product[pid]
    if not seeds and recent:
        seeds = [min(recent, key=lambda p: (buyers_per_product[p], p))]
    via: dict[str, set[str]] = defaultdict(set)
    for seed in seeds:
        others = [(c, ts) for c, ts in ix["by_product"][seed] if c not in accounts]
        for c, _ in sorted(others, key=lambda x: (-x[1], x[0]))[: s.per_seed]:
            via[c].add(seed)
    raw: dict[str, float] = defaultdict(float)
    bought: dict[str, set[str]] = defaultdict(set)
    for b in via:
        shared = len({pid for pid, _ in ix["lines"][b]} & owned)  # >= 1: the seed that led to b
        for pid, ts in ix["lines"][b]:
            if pid not in owned:
                raw[pid] += float(shared) ** s.shared_power * 0.5 ** ((ref_ts - ts) / (s.half_life_days * 86400.0))
                bought[b].add(pid)
    if not raw:
        return []
    score = {p: r / math.log(2.0 + buyers_per_product[p]) for p, r in raw.items()}
    best = max(score.values())
    ranked = sorted(((p, v / best) for p, v in score.items()), key=lambda kv: (-kv[1], kv[0]))[:k]
    rank = {seed: i for i, seed in enumerate(seeds)}
    out = []
    for pid, value in ranked:
        counts: dict[str, int] = defaultdict(int)
        for b, products in bought.items():
            if pid in products:
                for seed in via[b]:
                    counts[seed] += 1
        reasons = sorted(counts, key=lambda seed: (-counts[seed], rank[seed], seed))[: s.max_reasons]
        out.append({"product_id": pid, "score": value, "reasons": reasons})
    return out


def generated_world(server, tmp_path_factory, name: str, **generate_args):
    """Generate, load and yield ``(backend, valid transactions, person_of, truth)``; drop the graph after."""
    from conftest import new_backend
    from graph.schema import apply_schema

    folder = tmp_path_factory.mktemp(f"{name}_data")
    truth = generate(folder, **generate_args)
    backend = new_backend(server)
    apply_schema(backend)
    load_folder(backend, folder, report_dir=tmp_path_factory.mktemp(f"{name}_report"))
    clear_popularity_cache()
    tx = valid_transactions(folder, truth)
    person_of = {cid: tuple(sorted(ids)) for ids in truth.persons.values() for cid in ids}
    yield backend, tx, person_of, truth
    backend.drop()
    backend.close()
