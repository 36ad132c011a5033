"""Look-alikes checked against brute force (numpy dense, Python sets, NetworkX)."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from analytics.similarity import (
    CustomerProductMatrix,
    benchmark_vs_networkx,
    expand_audience,
    explain,
    interaction_matrix,
    top_k_blocks,
    top_k_similar,
)
from graph.errors import C360Error, InputError


def _random_matrix(seed: int, n: int = 40, p: int = 15, density: float = 0.15) -> CustomerProductMatrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n, p)) < density) * rng.integers(1, 5, (n, p))
    return CustomerProductMatrix.from_matrix(
        sparse.csr_matrix(dense.astype(float)), [f"c{i:03d}" for i in range(n)], [f"p{j:02d}" for j in range(p)]
    )


def _planted(seed: int = 0, groups: int = 3, per: int = 30, products: int = 12):
    """Each group buys mostly from its own block of products, plus a little noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(groups):
        for i in range(per):
            cid = f"g{g}-{i:02d}"
            own = rng.choice(products, size=5, replace=False) + g * products
            rows += [(cid, f"p{q:03d}") for q in own]
            if rng.random() < 0.3:
                rows.append((cid, f"p{rng.integers(0, groups * products):03d}"))
    df = pd.DataFrame(rows, columns=["customer_id", "product_id"])
    df["kind"] = "purchase"
    df["occurred_at"] = "2024-05-01"
    return df


def test_interaction_weights_decay_and_spend():
    ev = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "product_id": ["p", "p", "q", "q"],
            "kind": ["purchase", "view", "purchase", "accept"],
            "occurred_at": ["2024-07-01", "2024-01-03T00:00:00Z", "2024-07-01", "2024-07-01"],
            "amount": [math.e - 1, None, 0.0, None],
        }
    )
    m = interaction_matrix(ev, as_of="2024-07-01", half_life_days=180.0, kind_weights={"purchase": 1.0, "view": 0.5, "accept": 0.25})
    age = (pd.Timestamp("2024-07-01") - pd.Timestamp("2024-01-03")).days
    a, b, p, q = m.customer_index["a"], m.customer_index["b"], m.product_index["p"], m.product_index["q"]
    assert m.matrix[a, p] == pytest.approx(1.0 * 2.0 + 0.5 * 0.5 ** (age / 180))
    assert m.matrix[a, q] == pytest.approx(1.0)
    assert m.matrix[b, q] == pytest.approx(0.25)
    assert m.customer_ids.tolist() == ["a", "b"]
    with pytest.raises(InputError, match="unknown event kind"):
        interaction_matrix(ev.assign(kind="like"))
    with pytest.raises(InputError, match="occurred_at"):
        interaction_matrix(ev.drop(columns="occurred_at"))


@pytest.mark.parametrize("seed", range(5))
def test_cosine_matches_dense_brute_force(seed):
    m = _random_matrix(seed)
    k = 4
    out = top_k_similar(m, k=k, metric="cosine", block_size=7)
    D = m.matrix.toarray()
    norms = np.linalg.norm(D, axis=1)
    norms[norms == 0] = 1
    S = (D / norms[:, None]) @ (D / norms[:, None]).T
    shared = (D > 0).astype(int) @ (D > 0).astype(int).T
    for i, cid in enumerate(m.customer_ids):
        got = out[out["customer_id"] == cid]
        cands = [j for j in range(len(D)) if j != i and shared[i, j] > 0]
        want = sorted((S[i, j] for j in cands), reverse=True)[:k]
        assert got["score"].tolist() == pytest.approx(want, abs=1e-9)
        for other, score, sh in zip(got["other_id"], got["score"], got["shared"]):
            j = m.customer_index[other]
            assert score == pytest.approx(S[i, j], abs=1e-9)
            assert sh == shared[i, j]
        assert cid not in set(got["other_id"])


@pytest.mark.parametrize("seed", range(5))
def test_jaccard_matches_sets_and_networkx(seed):
    m = _random_matrix(seed)
    out = top_k_similar(m, k=5, metric="jaccard", block_size=16)
    sets = {cid: set(m.product_ids[m.matrix[i].indices]) for i, cid in enumerate(m.customer_ids)}
    B = nx.Graph()
    B.add_edges_from((("c", c), ("p", p)) for c, ps in sets.items() for p in ps)
    pairs = [(("c", a), ("c", b)) for a, b in zip(out["customer_id"], out["other_id"])]
    nx_scores = [s for _, _, s in nx.jaccard_coefficient(B, pairs)]
    assert out["score"].tolist() == pytest.approx(nx_scores, abs=1e-12)
    for cid, grp in out.groupby("customer_id"):
        brute = sorted(
            ((-len(sets[cid] & sets[o]) / len(sets[cid] | sets[o]), o) for o in sets if o != cid and sets[cid] & sets[o])
        )[:5]
        assert grp["other_id"].tolist() == [o for _, o in brute]  # ties broken by other_id
        assert grp["shared"].tolist() == [len(sets[cid] & sets[o]) for o in grp["other_id"]]


def test_min_score_customers_subset_and_unknown_ids():
    m = _random_matrix(1)
    full = top_k_similar(m, k=3, min_score=0.3)
    assert (full["score"] >= 0.3).all()
    some = top_k_similar(m, k=3, min_score=0.3, customers=["c005", "c001"])
    expected = full[full["customer_id"].isin(["c001", "c005"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, expected)
    with pytest.raises(C360Error, match="nobody"):
        top_k_similar(m, customers=["nobody"])
    with pytest.raises(InputError):
        top_k_similar(m, metric="euclid")


@pytest.mark.parametrize("metric", ["cosine", "jaccard"])
def test_planted_communities_give_same_community_lookalikes(metric):
    m = interaction_matrix(_planted())
    out = top_k_similar(m, k=5, metric=metric)
    same = (out["customer_id"].str[:2] == out["other_id"].str[:2]).mean()
    assert same > 0.9


def test_explain_orders_shared_products_by_contribution():
    D = np.array([[3.0, 1.0, 2.0, 0.0], [1.0, 5.0, 2.0, 7.0]])
    m = CustomerProductMatrix.from_matrix(sparse.csr_matrix(D), ["a", "b"], ["w", "x", "y", "z"])
    # contributions: w 3, x 5, y 4, z 0 (not shared)
    assert explain(m, "a", "b") == ["x", "y", "w"]
    assert explain(m, "a", "b", top=1) == ["x"]


def test_expand_audience_uses_max_similarity_to_seeds():
    m = _random_matrix(3)
    seeds = ["c000", "c010", "c020"]
    out = expand_audience(m, seeds, size=8, metric="cosine")
    D = m.matrix.toarray()
    norms = np.linalg.norm(D, axis=1)
    norms[norms == 0] = 1
    S = (D / norms[:, None]) @ (D / norms[:, None]).T
    seed_rows = [m.customer_index[s] for s in seeds]
    best = {}
    for j, cid in enumerate(m.customer_ids):
        if cid in seeds:
            continue
        sims = S[seed_rows, j]
        if sims.max() > 0:
            best[cid] = (sims.max(), seeds[int(np.argmax(sims))])
    want = sorted(best, key=lambda c: (-best[c][0], c))[:8]
    assert [best[c][0] for c in want] == pytest.approx(out["score"].tolist())
    assert not set(out["customer_id"]) & set(seeds)
    for cid, score, near in zip(out["customer_id"], out["score"], out["nearest_seed"]):
        assert score == pytest.approx(best[cid][0])
        assert S[m.customer_index[near], m.customer_index[cid]] == pytest.approx(score)


def test_expand_audience_names_unknown_seeds():
    m = _random_matrix(0)
    with pytest.raises(C360Error, match="ghost-1.*ghost-2|ghost-2.*ghost-1"):
        expand_audience(m, ["c000", "ghost-1", "ghost-2"], size=3)


def test_best_sellers_do_not_make_candidates_but_count_in_exact_scores() -> None:
    """With a product everyone bought, look-alikes still come from niche overlap, scored exactly."""
    import numpy as np
    from scipy import sparse

    from analytics.similarity import CustomerProductMatrix, top_k_similar

    rng = np.random.default_rng(1)
    n = 60
    dense = np.zeros((n, 12))
    dense[:, 0] = rng.random(n) + 0.5  # the best-seller
    for i in range(n):
        dense[i, 1 + (i % 10)] = rng.random() + 0.5  # one niche product each: ten taste groups
    m = CustomerProductMatrix.from_matrix(
        sparse.csr_matrix(dense), np.array([f"c{i:02d}" for i in range(n)]), np.array([f"p{j:02d}" for j in range(12)])
    )
    got = top_k_similar(m, k=3, max_candidate_buyers=n - 1)
    unit = dense / np.linalg.norm(dense, axis=1, keepdims=True)
    exact = unit @ unit.T
    for row in got.itertuples():
        a, b = int(row.customer_id[1:]), int(row.other_id[1:])
        assert a % 10 == b % 10  # same niche product, not just the best-seller
        assert row.score == pytest.approx(exact[a, b], abs=1e-6)
        assert row.shared == 2
    assert set(got["customer_id"]) == set(m.customer_ids)
    everyone = top_k_similar(m, k=3)  # default threshold (1,000 buyers) is not reached here: exact top-k
    for cid, group in everyone.groupby("customer_id"):
        a = int(cid[1:])
        best = sorted((-round(exact[a, b], 9), f"c{b:02d}") for b in range(n) if b != a)[:3]
        assert list(group["other_id"]) == [o for _, o in best]


# --- many candidates per customer: the histogram pre-selection must keep the exact order ------


def _brute_top(D: np.ndarray, ids: list[str], k: int, metric: str) -> dict[str, list[tuple[str, float]]]:
    B = (D > 0).astype(float)
    if metric == "jaccard":
        inter = B @ B.T
        sizes = B.sum(axis=1)
        S = inter / (sizes[:, None] + sizes[None, :] - inter)
    else:
        U = D / np.linalg.norm(D, axis=1, keepdims=True)
        S = U @ U.T
        inter = B @ B.T
    S = np.round(np.clip(S, 0, 1), 12)
    out = {}
    for i, cid in enumerate(ids):
        cands = [(-S[i, j], ids[j]) for j in range(len(ids)) if j != i and inter[i, j] > 0]
        out[cid] = [(o, -s) for s, o in sorted(cands)[:k]]
    return out


@pytest.mark.parametrize("metric", ["cosine", "jaccard"])
@pytest.mark.parametrize("binary", [True, False])
def test_top_k_is_exact_with_hundreds_of_candidates_and_ties(metric, binary):
    """400 customers over 12 products: ~399 candidates each and heavy ties (binary rows), so the
    pre-selection runs in every block; the result must equal brute force, ties by other_id."""
    rng = np.random.default_rng(5)
    n, p, k = 400, 12, 6
    D = (rng.random((n, p)) < 0.35) * (1.0 if binary else rng.integers(1, 9, (n, p)))
    D[D.sum(axis=1) == 0, 0] = 1.0
    ids = [f"c{i:03d}" for i in range(n)]
    m = CustomerProductMatrix.from_matrix(sparse.csr_matrix(D), ids, [f"p{j:02d}" for j in range(p)])
    out = top_k_similar(m, k=k, metric=metric, block_size=64, max_candidate_buyers=n)
    want = _brute_top(D, ids, k, metric)
    assert out.groupby("customer_id").size().eq(k).all()
    for cid, grp in out.groupby("customer_id"):
        assert grp["other_id"].tolist() == [o for o, _ in want[cid]], cid
        assert grp["score"].tolist() == pytest.approx([s for _, s in want[cid]], abs=1e-12)
    blocks = list(top_k_blocks(m, k=k, metric=metric, block_size=64, max_candidate_buyers=n))
    assert len(blocks) == math.ceil(n / 64)
    pd.testing.assert_frame_equal(pd.concat(blocks, ignore_index=True), out)


def test_benchmark_vs_networkx_scores_the_same_pairs_within_a_budget():
    m = _random_matrix(3, n=120, p=10, density=0.3)
    out = benchmark_vs_networkx(m, sample=40, seed=1, k=5, max_pairs=400, full_seconds=2.0)
    for key in ("customers", "sample_customers", "candidate_pairs", "ours_seconds", "nx_seconds", "speedup",
                "est_nx_seconds_all", "max_abs_diff", "top_k_score_match", "speedup_exact",
                "top_k_score_match_exact", "speedup_full"):
        assert key in out, key
    assert out["customers"] == 120 and 1 <= out["sample_customers"] < 40
    B = (m.matrix.toarray() > 0).astype(int)
    per_customer = ((B @ B.T) > 0).sum(axis=1) - 1
    assert out["candidate_pairs"] <= 400 or out["sample_customers"] == 1
    assert out["candidate_pairs"] >= out["sample_customers"] * per_customer.min()
    assert out["max_abs_diff"] < 1e-12
    assert out["top_k_score_match"] == 1.0 and out["top_k_score_match_exact"] == 1.0  # no best-sellers here
    assert out["speedup"] == pytest.approx(out["nx_seconds"] / out["ours_seconds"])
    assert out["speedup_full"] == pytest.approx(out["est_nx_seconds_all"] / 2.0)
    one = benchmark_vs_networkx(m, sample=40, seed=1, k=5, max_pairs=1)
    assert one["sample_customers"] == 1


@pytest.mark.parametrize("metric", ["cosine", "jaccard"])
def test_customers_short_of_niche_candidates_get_the_exact_top_k(metric):
    """Accounts that bought only best-sellers (no niche candidate at all), or whose niche peers
    are fewer than k, must not be left without look-alikes: they get the exact top k."""
    rng = np.random.default_rng(3)
    n, p, k = 80, 14, 4
    D = np.zeros((n, p))
    D[:, 0] = rng.integers(1, 5, n)  # best-seller: everyone
    D[rng.random(n) < 0.6, 1] = 2.0  # second best-seller
    for i in range(10, n):
        D[i, 2 + i % 12] = rng.integers(1, 5)  # niche tastes, 5-6 accounts each
    D[:, 13] = 0.0
    D[70:73, 2:13] = 0.0
    D[70:72, 13] = 3.0  # a niche product only two accounts share: fewer than k niche peers
    ids = [f"c{i:03d}" for i in range(n)]
    m = CustomerProductMatrix.from_matrix(sparse.csr_matrix(D), ids, [f"p{j:02d}" for j in range(p)])
    out = top_k_similar(m, k=k, metric=metric, max_candidate_buyers=40)
    want = _brute_top(D, ids, k, metric)
    assert out.groupby("customer_id").size().eq(k).all() and out["customer_id"].nunique() == n
    B = D > 0
    niche = B[:, B.sum(axis=0) <= 40].astype(int)
    peers = ((niche @ niche.T) > 0).sum(axis=1) - (niche.sum(axis=1) > 0)
    short = [ids[i] for i in np.flatnonzero(peers < k)]
    assert {"c000", "c070", "c072"} <= set(short) and len(short) < n  # only best-sellers, or one niche peer
    for cid in short:
        grp = out[out["customer_id"] == cid]
        assert grp["other_id"].tolist() == [o for o, _ in want[cid]], cid
        assert grp["score"].tolist() == pytest.approx([s for _, s in want[cid]], abs=1e-12)
    assert (out["customer_id"].to_numpy()[1:] >= out["customer_id"].to_numpy()[:-1]).all()  # customer order kept
