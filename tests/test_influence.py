"""Influence scores and referral reach, checked against NetworkX run directly."""

from __future__ import annotations

import random

import networkx as nx
import pandas as pd
import pytest

from analytics.influence import influence_graph, influence_scores, referral_reach
from graph.errors import InputError


def _edges(rows):
    return pd.DataFrame(rows, columns=["from_id", "to_id", "kind"])


def _referral_subgraph(G: nx.DiGraph) -> nx.DiGraph:
    R = nx.DiGraph()
    R.add_nodes_from(G)
    R.add_edges_from((u, v) for u, v, d in G.edges(data=True) if "referral" in d["kinds"])
    return R


def test_graph_sums_parallel_kinds_and_drops_self_loops():
    G = influence_graph(
        _edges(
            [
                ("a", "b", "referral"),
                ("a", "b", "mention"),
                ("b", "c", "social_follow"),
                ("c", "c", "referral"),
            ]
        )
    )
    assert G["a"]["b"]["weight"] == pytest.approx(1.0 + 0.3)
    assert G["a"]["b"]["kinds"] == ("mention", "referral")
    assert G["b"]["c"]["weight"] == pytest.approx(0.2)
    assert not nx.number_of_selfloops(G)
    assert set(G) == {"a", "b", "c"}


def test_graph_custom_weights_and_bad_input():
    G = influence_graph(_edges([("a", "b", "x")]), kind_weights={"x": 2.5})
    assert G["a"]["b"]["weight"] == 2.5
    with pytest.raises(InputError, match="unknown influence kind"):
        influence_graph(_edges([("a", "b", "gossip")]))
    with pytest.raises(InputError, match="to_id"):
        influence_graph(pd.DataFrame({"from_id": ["a"], "kind": ["referral"]}))


def test_hand_worked_referral_tree():
    # a referred b and c; b referred d; e follows a (a influences e, not a referral)
    G = influence_graph(
        _edges(
            [
                ("a", "b", "referral"),
                ("a", "c", "referral"),
                ("b", "d", "referral"),
                ("a", "e", "social_follow"),
            ]
        )
    )
    revenue = {"a": 1.0, "b": 10.0, "c": 20.0, "d": 40.0, "e": 80.0}
    out = influence_scores(G, revenue=revenue).set_index("customer_id")
    assert out.loc["a", ["reach_direct", "reach_total", "max_depth"]].tolist() == [2, 3, 2]
    assert out.loc["a", "referred_revenue"] == pytest.approx(70.0)
    assert out.loc["b", ["reach_direct", "reach_total", "max_depth"]].tolist() == [1, 1, 1]
    assert out.loc["b", "referred_revenue"] == pytest.approx(40.0)
    assert out.loc["e", ["reach_direct", "reach_total", "referred_revenue"]].tolist() == [0, 0, 0.0]
    assert out.loc["a", "rank"] == 1 and out.loc["a", "score"] == pytest.approx(1.0)
    # c and d are leaves with no way to influence anyone: equal score, tie broken by id
    assert out.loc["c", "score"] == pytest.approx(out.loc["d", "score"])
    assert out.loc["c", "rank"] + 1 == out.loc["d", "rank"]


def _random_graph(seed: int) -> tuple[nx.DiGraph, dict[str, float]]:
    rnd = random.Random(seed)
    n = rnd.randint(2, 30)
    rows = []
    for _ in range(rnd.randint(1, 60)):
        u, v = rnd.randrange(n), rnd.randrange(n)
        rows.append((f"c{u:02d}", f"c{v:02d}", rnd.choice(["referral", "referral", "mention", "household"])))
    rows += [("c00", "c01", "referral"), ("c01", "c02", "referral"), ("c02", "c00", "referral")]  # a cycle
    revenue = {f"c{i:02d}": round(rnd.uniform(0, 100), 2) for i in range(n)}
    return influence_graph(_edges(rows)), revenue


@pytest.mark.parametrize("seed", range(40))
def test_matches_networkx_on_random_graphs_with_cycles(seed):
    G, revenue = _random_graph(seed)
    out = influence_scores(G, revenue=revenue).set_index("customer_id")
    pr = nx.pagerank(G.reverse(), alpha=0.85, weight="weight")
    top = max(pr.values())
    R = _referral_subgraph(G)
    for v in G:
        desc = nx.descendants(R, v)
        assert out.loc[v, "score"] == pytest.approx(pr[v] / top, rel=1e-9)
        assert out.loc[v, "reach_direct"] == R.out_degree(v)
        assert out.loc[v, "reach_total"] == len(desc)
        assert out.loc[v, "max_depth"] == max(nx.single_source_shortest_path_length(R, v).values())
        assert out.loc[v, "referred_revenue"] == pytest.approx(sum(revenue.get(x, 0.0) for x in desc))
    expected_order = sorted(G, key=lambda v: (-pr[v] / top, v))
    ranked = out.sort_values("rank").index.tolist()
    # equal up to float noise: compare scores along the order rather than ids for near-ties
    assert [pr[v] for v in ranked] == pytest.approx([pr[v] for v in expected_order])
    assert sorted(out["rank"]) == list(range(1, len(G) + 1))


def test_converging_referrals_count_each_descendant_once():
    # a -> b -> d and a -> c -> d: d is reached twice but counted once; depth is BFS depth
    G = nx.DiGraph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e")])
    reach = referral_reach(G, revenue={"d": 5.0, "e": 1.0}).set_index("customer_id")
    assert reach.loc["a", "reach_total"] == 4
    assert reach.loc["a", "max_depth"] == 3
    assert reach.loc["a", "referred_revenue"] == pytest.approx(6.0)


def test_alpha_and_empty_graph():
    assert influence_scores(nx.DiGraph()).empty
    with pytest.raises(InputError):
        influence_scores(nx.DiGraph([("a", "b")]), alpha=1.5)
