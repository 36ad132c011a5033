"""Look-alike segments: Louvain communities on the k-nearest-neighbour similarity graph."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import numpy as np
import pandas as pd

from graph.errors import InputError

__all__ = ["NO_SEGMENT", "louvain_segments", "describe_segments"]

NO_SEGMENT = "seg-none"


def louvain_segments(
    similar: pd.DataFrame,
    *,
    resolution: float = 1.0,
    seed: int = 0,
    min_size: int = 1,
    customers: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Assign every customer to a look-alike segment.

    Parameters
    ----------
    similar : rows ``customer_id, other_id, score`` (e.g. from ``top_k_similar``). The
        graph is undirected; when both directions of a pair appear the larger score wins.
    resolution, seed : passed to ``nx.community.louvain_communities`` (weight = score).
    min_size : communities smaller than this go to ``"seg-none"``.
    customers : every customer to assign; those with no similarity edge at all go to
        ``"seg-none"`` (a single customer is not a segment).

    Returns
    -------
    DataFrame ``customer_id, segment_id`` sorted by segment then customer. Segment ids
    are ``"seg-01"``, ``"seg-02"``, ... by size descending (ties: smallest member id),
    zero-padded to at least two digits, so they are stable for the same input and seed.
    """
    missing = {"customer_id", "other_id", "score"} - set(similar.columns)
    if missing:
        raise InputError(f"similarity rows lack column(s): {', '.join(sorted(missing))}")
    if min_size < 1:
        raise InputError(f"min_size must be at least 1, got {min_size}")
    df = similar[["customer_id", "other_id", "score"]].astype({"customer_id": str, "other_id": str})
    df = df[(df["customer_id"] != df["other_id"]) & (df["score"] > 0)]
    a = np.where(df["customer_id"] < df["other_id"], df["customer_id"], df["other_id"])
    b = np.where(df["customer_id"] < df["other_id"], df["other_id"], df["customer_id"])
    edges = (
        pd.DataFrame({"a": a, "b": b, "score": df["score"].astype(float).to_numpy()})
        .groupby(["a", "b"], sort=True)["score"]
        .max()
    )
    G = nx.Graph()
    G.add_nodes_from(sorted(set(edges.index.get_level_values(0)) | set(edges.index.get_level_values(1))))
    G.add_weighted_edges_from(((u, v, w) for (u, v), w in edges.items()), weight="score")
    comms = nx.community.louvain_communities(G, weight="score", resolution=resolution, seed=seed) if len(G) else []
    comms = sorted((sorted(c) for c in comms if len(c) >= min_size), key=lambda c: (-len(c), c[0]))
    width = max(2, len(str(len(comms))))
    assign = {cid: f"seg-{i:0{width}d}" for i, c in enumerate(comms, start=1) for cid in c}
    everyone = set(G) | {str(c) for c in customers or ()}
    out = pd.DataFrame({"customer_id": sorted(everyone)})
    out["segment_id"] = [assign.get(c, NO_SEGMENT) for c in out["customer_id"]]
    return out.sort_values(["segment_id", "customer_id"], kind="mergesort").reset_index(drop=True)


def describe_segments(
    assignments: pd.DataFrame,
    *,
    spend: pd.Series,
    churn: pd.Series | None = None,
    top_products: pd.DataFrame,
    n_products: int = 5,
) -> pd.DataFrame:
    """Summarise each segment for a marketing brief.

    Parameters
    ----------
    assignments : ``customer_id, segment_id`` from :func:`louvain_segments`.
    spend : value per customer (index customer_id); customers missing from it count as 0.
    churn : churn risk per customer in [0, 1] (index customer_id); missing values are
        skipped in the mean; ``None`` gives NaN.
    top_products : rows ``customer_id, product_id, weight``; weights are summed over the
        segment's members and the ``n_products`` heaviest kept (ties: product_id).

    Returns
    -------
    DataFrame ``segment_id, size, avg_value, churn_risk, top_products, description``
    sorted by segment_id.
    """
    missing = {"customer_id", "segment_id"} - set(assignments.columns)
    if missing:
        raise InputError(f"assignments lack column(s): {', '.join(sorted(missing))}")
    missing = {"customer_id", "product_id", "weight"} - set(top_products.columns)
    if missing:
        raise InputError(f"top_products lacks column(s): {', '.join(sorted(missing))}")
    a = assignments[["customer_id", "segment_id"]].astype(str)
    value = a["customer_id"].map(spend).astype(float).fillna(0.0)
    risk = a["customer_id"].map(churn).astype(float) if churn is not None else pd.Series(np.nan, index=a.index)
    g = pd.DataFrame({"segment_id": a["segment_id"], "value": value, "risk": risk}).groupby("segment_id")
    out = pd.DataFrame({"size": g.size(), "avg_value": g["value"].mean(), "churn_risk": g["risk"].mean()})

    tp = top_products[["customer_id", "product_id", "weight"]].astype({"customer_id": str, "product_id": str})
    tp = tp.merge(a, on="customer_id", how="inner")
    tp = tp.groupby(["segment_id", "product_id"], as_index=False)["weight"].sum()
    tp = tp.sort_values(["segment_id", "weight", "product_id"], ascending=[True, False, True], kind="mergesort")
    lists = tp.groupby("segment_id")["product_id"].apply(lambda s: s.head(n_products).tolist())
    out["top_products"] = [lists.get(s, []) for s in out.index]
    out["description"] = [
        _describe(seg, row["size"], row["avg_value"], row["churn_risk"], row["top_products"])
        for seg, row in out.iterrows()
    ]
    out = out.reset_index().sort_values("segment_id", kind="mergesort").reset_index(drop=True)
    out["size"] = out["size"].astype(np.int64)
    return out[["segment_id", "size", "avg_value", "churn_risk", "top_products", "description"]]


def _describe(segment: str, size: int, avg_value: float, churn_risk: float, products: list[str]) -> str:
    who = "Customers without look-alikes" if segment == NO_SEGMENT else "Look-alike group"
    parts = [f"{who}: {int(size):,} customer{'s' if size != 1 else ''}", f"average value {avg_value:,.2f}"]
    if not pd.isna(churn_risk):
        parts.append(f"churn risk {churn_risk:.0%}")
    if products:
        parts.append("mostly " + ", ".join(products[:3]))
    return "; ".join(parts)
