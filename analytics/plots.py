"""Slide-ready pictures of analytics results (matplotlib, Agg backend, PNG files)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["plot_influence"]


def _referral_tree(G: nx.DiGraph, root: str, referral_kind: str, max_nodes: int) -> nx.DiGraph:
    """Breadth-first referral tree under ``root`` (first parent wins), at most ``max_nodes``."""
    T = nx.DiGraph()
    T.add_node(root, depth=0)
    frontier = [root]
    while frontier and T.number_of_nodes() < max_nodes:
        nxt = []
        for u in frontier:
            for v in sorted(G.successors(u)):
                kinds = G[u][v].get("kinds", (G[u][v].get("kind", referral_kind),))
                if referral_kind in kinds and v not in T and T.number_of_nodes() < max_nodes:
                    T.add_node(v, depth=T.nodes[u]["depth"] + 1)
                    T.add_edge(u, v)
                    nxt.append(v)
        frontier = nxt
    return T


def plot_influence(
    G: nx.DiGraph,
    scores: pd.DataFrame,
    path: str | Path,
    *,
    top: int = 10,
    title: str = "Top influencers",
    trees: int = 3,
    referral_kind: str = "referral",
    max_tree_nodes: int = 40,
) -> Path:
    """Save a PNG: bar chart of the top influence scores plus the leaders' referral trees.

    Bars are annotated with referral reach (direct / total) and referred revenue; the
    lower row draws the breadth-first referral tree of the ``trees`` best customers
    (capped at ``max_tree_nodes`` nodes each). Returns the path written.
    """
    path = Path(path)
    best = scores.sort_values("rank").head(top).iloc[::-1]
    n_trees = min(trees, len(best))
    fig = plt.figure(figsize=(12, 7.5 if n_trees else 5), dpi=150)
    grid = fig.add_gridspec(2 if n_trees else 1, max(n_trees, 1), height_ratios=[1.2, 1] if n_trees else [1])
    ax = fig.add_subplot(grid[0, :])
    bars = ax.barh(best["customer_id"].astype(str), best["score"], color="#2b6cb0")
    for bar, (_, row) in zip(bars, best.iterrows()):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f"  reach {int(row.reach_direct)} direct / {int(row.reach_total)} total"
            f" · referred revenue {row.referred_revenue:,.0f}",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(0, max(1.0, float(best["score"].max() if len(best) else 1.0)) * 1.6)
    ax.set_xlabel("influence score (1 = most influential)")
    ax.set_title(title, fontsize=14, loc="left")
    ax.spines[["top", "right"]].set_visible(False)

    leaders = scores.sort_values("rank").head(n_trees)["customer_id"].tolist()
    for i, root in enumerate(leaders):
        tax = fig.add_subplot(grid[1, i])
        T = _referral_tree(G, root, referral_kind, max_tree_nodes) if root in G else nx.DiGraph([(root, root)])
        pos = nx.multipartite_layout(T, subset_key="depth", align="horizontal") if len(T) > 1 else {root: (0, 0)}
        pos = {k: (x, -y) for k, (x, y) in pos.items()}
        colors = ["#c53030" if v == root else "#90cdf4" for v in T]
        nx.draw_networkx(T, pos, ax=tax, node_color=colors, node_size=60, with_labels=False, arrows=True, arrowsize=6, width=0.6)
        total = scores.loc[scores["customer_id"] == root, "reach_total"]
        total_txt = f" of {int(total.iloc[0]):,}" if len(total) else ""
        tax.set_title(f"{root}: referral tree ({len(T) - 1}{total_txt} shown)", fontsize=9)
        tax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
