"""Reads while a load runs: no errors, and what readers see only grows towards the final graph."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from conftest import new_backend
from graph.errors import NotFoundError
from loaders.generate import generate
from loaders.load import load_folder

COUNT_BY_LABEL = "MATCH (n) RETURN labels(n)[0] AS label, count(n) AS n"
TX_PER_CUSTOMER = (
    "MATCH (c:Customer)-[m:MADE]->(t:Transaction) "
    "RETURN c.customer_id AS id, count(m) AS n, sum(t.amount) AS total"
)
GROWING = ("Customer", "Transaction", "Interaction", "Touch", "Ticket", "Preference")
"""Labels a load only ever adds to (Person nodes are rewritten by identity resolution)."""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("conc")
    generate(folder, customers=300, seed=21)
    return folder


@pytest.mark.parametrize("bulk", [False, None], ids=["cypher", "bulk"])
def test_reads_during_a_load_are_consistent(server, dataset: Path, tmp_path: Path, bulk: bool | None) -> None:
    """Batched Cypher: readers see the load grow batch by batch, never shrink. The bulk build
    (the default into an empty graph): readers see nothing, then the whole graph at once."""
    try:
        from queries.view import customer_360
    except ImportError:  # the view is optional for this test
        customer_360 = None

    writer = new_backend(server)
    readers = [new_backend(server, writer.graph_name) for _ in range(3)]
    done = threading.Event()
    errors: list[BaseException] = []
    label_series: list[dict[str, int]] = []
    tx_series: list[dict[str, int]] = []
    views = {"ok": 0, "not_found": 0}

    def load() -> None:
        try:
            load_folder(writer, dataset, batch_size=60, report_dir=tmp_path / "r", bulk=bulk)
        except BaseException as e:  # surfaced by the main thread
            errors.append(e)
        finally:
            done.set()

    def count_labels(g) -> None:
        while not done.is_set():
            try:
                label_series.append({r["label"]: r["n"] for r in g.read(COUNT_BY_LABEL)})
            except BaseException as e:
                errors.append(e)
                return

    def per_customer(g) -> None:
        while not done.is_set():
            try:
                tx_series.append({r["id"]: r["n"] for r in g.read(TX_PER_CUSTOMER)})
            except BaseException as e:
                errors.append(e)
                return

    def view(g) -> None:
        ids: list[str] = []
        i = 0
        while not done.is_set():
            if customer_360 is None:
                time.sleep(0.05)
                continue
            if not ids:
                ids = [k for snap in tx_series[-1:] for k in snap]
                if not ids:
                    time.sleep(0.01)
                    continue
            try:
                customer_360(g, ids[i % len(ids)])
                views["ok"] += 1
            except NotFoundError:
                views["not_found"] += 1
            except BaseException as e:
                errors.append(e)
                return
            i += 1

    threads = [
        threading.Thread(target=load),
        threading.Thread(target=count_labels, args=(readers[0],)),
        threading.Thread(target=per_customer, args=(readers[1],)),
        threading.Thread(target=view, args=(readers[2],)),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert len(label_series) >= 3 and len(tx_series) >= 3, "readers never overlapped the load"
        final_labels = {r["label"]: r["n"] for r in writer.read(COUNT_BY_LABEL)}
        final_tx = {r["id"]: r["n"] for r in writer.read(TX_PER_CUSTOMER)}
        mid_load = [s.get("Transaction", 0) for s in label_series]
        if bulk is None:
            assert all(n in (0, final_labels["Transaction"]) for n in mid_load), "a read saw half a bulk build"
            assert 0 in mid_load, "no read ran before the build was complete"
        else:
            assert any(0 < n < final_labels["Transaction"] for n in mid_load), "no read saw the load half done"
        for label in GROWING:
            seen = [s.get(label, 0) for s in label_series]
            assert seen == sorted(seen), f"{label} count went down during the load"
            assert seen[-1] <= final_labels.get(label, 0)
        for earlier, later in zip(tx_series, tx_series[1:]):
            for cid, n in earlier.items():
                assert later.get(cid, 0) >= n, f"{cid}'s transactions went down during the load"
        for snap in tx_series:
            for cid, n in snap.items():
                assert n <= final_tx[cid], f"{cid} had more transactions mid-load than at the end"
        if customer_360 is not None:
            assert views["ok"] > 0
        print(f"{len(label_series)} label counts, {len(tx_series)} aggregations, views {views}")
    finally:
        done.set()
        for g in readers:
            g.close()
        writer.drop()
        writer.close()
