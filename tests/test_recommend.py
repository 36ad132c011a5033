"""Recommendations: scores, reasons and exclusions checked against pandas over the same CSV rows."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from graph.errors import InputError, NotFoundError
from loaders.generate import generate
from loaders.load import load_folder
from queries.recommend import RecommendSettings, clear_popularity_cache, recommend

SMALL = RecommendSettings(max_seeds=3, per_seed=4, seed_buyer_budget=45)
FLAT = RecommendSettings(shared_power=0.0)  # every co-buyer counts the same


def _epoch(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, utc=True, format="ISO8601")
    return (stamps - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)


def valid_transactions(folder: Path, truth) -> pd.DataFrame:
    """The transaction rows the loader keeps: planted bad rows and exact duplicates dropped."""
    df = pd.read_csv(folder / "transactions.csv", dtype=str, keep_default_na=False)
    bad = {m["row"] for m in truth.malformed if m["file"] == "transactions.csv"}
    df = df[[i + 1 not in bad for i in range(len(df))]].drop_duplicates()
    df = df[df.product_id != ""].copy()
    df["ts"] = _epoch(df.occurred_at)
    return df[["customer_id", "product_id", "ts"]]


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


@pytest.fixture(scope="module")
def world(server, tmp_path_factory):
    """A generated data set (300 accounts, planted taste communities) loaded once for this module."""
    yield from generated_world(server, tmp_path_factory, "rec", customers=300, seed=11)


def _people(tx: pd.DataFrame, person_of: dict[str, tuple[str, ...]], n: int) -> list[str]:
    """Buyers to check: some multi-account persons first, then single accounts."""
    buyers = sorted(set(tx.customer_id))
    multi = [c for c in buyers if len(person_of.get(c, (c,))) > 1][: n // 2]
    single = [c for c in buyers if len(person_of.get(c, (c,))) == 1][: n - len(multi)]
    return multi + single


def _compare(got: list[dict], want: list[dict]) -> None:
    assert [g["product_id"] for g in got] == [w["product_id"] for w in want]
    assert [g["score"] for g in got] == pytest.approx([w["score"] for w in want], rel=1e-9, abs=1e-9)
    assert [g["reasons"] for g in got] == [w["reasons"] for w in want]
    assert all(g["source"] == "co-purchase" for g in got)


@pytest.mark.parametrize("settings", [SMALL, RecommendSettings(), FLAT], ids=["small-caps", "defaults", "flat-co-buyers"])
def test_co_purchase_scores_match_pandas(world, settings):
    graph, tx, person_of, _ = world
    ref_ts = int(tx.ts.max()) + 86400
    for cid in _people(tx, person_of, 8):
        accounts = set(person_of.get(cid, (cid,)))
        got = recommend(graph, cid, k=10, now=ref_ts, settings=settings)
        _compare(got, expected_recommendations(tx, accounts, 10, ref_ts, settings))


def test_before_ts_hides_later_purchases(world):
    graph, tx, person_of, _ = world
    cutoff = int(tx.ts.quantile(0.8))
    earlier = tx[tx.ts < cutoff]
    clear_popularity_cache()
    for cid in _people(earlier, person_of, 6):
        accounts = set(person_of.get(cid, (cid,)))
        got = recommend(graph, cid, k=10, before_ts=cutoff, settings=SMALL)
        _compare(got, expected_recommendations(earlier, accounts, 10, cutoff, SMALL))


def test_never_recommends_what_the_person_owns(world):
    graph, tx, person_of, _ = world
    for cid in _people(tx, person_of, 10):
        accounts = set(person_of.get(cid, (cid,)))
        owned = set(tx[tx.customer_id.isin(accounts)].product_id)
        items = recommend(graph, cid, k=20)
        assert items, cid
        assert not owned & {i["product_id"] for i in items}
        for item in items:  # reasons are the person's own purchases
            assert set(item["reasons"]) <= owned and item["reasons"]
            assert item["name"] and item["category"]
        scores = [i["score"] for i in items]
        assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(1.0)


def test_every_account_of_a_person_gets_the_same_list(world):
    graph, tx, person_of, _ = world
    person = next(ids for ids in sorted(set(person_of.values())) if len(ids) > 1 and tx.customer_id.isin(ids).any())
    lists = [recommend(graph, cid, k=10) for cid in person]
    assert all(lst == lists[0] for lst in lists)
    person_id = "p-" + min(person)
    assert recommend(graph, person_id, k=10) == lists[0]


def test_unknown_customer_and_bad_k(world):
    graph, *_ = world
    with pytest.raises(NotFoundError):
        recommend(graph, "nobody-000")
    with pytest.raises(InputError):
        recommend(graph, "crm-000001", k=0)


def _write(folder: Path, name: str, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)


SIMILAR = "UNWIND $rows AS r MATCH (a:Customer {customer_id: r.a}) MATCH (b:Customer {customer_id: r.b}) CREATE (a)-[:SIMILAR_TO {score: r.score}]->(b)"


def test_look_alike_neighbours_are_blended_in(graph, tmp_path):
    """u shares nothing with v or w; only their SIMILAR_TO edges bring v's and w's products in."""
    ids = ["u", "v", "w", "x"]
    _write(tmp_path, "customers", [{"customer_id": c, "source": "crm"} for c in ids])
    _write(tmp_path, "products", [{"product_id": p, "name": p.upper(), "category": "books"} for p in ["p1", "p2", "p3", "p4", "p5"]])
    lines = [("u", "p1"), ("x", "p1"), ("x", "p2"), ("v", "p3"), ("w", "p4"), ("w", "p3"), ("x", "p5")]
    _write(tmp_path, "transactions", [
        {"transaction_id": f"t{i}", "customer_id": c, "product_id": p, "occurred_at": "2024-03-01", "amount": 10}
        for i, (c, p) in enumerate(lines)
    ])
    load_folder(graph, tmp_path, report_dir=tmp_path / "report")
    before = recommend(graph, "u", k=10, now=1709251200)
    # co-purchase only: x bought p1 like u, so p2 and p5 (1 buyer each, equal raw) tie -> id order
    assert [(i["product_id"], i["source"], i["reasons"]) for i in before] == [
        ("p2", "co-purchase", ["p1"]), ("p5", "co-purchase", ["p1"])]
    graph.write(SIMILAR, {"rows": [{"a": "u", "b": "v", "score": 0.9}, {"a": "u", "b": "w", "score": 0.5}]})
    after = recommend(graph, "u", k=10, now=1709251200)
    by_id = {i["product_id"]: i for i in after}
    # look-alike raw: p3 = 0.9 + 0.5 (v and w), p4 = 0.5; both have 2 and 1 buyers
    p3 = 1.4 / math.log(4)
    p4 = 0.5 / math.log(3)
    assert by_id["p3"]["source"] == "look-alike" and by_id["p3"]["reasons"] == ["v", "w"]
    assert by_id["p4"]["reasons"] == ["w"]
    assert by_id["p4"]["score"] == pytest.approx(p4 / p3)
    assert by_id["p3"]["score"] == pytest.approx(1.0)
    assert by_id["p2"]["source"] == "co-purchase"
    assert [i["product_id"] for i in after][0] == "p2"  # 1.0 co-purchase; ties with p3 broken by id


def test_co_buyers_who_share_more_of_the_history_count_more(graph, tmp_path):
    """Seed p2 (u's latest) leads to x, z and w; x also shares p1 with u, so x's p3 outweighs p4 of z and w."""
    ids = ["u", "x", "z", "w"]
    _write(tmp_path, "customers", [{"customer_id": c, "source": "crm"} for c in ids])
    _write(tmp_path, "products", [{"product_id": p, "name": p.upper(), "category": "books"} for p in ["p1", "p2", "p3", "p4"]])
    lines = [("u", "p1", "2024-02-01"), ("u", "p2", "2024-03-01"), ("x", "p1", "2024-03-01"), ("x", "p2", "2024-03-01"),
             ("x", "p3", "2024-03-01"), ("z", "p2", "2024-03-01"), ("z", "p4", "2024-03-01"), ("w", "p2", "2024-03-01"),
             ("w", "p4", "2024-03-01")]
    _write(tmp_path, "transactions", [
        {"transaction_id": f"t{i}", "customer_id": c, "product_id": p, "occurred_at": d, "amount": 10}
        for i, (c, p, d) in enumerate(lines)
    ])
    load_folder(graph, tmp_path, report_dir=tmp_path / "report")
    clear_popularity_cache()
    now = 1709251200  # 2024-03-01: every co-buyer line has recency weight 1
    one_seed = RecommendSettings(max_seeds=1)
    # x shares 2 products (weight 2^2 = 4), z and w share 1 each; p3 has 1 buyer, p4 has 2
    got = recommend(graph, "u", k=10, now=now, settings=one_seed)
    assert [(i["product_id"], i["reasons"]) for i in got] == [("p3", ["p2"]), ("p4", ["p2"])]
    assert got[1]["score"] == pytest.approx((2 / math.log(4)) / (4 / math.log(3)))
    flat = recommend(graph, "u", k=10, now=now, settings=RecommendSettings(max_seeds=1, shared_power=0.0))
    assert [i["product_id"] for i in flat] == ["p4", "p3"]  # 2 co-buyers of p4 against 1 of p3
    assert flat[1]["score"] == pytest.approx((1 / math.log(3)) / (2 / math.log(4)))
