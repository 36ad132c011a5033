"""The loader against answers computed independently from the input files with pandas."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from graph.errors import InputError
from loaders.contract import CONTRACT
from loaders.generate import generate, load_truth
from loaders.load import load_folder
from tests_support_paths import read_csv
from graph_snapshot import snapshot

LABELS = {name: spec.label for name, spec in CONTRACT.items() if spec.label}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gen")
    generate(folder, customers=400, seed=3)
    return folder


def _valid_rows(folder: Path, name: str) -> pd.DataFrame:
    """The rows a correct loader keeps: not listed as malformed, first of exact duplicates."""
    truth = load_truth(folder)
    df = read_csv(folder / f"{name}.csv")
    bad = {m["row"] for m in truth.malformed if m["file"] == f"{name}.csv"}
    df = df[~df.index.isin(bad)]
    return df.drop_duplicates()


MODES = pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "cypher"])
"""First loads run both ways: the engine's bulk build (the default into an empty FalkorDB graph)
and batched Cypher (Neo4j, and FalkorDB graphs that already hold data)."""


@MODES
def test_counts_reconcile_and_match_files(graph, dataset: Path, bulk: bool) -> None:
    report = load_folder(graph, dataset, batch_size=257, report_dir=dataset / "r1", bulk=bulk)
    assert report.mode == ("bulk" if bulk else "cypher")
    truth = load_truth(dataset)
    for name, summary in report.files.items():
        raw = read_csv(dataset / f"{name}.csv")
        assert summary.read == len(raw), name
        assert summary.read == summary.loaded + summary.rejected + summary.duplicates, name
        expected_bad = {m["row"] for m in truth.malformed if m["file"] == f"{name}.csv"}
        assert summary.rejected == len(expected_bad), name
        assert summary.duplicates == truth.duplicates.get(f"{name}.csv", 0), name
        if expected_bad:
            rejects = pd.read_csv(summary.rejects_file, dtype=str, keep_default_na=False)
            row_col = "_row" if "row" in raw.columns else "row"
            assert set(rejects[row_col].astype(int)) == expected_bad
            assert (rejects["_reason" if "reason" in raw.columns else "reason"] != "").all()
    for name, label in LABELS.items():
        key = CONTRACT[name].key[0]
        n = graph.read(f"MATCH (n:{label}) RETURN count(n) AS n")[0]["n"]
        expected = _valid_rows(dataset, name)
        if name == "preferences":
            assert n == len(expected.drop_duplicates(["customer_id", "key"]))
        else:
            assert n == expected[key].nunique(), name


@MODES
def test_amounts_and_edges_match_pandas(graph, dataset: Path, bulk: bool) -> None:
    load_folder(graph, dataset, report_dir=dataset / "r2", bulk=bulk)
    tx = _valid_rows(dataset, "transactions")
    tx["amount"] = tx["amount"].astype(float)
    expected = tx.groupby("customer_id")["amount"].sum().round(6).to_dict()
    rows = graph.read("MATCH (c:Customer)-[m:MADE]->(t:Transaction) RETURN c.customer_id AS c, sum(t.amount) AS s, count(m) AS n")
    got = {r["c"]: round(r["s"], 6) for r in rows}
    assert got == pytest.approx(expected)
    counts = tx.groupby("customer_id").size().to_dict()
    assert {r["c"]: r["n"] for r in rows} == counts
    with_product = tx[tx["product_id"] != ""]
    n_for = graph.read("MATCH (:Transaction)-[f:FOR]->(:Product) RETURN count(f) AS n")[0]["n"]
    assert n_for == len(with_product)
    ref = _valid_rows(dataset, "referrals")
    n_ref = graph.read("MATCH (:Customer)-[e:REFERRED|FOLLOWS|HOUSEHOLD|MENTIONED]->(:Customer) RETURN count(e) AS n")[0]["n"]
    assert n_ref == len(ref.drop_duplicates(["from_customer_id", "to_customer_id", "kind"]))


def test_identity_matches_planted_persons(graph, dataset: Path) -> None:
    report = load_folder(graph, dataset, report_dir=dataset / "r3")
    truth = load_truth(dataset)
    rows = graph.read("MATCH (c:Customer)-[b:BELONGS_TO]->(p:Person) RETURN p.person_id AS p, c.customer_id AS c")
    groups: dict[str, set[str]] = {}
    for r in rows:
        groups.setdefault(r["p"], set()).add(r["c"])
    loaded = set(_valid_rows(dataset, "customers")["customer_id"])
    expected = {frozenset(set(ids) & loaded) for ids in truth.persons.values()} - {frozenset()}
    assert {frozenset(g) for g in groups.values()} == expected
    assert report.identity.persons == len(expected)
    for pid, members in groups.items():
        assert pid == f"p-{min(members)}"


def test_second_load_changes_nothing(graph, dataset: Path) -> None:
    first = load_folder(graph, dataset, report_dir=dataset / "r4")
    before = snapshot(graph)
    again = load_folder(graph, dataset, report_dir=dataset / "r4")
    assert (first.mode, again.mode) == ("bulk", "cypher")
    assert again.identity.links_written == 0
    assert snapshot(graph) == before


def test_incremental_load_equals_one_load(graph, server, dataset: Path, tmp_path: Path) -> None:
    from conftest import new_backend

    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for name in ("channels", "products", "campaigns", "tickets", "campaign_touches", "interactions", "referrals", "preferences"):
        shutil.copy(dataset / f"{name}.csv", first / f"{name}.csv")
    shutil.copy(dataset / "customers.csv", first / "customers.csv")
    tx = read_csv(dataset / "transactions.csv")
    half = len(tx) // 2
    tx.iloc[:half].to_csv(first / "transactions.csv", index=False)
    tx.iloc[half:].to_csv(second / "transactions.csv", index=False)
    pd.read_csv(dataset / "customers.csv", dtype=str, keep_default_na=False).iloc[:0].to_csv(second / "customers.csv", index=False)
    load_folder(graph, first)
    load_folder(graph, second)
    whole = new_backend(server)
    try:
        load_folder(whole, dataset, report_dir=tmp_path / "whole")
        assert snapshot(graph) == snapshot(whole)
    finally:
        whole.drop()


def test_missing_required_column_fails_fast_and_writes_nothing(graph, dataset: Path, tmp_path: Path) -> None:
    shutil.copytree(dataset, tmp_path / "d")
    tx = read_csv(tmp_path / "d" / "transactions.csv").drop(columns=["amount"])
    tx.to_csv(tmp_path / "d" / "transactions.csv", index=False)
    with pytest.raises(InputError, match=r"transactions\.csv.*'amount'"):
        load_folder(graph, tmp_path / "d")
    assert graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 0


def test_missing_customers_file_is_an_error(graph, tmp_path: Path) -> None:
    (tmp_path / "products.csv").write_text("product_id,name\np1,A\n")
    with pytest.raises(InputError, match="customers.csv"):
        load_folder(graph, tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "no header"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "customers.csv"),
        (b"customer id,source\nc1,crm\n", "not usable as a property name"),
        (b"customer_id,customer_id,source\n", "more than once"),
    ],
)
def test_unusable_files_fail_with_the_file_name(graph, tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "customers.csv").write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_folder(graph, tmp_path)


def test_bad_rows_are_rejected_with_reasons_not_lost(graph, tmp_path: Path) -> None:
    text = (
        'customer_id,source,name,signup_date\n'
        'c1,crm,"Ann ""The"" Best, Jr.",2024-01-02\n'
        'c2,crm,Bob\n'  # too few fields
        'c3,crm,Cy,2024-01-02,extra\n'  # too many
        'c4,crm,"multi\nline",2024-02-30\n'  # quoted newline; impossible date
        'c5,crm,=cmd|\' /C calc\'!A0,2024-03-01T10:00:00+02:00\n'
        'c6,crm,nul\x00here,\n'
        'c1,crm,"Ann ""The"" Best, Jr.",2024-01-02\n'  # exact duplicate
        'c1,web,Other,\n'  # same key, other values
    ).encode() + b"c7,crm,caf\xe9,\n"
    (tmp_path / "customers.csv").write_bytes(text)
    report = load_folder(graph, tmp_path)
    s = report.files["customers"]
    assert (s.read, s.loaded, s.rejected, s.duplicates) == (9, 2, 6, 1)
    rejects = pd.read_csv(s.rejects_file, dtype=object, keep_default_na=False, encoding_errors="surrogateescape").set_index("row")
    assert "expected 4 fields, found 3" in rejects.loc["2", "reason"]
    assert "found 5" in rejects.loc["3", "reason"]
    assert "signup_date" in rejects.loc["4", "reason"]
    assert "NUL" in rejects.loc["6", "reason"]
    assert "same key as row 1" in rejects.loc["8", "reason"]
    assert "UTF-8" in rejects.loc["9", "reason"]
    got = {r["id"]: r for r in graph.read("MATCH (c:Customer) RETURN c.customer_id AS id, c.name AS name, c.signup_date AS d, c.signup_ts AS ts")}
    assert got["c1"]["name"] == 'Ann "The" Best, Jr.'
    assert got["c5"]["name"] == "=cmd|' /C calc'!A0"
    assert got["c5"]["d"] == "2024-03-01T08:00:00Z"
    assert got["c5"]["ts"] == int(pd.Timestamp("2024-03-01T08:00:00Z").timestamp())


@MODES
def test_extra_columns_are_kept(graph, tmp_path: Path, bulk: bool) -> None:
    (tmp_path / "customers.csv").write_text("customer_id,source,segment_code,tier\nc1,crm,A7,gold\nc2,crm,,\n")
    load_folder(graph, tmp_path, bulk=bulk)
    rows = graph.read("MATCH (c:Customer) RETURN c.customer_id AS id, c.segment_code AS s, c.tier AS t ORDER BY id")
    assert rows == [{"id": "c1", "s": "A7", "t": "gold"}, {"id": "c2", "s": None, "t": None}]


def test_parquet_gives_the_same_graph(graph, server, dataset: Path, tmp_path: Path) -> None:
    from conftest import new_backend

    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    for name in ("customers", "products", "channels", "transactions"):
        read_csv(dataset / f"{name}.csv").to_parquet(pq_dir / f"{name}.parquet", index=False)
        shutil.copy(dataset / f"{name}.csv", tmp_path / f"{name}.csv")
    load_folder(graph, pq_dir)
    other = new_backend(server)
    try:
        load_folder(other, tmp_path)
        assert snapshot(graph) == snapshot(other)
    finally:
        other.drop()


def test_row_by_row_baseline_writes_the_same_transactions(graph, server, dataset: Path, tmp_path: Path) -> None:
    """The benchmark's row-by-row MERGE baseline must do the same work as the batched load."""
    from conftest import new_backend
    from queries.load import ROW_BY_ROW_TRANSACTION

    from benchmarks.run import row_by_row_params

    sub = tmp_path / "s"
    sub.mkdir()
    for name in ("customers", "products", "channels"):
        _valid_rows(dataset, name).to_csv(sub / f"{name}.csv", index=False)
    tx = _valid_rows(dataset, "transactions").head(300)
    assert (tx["product_id"] != "").any() and (tx["channel_id"] != "").any()
    tx.to_csv(sub / "transactions.csv", index=False)
    load_folder(graph, sub)
    other = new_backend(server)
    try:
        load_folder(other, sub, resolve=True)
        other.write("MATCH (t:Transaction) DETACH DELETE t")
        from loaders.reader import open_source
        from loaders.validate import DuplicateTracker, validate_chunk

        spec = CONTRACT["transactions"]
        for chunk in open_source(sub / "transactions.csv").chunks(1000):
            checked = validate_chunk(spec, chunk.frame, resolve_refs=lambda f, ids: ids == ids, tracker=DuplicateTracker())
            for r in checked.records:
                other.write(ROW_BY_ROW_TRANSACTION, row_by_row_params(r))
        assert snapshot(graph) == snapshot(other)
    finally:
        other.drop()


def test_rejects_file_keeps_undecodable_bytes(graph, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_bytes(b"customer_id,source,name\nc1,crm,caf\xe9\n")
    report = load_folder(graph, tmp_path)
    assert b"c1,crm,caf\xe9," in Path(report.files["customers"].rejects_file).read_bytes()


@MODES
def test_every_column_lands_on_its_property_extras_included(graph, dataset: Path, tmp_path: Path, bulk: bool) -> None:
    """New rows travel as positional lists (Cypher) or binary records (bulk); each text column
    (and an extra column in every file) must end up on the property of its name."""
    for name in CONTRACT:
        df = _valid_rows(dataset, name)
        df["src_note"] = "x-" + df[list(CONTRACT[name].key)].agg("|".join, axis=1)
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    report = load_folder(graph, tmp_path, report_dir=tmp_path / "r", bulk=bulk)
    for name, label in LABELS.items():
        spec = CONTRACT[name]
        key = "preference_id" if name == "preferences" else spec.key[0]
        df = read_csv(tmp_path / f"{name}.csv").apply(lambda col: col.str.strip())  # the contract trims cells
        if name == "preferences":
            df["preference_id"] = df["customer_id"] + "|" + df["key"]
        text_cols = [c.name for c in spec.columns if c.kind == "text" and c.name in df.columns and c.name != key] + ["src_note"]
        expected = df.drop_duplicates(key).set_index(key)[text_cols]
        rows = graph.read(f"MATCH (n:{label}) RETURN n.{key} AS k, " + ", ".join(f"n.{c} AS {c}" for c in text_cols))
        assert len(rows) == report.files[name].loaded > 0, name
        got = pd.DataFrame(rows).set_index("k").fillna("")
        pd.testing.assert_frame_equal(got.sort_index(), expected.loc[got.index].sort_index(), check_names=False, obj=name)
