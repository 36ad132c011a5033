"""Graph analytics wired to the database: a generated data set is loaded, analysed in the graph,
and every number is checked against an answer computed here from the CSV files themselves
(pandas + NetworkX + dense numpy), never from the package's own output."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from analytics import pipeline
from graph.errors import ConfigError, GraphError, NotFoundError
from loaders.generate import generate, load_truth
from loaders.load import load_folder
from queries import analytics_io as q

KIND_WEIGHTS = {"referral": 1.0, "household": 0.5, "mention": 0.3, "social_follow": 0.2}
EVENT_WEIGHTS = {"purchase": 1.0, "accept": 0.6, "view": 0.2}

SCORES = """MATCH (c:Customer)
RETURN c.customer_id AS customer_id, c.influence_score AS score, c.influence_rank AS rank,
       c.reach_direct AS reach_direct, c.reach_total AS reach_total, c.referred_revenue AS referred_revenue"""
SIMILAR = """MATCH (a:Customer)-[s:SIMILAR_TO]->(b:Customer)
RETURN a.customer_id AS customer_id, b.customer_id AS other_id, s.score AS score, s.shared AS shared"""
MEMBERS = """MATCH (c:Customer)-[m:IN_SEGMENT]->(s:Segment)
RETURN c.customer_id AS customer_id, s.segment_id AS segment_id, c.segment_id AS stamped"""


# --- fixtures: one generated data set, loaded once for the module ------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("analytics") / "data"
    generate(folder, customers=600, seed=11)
    return folder


@pytest.fixture(scope="module")
def truth(data: Path):
    return load_truth(data)


@pytest.fixture(scope="module")
def g(server, data: Path, tmp_path_factory: pytest.TempPathFactory):
    from conftest import new_backend

    backend = new_backend(server)
    load_folder(backend, data, report_dir=tmp_path_factory.mktemp("report"))
    yield backend
    backend.drop()
    backend.close()


def _csv(data: Path, truth, name: str) -> pd.DataFrame:
    """A contract file as the loader keeps it: malformed rows (per truth) and exact copies dropped."""
    df = pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
    bad = {m["row"] - 1 for m in truth.malformed if m["file"] == f"{name}.csv"}
    df = df.drop(index=sorted(bad)).drop_duplicates()
    return df.replace("", np.nan)


@pytest.fixture(scope="module")
def customers(data, truth) -> list[str]:
    return sorted(_csv(data, truth, "customers")["customer_id"])


@pytest.fixture(scope="module")
def revenue(data, truth, customers) -> pd.Series:
    tx = _csv(data, truth, "transactions")
    net = tx.assign(amount=tx["amount"].astype(float)).groupby("customer_id")["amount"].sum()
    return net.reindex(customers, fill_value=0.0)


@pytest.fixture(scope="module")
def report(g):
    return pipeline.influence_report(g, top=25)


# --- influence ------------------------------------------------------------------------------


def _expected_influence(data, truth, customers, revenue) -> pd.DataFrame:
    ref = _csv(data, truth, "referrals")
    ref["kind"] = ref["kind"].fillna("referral")
    ref = ref[ref["from_customer_id"] != ref["to_customer_id"]].drop_duplicates(["from_customer_id", "to_customer_id", "kind"])
    G = nx.DiGraph()
    G.add_nodes_from(customers)
    for a, b, kind in ref[["from_customer_id", "to_customer_id", "kind"]].itertuples(index=False):
        w = G[b][a]["weight"] if G.has_edge(b, a) else 0.0
        G.add_edge(b, a, weight=w + KIND_WEIGHTS[kind])  # influenced -> influencer
    pr = nx.pagerank(G, alpha=0.85, weight="weight")
    top = max(pr.values())
    R = nx.DiGraph()
    R.add_nodes_from(customers)
    R.add_edges_from(ref.loc[ref["kind"] == "referral", ["from_customer_id", "to_customer_id"]].itertuples(index=False))
    rows = []
    for c in customers:
        below = nx.descendants(R, c)
        rows.append({
            "customer_id": c, "score": pr[c] / top, "reach_direct": R.out_degree(c),
            "reach_total": len(below), "referred_revenue": float(revenue[list(below)].sum()) if below else 0.0,
        })
    out = pd.DataFrame(rows).sort_values(["score", "customer_id"], ascending=[False, True])
    out["rank"] = range(1, len(out) + 1)
    return out.set_index("customer_id")


def test_influence_scores_written_equal_networkx_on_the_csv_files(g, report, data, truth, customers, revenue) -> None:
    expected = _expected_influence(data, truth, customers, revenue)
    got = pd.DataFrame(g.read(SCORES)).set_index("customer_id").sort_index()
    assert sorted(got.index) == customers
    exp = expected.loc[got.index]
    np.testing.assert_allclose(got["score"], exp["score"], rtol=1e-5, atol=1e-7)
    assert (got["reach_direct"] == exp["reach_direct"]).all()
    assert (got["reach_total"] == exp["reach_total"]).all()
    np.testing.assert_allclose(got["referred_revenue"], exp["referred_revenue"], atol=1e-6)
    # ranks: the same order wherever the expected scores are not (near) ties
    top = exp.sort_values("rank").head(50)
    assert got.loc[top.index, "rank"].tolist()[:10] == top["rank"].tolist()[:10]
    assert got.loc[report["customer_id"], "rank"].tolist() == list(range(1, len(report) + 1))


def test_report_top_ranks_are_the_planted_influencers(report, truth) -> None:
    n = len(truth.influencers)
    assert set(report["customer_id"].head(n)) == set(truth.influencers)
    assert report["score"].iloc[0] == pytest.approx(1.0)
    assert report["score"].is_monotonic_decreasing
    assert list(report.columns) == pipeline.REPORT_COLUMNS
    assert len(report) == 25


def test_report_rows_carry_name_and_all_customers_are_scored(report, data, truth, customers) -> None:
    names = _csv(data, truth, "customers").set_index("customer_id")["name"]
    assert report.attrs["customers"] == len(customers)
    assert report["name"].tolist() == names.loc[report["customer_id"]].tolist()
    assert report.attrs["engine"] == "networkx"


def test_kind_weights_change_the_ranking(g, data, truth, customers) -> None:
    only_follow = {"referral": 0.0001, "household": 0.0001, "mention": 0.0001, "social_follow": 1.0}
    out = pipeline.influence_report(g, top=3, kind_weights=only_follow, write=False)
    ref = _csv(data, truth, "referrals")
    follows = Counter(ref.loc[ref["kind"] == "social_follow", "from_customer_id"])
    # with follows dominating, the top account is one of the most-followed
    assert follows[out["customer_id"].iloc[0]] >= max(follows.values()) // 2


# --- look-alikes ----------------------------------------------------------------------------


def _expected_matrix(data, truth) -> pd.DataFrame:
    """Customer x product weights from the CSV files, by the formula in docs/analytics.md."""
    tx = _csv(data, truth, "transactions").dropna(subset=["product_id"])
    views = _csv(data, truth, "interactions")
    views = views[(views["kind"] == "product_view") & views["product_id"].notna()]
    touches = _csv(data, truth, "campaign_touches")
    touches = touches[touches["response"] == "accepted"]
    offers = _csv(data, truth, "campaigns").set_index("campaign_id")["offer_product_id"]
    acc = touches.assign(product_id=touches["campaign_id"].map(offers),
                         occurred_at=touches["responded_at"].fillna(touches["sent_at"])).dropna(subset=["product_id"])
    ev = pd.concat([
        pd.DataFrame({"c": tx["customer_id"], "p": tx["product_id"], "w": 1.0, "t": tx["occurred_at"],
                      "a": tx["amount"].astype(float)}),
        pd.DataFrame({"c": views["customer_id"], "p": views["product_id"], "w": 0.2, "t": views["occurred_at"], "a": 0.0}),
        pd.DataFrame({"c": acc["customer_id"], "p": acc["product_id"], "w": 0.6, "t": acc["occurred_at"], "a": 0.0}),
    ])
    t = pd.to_datetime(ev["t"], utc=True, format="ISO8601")
    age = (t.max() - t).dt.total_seconds() / 86400.0
    ev["x"] = ev["w"] * 0.5 ** (age / 180.0) * (1 + np.log1p(ev["a"].clip(lower=0)))
    return ev.pivot_table(index="c", columns="p", values="x", aggfunc="sum", fill_value=0.0)


@pytest.fixture(scope="module")
def pairs(g):
    return pipeline.build_lookalikes(g, k=10)


def test_lookalike_edges_equal_dense_cosine_on_the_csv_files(g, pairs, data, truth) -> None:
    W = _expected_matrix(data, truth)
    X = W.to_numpy()
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = X @ X.T
    np.fill_diagonal(S, -1.0)
    B = (W.to_numpy() > 0).astype(int)
    ids = W.index.tolist()
    pos = {c: i for i, c in enumerate(ids)}
    stored = pd.DataFrame(g.read(SIMILAR))
    assert len(stored) == len(pairs) == len(stored.drop_duplicates(["customer_id", "other_id"]))
    assert (stored["customer_id"] != stored["other_id"]).all()
    assert set(stored["customer_id"]) == {c for c in ids if (S[pos[c]] > 1e-12).any()}
    for c, grp in stored.groupby("customer_id"):
        i = pos[c]
        j = np.array([pos[o] for o in grp["other_id"]])
        np.testing.assert_allclose(grp["score"].to_numpy(), S[i, j], atol=1e-9)
        assert (grp["shared"].to_numpy() == (B[i] & B[j]).sum(axis=1)).all()
        best = np.sort(S[i][S[i] > 1e-12])[::-1][:10]
        np.testing.assert_allclose(np.sort(grp["score"].to_numpy())[::-1], best, atol=1e-9)


def test_lookalikes_come_from_the_same_taste_community(pairs, truth) -> None:
    first = pairs.groupby("customer_id").head(3)
    same = (first["customer_id"].map(truth.community_of) == first["other_id"].map(truth.community_of)).mean()
    assert same >= 0.85


def test_rebuilding_replaces_the_edges(g, pairs) -> None:
    again = pipeline.build_lookalikes(g, k=4)
    stored = pd.DataFrame(g.read(SIMILAR))
    assert len(stored) == len(again) and stored.groupby("customer_id").size().max() <= 4
    pipeline.build_lookalikes(g, k=10)  # leave the module's state as the fixture built it


def test_lookalikes_of_one_customer_match_the_stored_edges_and_explain_them(g, pairs, data, truth) -> None:
    W = _expected_matrix(data, truth)
    cid = pairs["customer_id"].value_counts().index[0]
    got = pipeline.lookalikes(g, cid, k=5)
    want = pairs[pairs["customer_id"] == cid].head(5)
    assert [r["customer_id"] for r in got] == want["other_id"].tolist()
    np.testing.assert_allclose([r["score"] for r in got], want["score"], atol=1e-9)
    mine = set(W.columns[W.loc[cid] > 0])
    for r in got:
        theirs = set(W.columns[W.loc[r["customer_id"]] > 0])
        assert r["why"] and set(r["why"]) <= mine & theirs
        # the first reason is the shared product with the largest product of weights
        prod = (W.loc[cid] * W.loc[r["customer_id"]])
        assert r["why"][0] == prod.idxmax()
    with pytest.raises(NotFoundError, match="nobody-1"):
        pipeline.lookalikes(g, "nobody-1")


def test_expand_seed_excludes_the_seed_and_returns_the_size(g, truth, pairs, data) -> None:
    W = _expected_matrix(data, truth)
    community = truth.community_of[pairs["customer_id"].iloc[0]]
    products = (W > 0).sum(axis=1)
    members = products[[truth.community_of.get(c) == community for c in products.index]]
    seeds = members.sort_values(ascending=False, kind="mergesort").index[:6].tolist()  # good customers
    out = pipeline.expand_seed(g, seeds, size=30)
    assert len(out) == 30
    assert not set(out["customer_id"]) & set(seeds)
    assert out["customer_id"].is_unique and out["score"].is_monotonic_decreasing
    assert set(out["nearest_seed"]) <= set(seeds)
    assert (out["customer_id"].map(truth.community_of) == community).mean() >= 0.8
    with pytest.raises(NotFoundError, match="ghost-1.*ghost-2"):
        pipeline.expand_seed(g, [seeds[0], "ghost-1", "ghost-2"], size=5)


@pytest.mark.parametrize("paging", [{}, {"page_size": 37, "chunk_size": 11, "read_ahead": 1},
                                    {"page_size": 50, "chunk_size": 7, "read_ahead": 3}])
def test_interaction_data_equals_the_csv_matrix_whatever_the_paging(g, data, truth, customers, revenue, paging) -> None:
    W = _expected_matrix(data, truth)
    timings: dict[str, float] = {}
    m, accounts = pipeline.interaction_data(g, timings=timings, **paging)
    assert set(timings) == {"read", "matrix"}
    assert m.customer_ids.tolist() == W.index.tolist() and m.product_ids.tolist() == W.columns.tolist()
    np.testing.assert_allclose(m.matrix.toarray(), W.to_numpy(), rtol=1e-12, atol=0)
    assert sorted(accounts) == customers
    got = pd.Series({c: a["revenue"] for c, a in accounts.items()}).reindex(customers)
    np.testing.assert_allclose(got.to_numpy(), revenue.to_numpy(), rtol=1e-12, atol=1e-9)


def test_build_reports_its_stages_and_a_failure_on_either_side_surfaces(g, pairs, monkeypatch) -> None:
    out = pipeline.build_lookalikes(g, k=10, compare_networkx=25)
    t = out.attrs["timings"]
    assert {"read", "matrix", "compute", "delete", "write", "finish", "total", "vs_networkx"} <= set(t)
    assert out.attrs["edges"] == len(out) == len(pairs)
    pd.testing.assert_frame_equal(out, pairs)
    vs = out.attrs["vs_networkx"]
    assert 1 <= vs["sample_customers"] <= 25 and vs["candidate_pairs"] > 0
    assert vs["max_abs_diff"] < 1e-12 and vs["top_k_score_match_exact"] == 1.0
    assert vs["speedup"] == pytest.approx(vs["nx_seconds"] / vs["ours_seconds"])

    class FailingWrites:  # the writer thread fails: the error reaches the caller, nothing hangs
        engine = "falkordb"

        def read(self, query, params=None):
            return g.read(query, params)

        def write(self, query, params=None):
            if query == q.WRITE_SIMILAR:
                raise GraphError("disk full")
            return g.write(query, params)

        def stream(self, query, params=None, **kw):
            return g.stream(query, params, **kw)

    with pytest.raises(GraphError, match="disk full"):
        pipeline.build_lookalikes(FailingWrites(), k=10, batch_size=50)

    real = pipeline.top_k_blocks

    def failing_blocks(*args, **kwargs):  # the computation fails after one block was handed over
        blocks = real(*args, **kwargs)
        yield next(blocks)
        raise MemoryError("no room")

    monkeypatch.setattr(pipeline, "top_k_blocks", failing_blocks)
    with pytest.raises(MemoryError):
        pipeline.build_lookalikes(g, k=10)
    monkeypatch.undo()
    pipeline.build_lookalikes(g, k=10)  # leave the module's state as the fixture built it
    assert len(g.read(SIMILAR)) == len(pairs)


# --- segments -------------------------------------------------------------------------------


def test_segments_are_written_described_and_replaced(g, data, truth, customers, revenue) -> None:
    churn = {c: (i % 5) / 10 for i, c in enumerate(customers[:200])}
    g.write("UNWIND $rows AS r MATCH (c:Customer {customer_id: r.id}) SET c.churn_risk = r.v",
            {"rows": [{"id": c, "v": v} for c, v in churn.items()]})
    summary = pipeline.build_segments(g, resolution=1.0, seed=0)
    members = pd.DataFrame(g.read(MEMBERS))
    assert sorted(members["customer_id"]) == customers  # each account in exactly one segment
    assert (members["segment_id"] == members["stamped"]).all()
    assert summary["size"].sum() == len(customers)

    frame = members.assign(value=members["customer_id"].map(revenue), risk=members["customer_id"].map(churn))
    exp = frame.groupby("segment_id").agg(size=("value", "size"), avg_value=("value", "mean"), churn_risk=("risk", "mean"))
    listed = pd.DataFrame(pipeline.list_segments(g)).set_index("segment_id")
    assert sorted(listed.index) == sorted(exp.index) == sorted(summary["segment_id"])
    assert (listed["size"] == exp["size"]).all() and (listed["members"] == exp["size"]).all()
    np.testing.assert_allclose(listed["avg_value"], exp["avg_value"], atol=1e-6)
    known = exp["churn_risk"].notna()
    np.testing.assert_allclose(listed.loc[known, "churn_risk"].astype(float), exp.loc[known, "churn_risk"], atol=1e-9)
    assert listed.loc[~known, "churn_risk"].isna().all()
    assert all(isinstance(d, str) and d for d in listed["description"])
    assert all(len(p) > 0 for s, p in listed["top_products"].items() if s != "seg-none")

    # segments follow the planted taste communities
    big = frame[frame["segment_id"] != "seg-none"]
    purity = big.groupby("segment_id")["customer_id"].agg(
        lambda s: s.map(truth.community_of).value_counts().iloc[0]).sum() / len(big)
    assert purity >= 0.85

    # a rebuild with another resolution replaces memberships and deletes empty segments
    again = pipeline.build_segments(g, resolution=3.0, seed=0)
    members2 = pd.DataFrame(g.read(MEMBERS))
    assert sorted(members2["customer_id"]) == customers
    listed2 = pipeline.list_segments(g)
    assert sorted(r["segment_id"] for r in listed2) == sorted(again["segment_id"])
    assert all(r["members"] == r["size"] > 0 for r in listed2)


# --- engine choice and the Neo4j GDS path ---------------------------------------------------


def test_gds_is_not_available_on_falkordb(g) -> None:
    assert pipeline.gds_available(g) is False
    assert pipeline.resolve_engine(g, "auto") == "networkx"
    with pytest.raises(ConfigError, match="Graph Data Science"):
        pipeline.influence_report(g, engine="gds")


class _FakeGds:
    """A Neo4j-with-GDS stand-in: GDS statements are answered here, everything else by FalkorDB."""

    engine = "neo4j"

    def __init__(self, inner, pagerank: dict[str, float], *, communities=None, similar=()) -> None:
        self.inner, self.pagerank, self.sent = inner, pagerank, []
        self.communities, self.similar = communities or {}, list(similar)

    def _gds(self, query, params):
        self.sent.append((query, dict(params or {})))
        if query == q.GDS_VERSION:
            return [{"version": "2.6.0"}]
        if query == q.GDS_PAGERANK:
            return [{"customer_id": c, "score": s} for c, s in self.pagerank.items()]
        if query == q.GDS_LOUVAIN:
            return [{"customer_id": c, "community": k} for c, k in self.communities.items()]
        if query == q.GDS_NODE_SIMILARITY:
            return [{"customer_id": a, "other_id": b, "score": x} for a, b, x in self.similar]
        return [{"name": params.get("name"), "graphName": params.get("name")}]

    def read(self, query, params=None):
        return self._gds(query, params) if query.lstrip().startswith(("CALL gds", "RETURN gds")) else self.inner.read(query, params)

    def write(self, query, params=None):
        return self._gds(query, params) if "gds." in query else self.inner.write(query, params)

    def stream(self, query, params=None, **kw):
        return self.inner.stream(query, params, **kw)


def test_gds_pagerank_drives_the_ranking_and_reach_stays_exact(g, report, customers) -> None:
    last, second = customers[-1], customers[-2]
    fake = _FakeGds(g, {last: 3.0, second: 1.5})
    assert pipeline.gds_available(fake)
    fake.sent.clear()
    out = pipeline.influence_report(fake, top=3, engine="auto", write=False)
    assert out.attrs["engine"] == "gds"
    assert out["customer_id"].tolist()[:2] == [last, second]
    assert out["score"].tolist()[:2] == pytest.approx([1.0, 0.5])
    assert out["score"].iloc[2] == pytest.approx(0.15 / 3.0)  # outside the projection: 1 - alpha
    sent = [s for s, _ in fake.sent]
    assert sent == [q.GDS_VERSION, q.GDS_PROJECT_INFLUENCE, q.GDS_PAGERANK, q.GDS_DROP]
    weights = fake.sent[1][1]["weights"]
    assert weights == {"REFERRED": 1.0, "HOUSEHOLD": 0.5, "MENTIONED": 0.3, "FOLLOWS": 0.2}
    by_id = pd.DataFrame(g.read(SCORES)).set_index("customer_id")
    assert out["reach_total"].tolist() == by_id.loc[out["customer_id"], "reach_total"].tolist()


def test_gds_louvain_and_node_similarity_paths(g, customers) -> None:
    # communities: 3 large groups, one pair, one singleton (-> seg-none with min_size=2)
    groups = {c: i % 3 for i, c in enumerate(customers[:-3])}
    groups.update({customers[-3]: 7, customers[-2]: 7, customers[-1]: 9})
    fake = _FakeGds(g, {}, communities=groups, similar=[(customers[0], customers[1], 0.5), (customers[1], customers[0], 0.5)])
    summary = pipeline.build_segments(fake, engine="gds").set_index("segment_id")
    sizes = Counter(groups.values())
    assert summary["size"].tolist() == sorted((sizes[0], sizes[1], sizes[2]), reverse=True) + [2, 1]
    assert summary.loc["seg-none", "size"] == 1 and summary["size"].sum() == len(customers)
    assert sorted(summary["size"].drop("seg-none")) == sorted(n for n in sizes.values() if n >= 2)
    members = pd.DataFrame(g.read(MEMBERS))
    assert members.loc[members["customer_id"] == customers[-1], "segment_id"].item() == "seg-none"
    assert [s for s, _ in fake.sent if s != q.GDS_VERSION] == [q.GDS_PROJECT_SIMILAR, q.GDS_LOUVAIN, q.GDS_DROP]

    fake.sent.clear()
    pairs = pipeline.build_lookalikes(fake, k=5, engine="gds")
    assert len(pairs) == 2
    stored = pd.DataFrame(g.read(SIMILAR))
    assert sorted(zip(stored["customer_id"], stored["other_id"])) == sorted([(customers[0], customers[1]), (customers[1], customers[0])])
    assert stored["shared"].isna().all()
    assert [s for s, _ in fake.sent if s != q.GDS_VERSION] == [q.GDS_PROJECT_PURCHASES, q.GDS_NODE_SIMILARITY, q.GDS_DROP]


def test_an_empty_graph_and_a_customer_without_events(graph) -> None:
    assert pipeline.influence_report(graph).empty
    assert pipeline.build_lookalikes(graph).empty
    assert pipeline.build_segments(graph).empty and pipeline.list_segments(graph) == []
    graph.write("CREATE (:Customer {customer_id: 'solo-1', name: 'Solo'})")
    out = pipeline.influence_report(graph)
    assert out["customer_id"].tolist() == ["solo-1"] and out["reach_total"].tolist() == [0]
    assert pipeline.lookalikes(graph, "solo-1") == []
    summary = pipeline.build_segments(graph)
    assert summary[["segment_id", "size"]].values.tolist() == [["seg-none", 1]]


def test_events_read_hand_checked(graph) -> None:
    """Purchases (one without a product, one refund, a product id with a space), views (other
    interaction kinds ignored) and accepted offers (one campaign without an offer)."""
    graph.write(
        "CREATE (a:Customer {customer_id: 'a'}), (b:Customer {customer_id: 'b'}), (:Customer {customer_id: 'c'}),"
        " (a)-[:MADE]->(:Transaction {transaction_id: 't1', product_id: 'p 1', ts: 1700000000, amount: 10.0}),"
        " (a)-[:MADE]->(:Transaction {transaction_id: 't2', ts: 1700000100, amount: -4.0}),"
        " (a)-[:MADE]->(:Transaction {transaction_id: 't3', product_id: 'q', ts: 1700000200, amount: -2.5}),"
        " (b)-[:HAD]->(:Interaction {interaction_id: 'i1', kind: 'product_view', product_id: 'q', ts: 1700003600}),"
        " (b)-[:HAD]->(:Interaction {interaction_id: 'i2', kind: 'visit', product_id: 'q', ts: 1700003600}),"
        " (b)-[:RECEIVED]->(:Touch {touch_id: 'k1', response: 'accepted', sent_ts: 1700000000, responded_ts: 1700007200})"
        "-[:OF]->(:Campaign {campaign_id: 'm1', offer_product_id: 'p 1'}),"
        " (a)-[:RECEIVED]->(:Touch {touch_id: 'k2', response: 'accepted', sent_ts: 1700000000})-[:OF]->(:Campaign {campaign_id: 'm2'}),"
        " (a)-[:RECEIVED]->(:Touch {touch_id: 'k3', response: 'rejected', sent_ts: 1700000000})"
        "-[:OF]->(:Campaign {campaign_id: 'm3', offer_product_id: 'q'})"
    )
    ev = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b"], "product_id": ["p 1", "q", "q", "p 1"],
        "kind": ["purchase", "purchase", "view", "accept"],
        "occurred_at": pd.to_datetime([1700000000, 1700000200, 1700003600, 1700007200], unit="s"),
        "amount": [10.0, -2.5, np.nan, np.nan],
    })
    from analytics.similarity import interaction_matrix

    want = interaction_matrix(ev)
    m, accounts = pipeline.interaction_data(graph, page_size=1, chunk_size=1)
    assert m.customer_ids.tolist() == ["a", "b"] and m.product_ids.tolist() == ["p 1", "q"]
    np.testing.assert_allclose(m.matrix.toarray(), want.matrix.toarray(), rtol=1e-12)
    assert accounts == {"a": {"revenue": 3.5, "churn_risk": None}, "b": {"revenue": 0.0, "churn_risk": None},
                        "c": {"revenue": 0.0, "churn_risk": None}}
    events, _ = pipeline._events_of(graph, ["b", "a", "c"])  # the neighbourhood read: same events
    np.testing.assert_allclose(interaction_matrix(events).matrix.toarray(), want.matrix.toarray(), rtol=1e-12)
