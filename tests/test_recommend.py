"""Recommendations: scores, reasons and exclusions checked against pandas over the same CSV rows."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from graph.errors import InputError, NotFoundError
from loaders.load import load_folder
from queries.recommend import RecommendSettings, clear_popularity_cache, recommend
from support.recommend_reference import expected_recommendations, generated_world

SMALL = RecommendSettings(max_seeds=3, per_seed=4, seed_buyer_budget=45)
FLAT = RecommendSettings(shared_power=0.0)  # every co-buyer counts the same


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
