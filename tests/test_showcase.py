"""The demo's choice of customers, checked against pandas over the generated files."""

from __future__ import annotations

from pathlib import Path

from loaders.generate import generate, load_truth
from loaders.load import load_folder
from queries.showcase import latest_purchase, showcase_customers
from tests_support_paths import read_csv


def test_showcase_persons_have_the_counts_the_files_give(graph, tmp_path: Path) -> None:
    generate(tmp_path, customers=300, seed=5, malformed=False)
    load_folder(graph, tmp_path)
    truth = load_truth(tmp_path)
    tx = read_csv(tmp_path / "transactions.csv").groupby("customer_id").size()
    tk = read_csv(tmp_path / "tickets.csv").groupby("customer_id").size()
    expected = {}
    for ids in truth.persons.values():
        if len(ids) >= 2:
            purchases = int(sum(tx.get(i, 0) for i in ids))
            if purchases:
                expected[f"p-{min(ids)}"] = (len(ids), purchases, int(sum(tk.get(i, 0) for i in ids)), sorted(ids))
    rows = showcase_customers(graph, limit=1000)
    assert {r["person_id"]: (r["accounts_linked"], r["purchases"], r["tickets"], sorted(r["accounts"])) for r in rows} == expected
    keys = [(r["tickets"] > 0, r["accounts_linked"], r["purchases"]) for r in rows]
    assert keys == sorted(keys, reverse=True)
    assert latest_purchase(graph) == max(read_csv(tmp_path / "transactions.csv")["occurred_at"])
