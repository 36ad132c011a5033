"""Who influences whom: PageRank on the referral/social graph plus referral reach.

Pure functions over pandas and NetworkX; nothing here knows about the database.
The edge direction is influencer -> influenced (``A -REFERRED-> B`` means A brought B).
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from graph.errors import InputError

__all__ = [
    "DEFAULT_KIND_WEIGHTS",
    "influence_graph",
    "influence_scores",
    "referral_reach",
]

DEFAULT_KIND_WEIGHTS: dict[str, float] = {
    "referral": 1.0,
    "household": 0.5,
    "mention": 0.3,
    "social_follow": 0.2,
}

SCORE_COLUMNS = [
    "customer_id",
    "score",
    "rank",
    "reach_direct",
    "reach_total",
    "max_depth",
    "referred_revenue",
]


def influence_graph(
    edges: pd.DataFrame, *, kind_weights: Mapping[str, float] | None = None
) -> nx.DiGraph:
    """Build the weighted influence digraph from edge rows.

    Parameters
    ----------
    edges : DataFrame with columns ``from_id, to_id, kind`` (influencer -> influenced).
    kind_weights : weight per kind; defaults to :data:`DEFAULT_KIND_WEIGHTS`.

    Returns
    -------
    nx.DiGraph whose edges carry ``weight`` (sum of the weights of every kind linking
    the pair) and ``kinds`` (sorted tuple of those kinds). Self-loops are dropped, but
    the customer is kept as a node. Ids become strings.

    Examples
    --------
    >>> df = pd.DataFrame({"from_id": ["a", "a"], "to_id": ["b", "b"],
    ...                    "kind": ["referral", "mention"]})
    >>> G = influence_graph(df)
    >>> round(G["a"]["b"]["weight"], 2), G["a"]["b"]["kinds"]
    (1.3, ('mention', 'referral'))
    """
    weights = dict(DEFAULT_KIND_WEIGHTS if kind_weights is None else kind_weights)
    missing = {"from_id", "to_id", "kind"} - set(edges.columns)
    if missing:
        raise InputError(f"influence edges lack column(s): {', '.join(sorted(missing))}")
    df = edges[["from_id", "to_id", "kind"]]
    if df.isna().any().any():
        raise InputError("influence edges have empty from_id, to_id or kind values")
    df = df.astype(str)
    unknown = sorted(set(df["kind"].unique()) - set(weights))
    if unknown:
        raise InputError(
            f"unknown influence kind(s): {', '.join(unknown)} "
            f"(known: {', '.join(sorted(weights))})"
        )
    G = nx.DiGraph()
    G.add_nodes_from(pd.unique(pd.concat([df["from_id"], df["to_id"]], ignore_index=True)))
    df = df[df["from_id"] != df["to_id"]].drop_duplicates()
    if df.empty:
        return G
    acc: dict[tuple[str, str], list] = {}
    for u, v, k in zip(df["from_id"].tolist(), df["to_id"].tolist(), df["kind"].tolist()):
        entry = acc.get((u, v))
        if entry is None:
            acc[(u, v)] = [weights[k], [k]]
        else:
            entry[0] += weights[k]
            entry[1].append(k)
    G.add_edges_from(
        (u, v, {"weight": float(w), "kinds": tuple(sorted(k))}) for (u, v), (w, k) in acc.items()
    )
    return G


def _is_kind(data: Mapping, kind: str) -> bool:
    """Edges with no kind information (plain NetworkX graphs) count as referrals."""
    kinds = data.get("kinds")
    if kinds is None:
        k = data.get("kind")
        return True if k is None else k == kind
    return kind in kinds


def referral_reach(
    G: nx.DiGraph,
    *,
    revenue: Mapping[str, float] | None = None,
    referral_kind: str = "referral",
) -> pd.DataFrame:
    """Reach of every node through ``referral_kind`` edges only.

    Returns a DataFrame indexed like ``list(G)`` with ``reach_direct`` (referral
    out-degree), ``reach_total`` (``len(nx.descendants(R, v))``), ``max_depth`` (largest
    breadth-first distance to a descendant, i.e. the depth of the BFS referral tree) and
    ``referred_revenue`` (revenue summed over the distinct descendants).

    How: strongly connected components of the referral graph are collapsed, descendant
    sets are propagated as bitsets (Python ints) in reverse topological order, and sums
    use plain addition whenever the children's closures are disjoint (the usual
    tree-like case). ``max_depth`` uses the same dynamic programme for nodes whose
    referral tree is a true tree and falls back to an exact BFS for nodes in referral
    loops or above converging referrals.
    """
    nodes = list(G)
    n = len(nodes)
    pos = {v: i for i, v in enumerate(nodes)}
    rev = np.zeros(n, dtype=float)
    if revenue:
        for k, val in revenue.items():
            i = pos.get(str(k), pos.get(k))
            if i is not None and val is not None and not pd.isna(val):
                rev[i] = float(val)
    src, dst = [], []
    for u, v, d in G.edges(data=True):
        if u != v and _is_kind(d, referral_kind):
            src.append(pos[u])
            dst.append(pos[v])
    src_a = np.asarray(src, dtype=np.int64)
    dst_a = np.asarray(dst, dtype=np.int64)
    R = sparse.csr_matrix((np.ones(len(src_a), dtype=np.int8), (src_a, dst_a)), shape=(n, n))
    R.sum_duplicates()
    R.data[:] = 1
    direct = np.diff(R.indptr).astype(np.int64)

    reach = np.zeros(n, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    referred = np.zeros(n, dtype=float)
    if n == 0 or R.nnz == 0:
        return _reach_frame(nodes, direct, reach, depth, referred)

    ncomp, label = csgraph.connected_components(R, directed=True, connection="strong")
    comp_size = np.bincount(label, minlength=ncomp)
    comp_rev = np.bincount(label, weights=rev, minlength=ncomp)
    members: list[list[int]] = [[] for _ in range(ncomp)]
    for i, c in enumerate(label.tolist()):
        members[c].append(i)

    # condensation DAG
    cu, cv = label[src_a], label[dst_a]
    keep = cu != cv
    cpairs = np.unique(np.stack([cu[keep], cv[keep]], axis=1), axis=0) if keep.any() else np.empty((0, 2), int)
    C = sparse.csr_matrix(
        (np.ones(len(cpairs), dtype=np.int8), (cpairs[:, 0], cpairs[:, 1])), shape=(ncomp, ncomp)
    )
    indeg = np.bincount(cpairs[:, 1], minlength=ncomp) if len(cpairs) else np.zeros(ncomp, int)
    order = _topological_order(C, indeg.copy())  # sources first

    # bit position: reverse topological, so a component's descendants sit on lower bits
    bitpos = np.empty(n, dtype=np.int64)
    nxt = 0
    for c in order[::-1]:
        for i in members[c]:
            bitpos[i] = nxt
            nxt += 1
    rev_by_bit = np.zeros(n, dtype=float)
    rev_by_bit[bitpos] = rev

    pending = indeg.copy()  # predecessors that still need a component's closure
    closure_bits: dict[int, int] = {}
    comp_reach = np.zeros(ncomp, dtype=np.int64)  # |descendant components' members|
    comp_refrev = np.zeros(ncomp, dtype=float)  # revenue of those members
    comp_tree = np.zeros(ncomp, dtype=bool)  # depth DP is exact for this component
    comp_depth = np.zeros(ncomp, dtype=np.int64)
    Cind, Cptr = C.indices, C.indptr
    for c in order[::-1]:
        succ = Cind[Cptr[c] : Cptr[c + 1]]
        bits = 0
        total_size = 0
        total_rev = 0.0
        for d in succ.tolist():
            bits |= closure_bits[d]
            total_size += comp_size[d] + comp_reach[d]
            total_rev += comp_rev[d] + comp_refrev[d]
        count = bits.bit_count()
        comp_reach[c] = count
        if count == total_size:  # disjoint closures: sums add up
            comp_refrev[c] = total_rev
            disjoint = True
        else:
            comp_refrev[c] = _sum_bits(bits, rev_by_bit)
            disjoint = False
        if comp_size[c] == 1 and disjoint and all(comp_tree[d] for d in succ.tolist()):
            comp_tree[c] = True
            comp_depth[c] = 1 + max((comp_depth[d] for d in succ.tolist()), default=-1)
        if indeg[c] > 0:
            for i in members[c]:
                bits |= 1 << int(bitpos[i])
            closure_bits[c] = bits
        for d in succ.tolist():
            pending[d] -= 1
            if pending[d] == 0:
                closure_bits.pop(d, None)

    reach = comp_reach[label] + comp_size[label] - 1
    referred = comp_refrev[label] + comp_rev[label] - rev
    # a singleton's own revenue is not "referred": comp_rev - rev is 0 there
    tree_nodes = comp_tree[label]
    depth = np.where(tree_nodes, comp_depth[label], 0)
    rest = np.flatnonzero(~tree_nodes & (reach > 0))
    if len(rest):
        R = R.astype(np.int32)  # validated once; csgraph would copy an int8 matrix per call
        for i in rest.tolist():
            depth[i] = _bfs_depth(R, i)
    return _reach_frame(nodes, direct, reach, depth, referred)


def _topological_order(C: sparse.csr_matrix, indeg: np.ndarray) -> list[int]:
    """Kahn's algorithm over a CSR DAG (sources first)."""
    ind, ptr = C.indices, C.indptr
    stack = np.flatnonzero(indeg == 0).tolist()
    out: list[int] = []
    while stack:
        c = stack.pop()
        out.append(c)
        for d in ind[ptr[c] : ptr[c + 1]].tolist():
            indeg[d] -= 1
            if indeg[d] == 0:
                stack.append(d)
    return out


def _sum_bits(bits: int, values: np.ndarray) -> float:
    if bits == 0:
        return 0.0
    raw = np.frombuffer(bits.to_bytes((bits.bit_length() + 7) // 8, "little"), dtype=np.uint8)
    mask = np.unpackbits(raw, bitorder="little").astype(bool)
    return float(values[: len(mask)][mask[: len(values)]].sum())


def _bfs_depth(R: sparse.csr_matrix, start: int) -> int:
    """Eccentricity of ``start``: BFS order is by level, so the last node is farthest."""
    order, pred = csgraph.breadth_first_order(R, start, directed=True, return_predecessors=True)
    node, level = int(order[-1]), 0
    while node != start:
        node = int(pred[node])
        level += 1
    return level


def _reach_frame(nodes, direct, reach, depth, referred) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(nodes, dtype=object),
            "reach_direct": np.asarray(direct, dtype=np.int64),
            "reach_total": np.asarray(reach, dtype=np.int64),
            "max_depth": np.asarray(depth, dtype=np.int64),
            "referred_revenue": np.asarray(referred, dtype=float),
        }
    )


def influence_scores(
    G: nx.DiGraph,
    *,
    revenue: Mapping[str, float] | None = None,
    weight: str | None = "weight",
    alpha: float = 0.85,
    referral_kind: str = "referral",
) -> pd.DataFrame:
    """Influence score and referral reach for every customer in ``G``.

    ``score`` is weighted PageRank on the reversed graph (so rank flows from the
    influenced to the influencer), divided by its maximum: the top influencer scores
    1.0 whatever the graph size. ``rank`` is 1 for the highest score, ties broken by
    ``customer_id``. Reach columns come from :func:`referral_reach` (referral edges only).

    Returns
    -------
    DataFrame with columns ``customer_id, score, rank, reach_direct, reach_total,
    max_depth, referred_revenue`` sorted by rank.

    Examples
    --------
    >>> G = nx.DiGraph([("a", "b"), ("a", "c")])
    >>> influence_scores(G, referral_kind="x").iloc[0]["customer_id"]
    'a'
    """
    if G.number_of_nodes() == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "customer_id" else float) for c in SCORE_COLUMNS})
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")
    pr = nx.pagerank(G.reverse(copy=False), alpha=alpha, weight=weight)
    out = referral_reach(G, revenue=revenue, referral_kind=referral_kind)
    score = out["customer_id"].map(pr).astype(float)
    top = score.max()
    out.insert(1, "score", score / top if top > 0 else score)
    out = out.sort_values(["score", "customer_id"], ascending=[False, True], kind="mergesort")
    out.insert(2, "rank", np.arange(1, len(out) + 1, dtype=np.int64))
    return out.reset_index(drop=True)[SCORE_COLUMNS]
