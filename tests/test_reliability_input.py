"""Bad input never crashes a load and never loads part of a file silently.

Every file either fails fast with an ``InputError`` naming the file (and column), leaving the
graph untouched, or is loaded with ``read = loaded + rejected + duplicates`` and a reason for
every rejected row. Cases already covered by tests/test_load.py (empty file, PNG bytes, bad or
repeated header names, short/long rows, impossible dates, NUL, latin-1 cells, exact and
conflicting duplicates, extra columns) are not repeated here. Property-based tests drive the
reader and validator with arbitrary text.
"""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import new_backend
from graph.errors import InputError
from loaders.contract import CONTRACT
from loaders.load import load_folder
from loaders.reader import MAX_FIELD_BYTES, open_source
from loaders.validate import DuplicateTracker, validate_chunk

COUNT_NODES = "MATCH (n) RETURN count(n) AS n"
CUSTOMERS = "MATCH (c:Customer) RETURN c.customer_id AS id, c.name AS name, c.city AS city, c.email AS email"
TRANSACTIONS = "MATCH (c:Customer)-[m:MADE]->(t:Transaction) RETURN t.transaction_id AS id, c.customer_id AS c, t.amount AS amount"

GOOD_CUSTOMERS = "customer_id,source,name\nc1,crm,Ann\nc2,web,Bob\n"
GOOD_PRODUCTS = "product_id,name,price\np1,Tea,3.5\n"


def node_count(graph) -> int:
    return graph.read(COUNT_NODES)[0]["n"]


def reconciles(report) -> None:
    for name, s in report.files.items():
        assert s.read == s.loaded + s.rejected + s.duplicates, name


def rejects(summary) -> pd.DataFrame:
    assert summary.rejects_file, "expected a rejects file"
    return pd.read_csv(summary.rejects_file, dtype=str, keep_default_na=False, encoding_errors="surrogateescape")


# --- whole files the loader must refuse, naming the file, before writing anything ---------------

@pytest.mark.parametrize(
    "name, content, message",
    [
        ("transactions", bytes(range(256)) * 8, r"transactions\.csv"),  # binary junk
        ("transactions", b"\x1f\x8b\x08\x00" + b"\x00" * 64, r"transactions\.csv"),  # a gzip stream named .csv
        ("customers", "customer_id,source,name\nc1,crm,Ann\n".encode("utf-16"), r"customers\.csv"),  # UTF-16 with BOM
        ("customers", "customer_id,source,name\nc1,crm,Ann\n".encode("utf-16-le"), r"customers\.csv"),  # UTF-16, no BOM
        ("customers", "customer_id,source,pr\xe9nom\nc1,crm,Ann\n".encode("latin-1"), r"customers\.csv.*UTF-8"),
        ("customers", b"c1,crm,Ann\nc2,web,Bob\n", r"customers\.csv"),  # no header: data in the first line
        ("customers", b"\n\n\n", r"customers\.csv.*no header"),  # only blank lines
    ],
)
def test_unusable_file_fails_naming_it_and_writes_nothing(graph, tmp_path: Path, name: str, content: bytes, message: str) -> None:
    if name != "customers":
        (tmp_path / "customers.csv").write_text(GOOD_CUSTOMERS)
    (tmp_path / f"{name}.csv").write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_folder(graph, tmp_path)
    assert node_count(graph) == 0


@pytest.mark.parametrize("file, column", [(f, c) for f, spec in CONTRACT.items() for c in spec.required])
def test_every_missing_required_column_is_named(graph, tmp_path: Path, file: str, column: str) -> None:
    spec = CONTRACT[file]
    header = [c.name for c in spec.columns if c.name != column]
    (tmp_path / "customers.csv").write_text(GOOD_CUSTOMERS)
    (tmp_path / f"{file}.csv").write_text(",".join(header) + "\n" + ",".join("x" for _ in header) + "\n")
    with pytest.raises(InputError, match=rf"{file}\.csv.*'{column}'"):
        load_folder(graph, tmp_path)
    assert node_count(graph) == 0


# --- files that load, with every bad row rejected for a reason ------------------------------------

def test_bom_crlf_and_trailing_blank_lines_load_like_plain_utf8(graph, server, tmp_path: Path) -> None:
    plain, odd = tmp_path / "plain", tmp_path / "odd"
    plain.mkdir()
    odd.mkdir()
    text = 'customer_id,source,name,city\nc1,crm,"Ann\nMarie",Zürich\nc2,web,Bob,"Aix, en-Provence"\n'
    (plain / "customers.csv").write_text(text, encoding="utf-8")
    (odd / "customers.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").replace("Ann\r\nMarie", "Ann\nMarie").encode() + b"\r\n\r\n\n")
    a = load_folder(graph, plain)
    other = new_backend(server)
    try:
        b = load_folder(other, odd)
        assert (b.files["customers"].read, b.files["customers"].loaded) == (2, 2)
        reconciles(b)
        got = sorted((r["id"], r["name"], r["city"]) for r in other.read(CUSTOMERS))
        assert got == [("c1", "Ann\nMarie", "Zürich"), ("c2", "Bob", "Aix, en-Provence")]
        assert got == sorted((r["id"], r["name"], r["city"]) for r in graph.read(CUSTOMERS))
        assert a.files["customers"].read == 2
    finally:
        other.drop()


def test_huge_field_is_rejected_not_loaded(graph, tmp_path: Path) -> None:
    big = "x" * (MAX_FIELD_BYTES + 10)
    (tmp_path / "customers.csv").write_text(f"customer_id,source,name\nc1,crm,{big}\nc2,crm,Bob\n")
    report = load_folder(graph, tmp_path)
    s = report.files["customers"]
    assert (s.read, s.loaded, s.rejected) == (2, 1, 1)
    assert "longer than" in rejects(s).loc[0, "reason"]
    assert [r["id"] for r in graph.read(CUSTOMERS)] == ["c2"]


def test_wrong_types_and_dangling_references_are_rejected_with_the_column(graph, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(GOOD_CUSTOMERS)
    (tmp_path / "products.csv").write_text(GOOD_PRODUCTS)
    rows = [
        ("t1", "c1", "2024-01-02", "10.5", "p1", "2", ""),  # good
        ("t2", "c1", "2024-01-02", "ten", "", "", ""),  # amount not a number
        ("t3", "c1", "2024-01-02", "1", "", "1.5", ""),  # quantity not whole
        ("t4", "c1", "yesterday", "1", "", "", ""),  # not a date
        ("t5", "c9", "2024-01-02", "1", "", "", ""),  # unknown customer
        ("t6", "c2", "2024-01-02", "1", "p9", "", ""),  # unknown product
        ("t7", "c2", "2024-01-02", "inf", "", "", ""),  # not finite
        ("t8", "c2", "2024-01-02", "NaN", "", "", ""),
        ("t9", "", "2024-01-02", "1", "", "", ""),  # required value missing
        ("t10", "c2", "2024-01-02", "-4.25", "", "", "=cmd|' /C calc'!A0"),  # a refund, formula-like order id
    ]
    header = "transaction_id,customer_id,occurred_at,amount,product_id,quantity,order_id"
    (tmp_path / "transactions.csv").write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    report = load_folder(graph, tmp_path)
    reconciles(report)
    s = report.files["transactions"]
    assert (s.read, s.loaded, s.rejected, s.duplicates) == (10, 2, 8, 0)
    reasons = dict(zip(rejects(s)["transaction_id"], rejects(s)["reason"]))
    expected_column = {"t2": "amount", "t3": "quantity", "t4": "occurred_at", "t5": "customer_id", "t6": "product_id",
                       "t7": "amount", "t8": "amount", "t9": "customer_id"}
    for tid, column in expected_column.items():
        assert reasons[tid].startswith(column + ":"), (tid, reasons[tid])
    got = {r["id"]: (r["c"], r["amount"]) for r in graph.read(TRANSACTIONS)}
    assert got == {"t1": ("c1", 10.5), "t10": ("c2", -4.25)}


def test_enums_and_ranges_are_checked(graph, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(GOOD_CUSTOMERS)
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,customer_id,opened_at,severity,status,satisfaction\n"
        "k1,c1,2024-01-02,HIGH,Open,5\n"  # enums are case-insensitive
        "k2,c1,2024-01-02,urgent,open,\n"
        "k3,c1,2024-01-02,low,gone,\n"
        "k4,c1,2024-01-02,low,open,6\n"
        "k5,c1,2024-01-02,low,open,0\n"
    )
    report = load_folder(graph, tmp_path)
    s = report.files["tickets"]
    assert (s.read, s.loaded, s.rejected) == (5, 1, 4)
    reasons = list(rejects(s)["reason"])
    assert [r.split(":")[0] for r in reasons] == ["severity", "status", "satisfaction", "satisfaction"]


def test_unterminated_quote_is_accounted_for(graph, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text('customer_id,source,name\nc1,crm,Ann\nc2,crm,"Bob\nc3,crm,Cy\n')
    report = load_folder(graph, tmp_path)
    reconciles(report)
    s = report.files["customers"]
    loaded = {r["id"] for r in graph.read(CUSTOMERS)}
    assert "c1" in loaded and s.loaded == len(loaded)
    assert s.read >= 2 and s.rejected + s.loaded + s.duplicates == s.read


def test_header_only_file_loads_nothing(graph, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("customer_id,source\n")
    report = load_folder(graph, tmp_path)
    s = report.files["customers"]
    assert (s.read, s.loaded, s.rejected, s.duplicates) == (0, 0, 0, 0)
    assert node_count(graph) == 0


# --- property-based: the reader and validator with arbitrary text ---------------------------------

cell = st.text(max_size=40)
row = st.tuples(st.sampled_from(["c1", "c2", "c3", "c4", " c1 ", ""]), st.sampled_from(["crm", "web", ""]), cell, cell)


def write_csv(path: Path, rows: list[tuple[str, ...]], *, newline: str = "\n") -> None:
    """Standard CSV; a lone ``\r`` is a line break unless quoted, and csv.writer only quotes it
    when it is part of the line terminator, so such rows are written fully quoted."""
    buf = io.StringIO(newline="")
    minimal = csv.writer(buf, lineterminator=newline)
    quoted = csv.writer(buf, lineterminator=newline, quoting=csv.QUOTE_ALL)
    minimal.writerow(["customer_id", "source", "name", "city"])
    for r in rows:
        (quoted if any("\r" in c for c in r) else minimal).writerow(r)
    path.write_bytes(buf.getvalue().encode("utf-8", errors="surrogatepass"))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=15), newline=st.sampled_from(["\n", "\r\n"]), chunk=st.integers(1, 7))
def test_reader_and_validator_always_reconcile(tmp_path: Path, rows, newline: str, chunk: int) -> None:
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    write_csv(path, rows, newline=newline)
    src = open_source(path)
    read = kept = rejected = dups = 0
    tracker = DuplicateTracker()
    for c in src.chunks(chunk):
        read += c.rows_read
        assert c.rows_read <= chunk
        checked = validate_chunk(CONTRACT["customers"], c.frame, resolve_refs=lambda f, ids: ids == ids, tracker=tracker)
        kept += len(checked.records)
        rejected += len(checked.rejects) + len(c.bad)
        dups += checked.duplicates
        assert all(r for r in checked.rejects["reason"])
    assert read == len(rows)  # csv.writer never writes a blank line for a 4-cell row
    assert read == kept + rejected + dups
    # independently: a row is kept when its key and source are present, no NUL, first of its key
    expected_keys = []
    seen: dict[str, tuple] = {}
    for r in rows:
        stripped = tuple(x.strip() for x in r)
        if not stripped[0] or not stripped[1] or any("\x00" in x for x in r):
            continue
        if stripped[0] not in seen:
            seen[stripped[0]] = stripped
            expected_keys.append(stripped[0])
    assert kept == len(expected_keys)


printable = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(printable, min_size=1, max_size=6), cities=st.lists(printable, min_size=6, max_size=6))
def test_valid_rows_round_trip_verbatim_through_the_graph(server, tmp_path: Path, names, cities) -> None:
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    rows = [(f"c{i}", "crm", name, cities[i]) for i, name in enumerate(names)]
    write_csv(folder / "customers.csv", rows)
    g = new_backend(server)
    try:
        report = load_folder(g, folder, resolve=False)
        reconciles(report)
        expected = {cid: (name.strip() or None, city.strip() or None) for cid, _, name, city in rows}
        assert report.files["customers"].loaded == len(rows)
        got = {r["id"]: (r["name"], r["city"]) for r in g.read(CUSTOMERS)}
        assert got == expected
    finally:
        g.drop()
        g.close()


TICKET_RANKS = "MATCH (t:Ticket) RETURN t.ticket_id AS id, t.severity AS severity, t.severity_rank AS rank"


def test_the_graph_does_not_depend_on_the_batch_size(graph, server, tmp_path: Path) -> None:
    from graph_snapshot import snapshot
    from loaders.contract import SEVERITY_RANK

    (tmp_path / "customers.csv").write_text(GOOD_CUSTOMERS)
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,customer_id,opened_at,severity,status\n"
        "k1,c1,2024-01-02,high,open\n"
        "k2,c1,2024-01-02,urgent,open\n"  # rejected: not a severity
        "k3,c2,2024-01-03,low,closed\n"
        "k4,c2,2024-01-04,critical,open\n"
    )
    load_folder(graph, tmp_path, batch_size=2, report_dir=tmp_path / "a")
    other = new_backend(server)
    try:
        load_folder(other, tmp_path, batch_size=100, report_dir=tmp_path / "b")
        for g in (graph, other):
            rows = g.read(TICKET_RANKS)
            assert {r["id"] for r in rows} == {"k1", "k3", "k4"}
            for r in rows:
                assert r["rank"] == SEVERITY_RANK[r["severity"]] and type(r["rank"]) is int, r
        assert snapshot(graph) == snapshot(other)
    finally:
        other.drop()


DECIMAL = r"[+-]?([0-9]{1,12}(\.[0-9]{0,6})?|\.[0-9]{1,6})([eE][+-]?[0-9]{1,2})?"


@settings(max_examples=60, deadline=None)
@given(amounts=st.lists(st.one_of(st.from_regex(rf"\A\s?{DECIMAL}\s?\Z"), st.text(max_size=12)), min_size=1, max_size=12))
def test_amounts_are_decimal_numbers_or_rejected_naming_the_column(amounts) -> None:
    import math
    import re

    frame = pd.DataFrame(
        {"transaction_id": [f"t{i}" for i in range(len(amounts))], "customer_id": "c1", "occurred_at": "2024-01-02",
         "amount": amounts},
        index=pd.RangeIndex(1, len(amounts) + 1, name="row"), dtype=object,
    )
    checked = validate_chunk(CONTRACT["transactions"], frame, resolve_refs=lambda f, ids: ids == ids, tracker=DuplicateTracker())
    assert len(checked.records) + len(checked.rejects) + checked.duplicates == len(amounts)
    kept = {r["transaction_id"]: r["amount"] for r in checked.records}
    reasons = dict(zip(checked.rejects["transaction_id"], checked.rejects["reason"]))
    for i, cell in enumerate(amounts):
        tid, text = f"t{i}", cell.strip()
        # pandas' parser may be 1 ulp off Python's for forms like '+.3E50' (money-like text is exact)
        if re.fullmatch(DECIMAL, text) and math.isfinite(float(text)):
            assert tid in kept and math.isclose(kept[tid], float(text), rel_tol=1e-15), (cell, reasons.get(tid))
        elif tid in kept:  # anything else accepted must still be the number the text says
            assert math.isclose(kept[tid], float(text), rel_tol=1e-15) and math.isfinite(kept[tid]), cell
        else:
            assert reasons[tid].startswith("amount:") or reasons[tid].startswith("occurred_at:"), reasons[tid]
