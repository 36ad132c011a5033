"""Identity resolution: pure grouping by hand-worked cases, and re-runs on the graph."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.identity import Account, normalise_email, normalise_phone, resolve
from loaders.load import load_folder


def test_transitive_links_make_one_person() -> None:
    links = resolve([
        Account("a", email="Ann@X.com "),
        Account("b", email="ann@x.com", phone="+1 (555) 010-1234"),
        Account("c", phone="555 010 1234"),
        Account("d", loyalty_id="L1"),
        Account("e", loyalty_id=" l1"),
        Account("f", email="nobody@y.com"),
    ])
    assert {k: v.person_id for k, v in links.items()} == {
        "a": "p-a", "b": "p-a", "c": "p-a", "d": "p-d", "e": "p-d", "f": "p-f",
    }
    assert links["a"].rules == ("email",)
    assert links["b"].rules == ("email", "phone")
    assert links["c"].rules == ("phone",) and links["c"].matched_with == ("b",)
    assert links["f"].rules == () and links["f"].matched_with == ()


@pytest.mark.parametrize("raw, norm", [("+1 555-010-1234", "5550101234"), ("(555) 010 1234", "5550101234"), ("12", ""), (None, "")])
def test_phone_normalisation(raw, norm) -> None:
    assert normalise_phone(raw) == norm


def test_email_without_at_sign_links_nothing() -> None:
    assert normalise_email("n/a") == ""
    assert resolve([Account("a", email="n/a"), Account("b", email="N/A")])["b"].person_id == "p-b"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "e1@x", "e2@x", "e3@x"]), st.sampled_from(["", "5550000001", "5550000002"])), min_size=1, max_size=25))
def test_persons_are_connected_components(rows) -> None:
    """Independent answer: NetworkX components of the 'shares a value' graph."""
    accounts = [Account(f"c{i:02d}", email=e, phone=p) for i, (e, p) in enumerate(rows)]
    g = nx.Graph()
    g.add_nodes_from(a.customer_id for a in accounts)
    for a in accounts:
        for b in accounts:
            if a.customer_id < b.customer_id and ((a.email and a.email == b.email) or (a.phone and a.phone == b.phone)):
                g.add_edge(a.customer_id, b.customer_id)
    expected = {n: f"p-{min(comp)}" for comp in nx.connected_components(g) for n in comp}
    assert {k: v.person_id for k, v in resolve(accounts).items()} == expected


def _persons(graph) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in graph.read("MATCH (c:Customer)-[:BELONGS_TO]->(p:Person) RETURN p.person_id AS p, c.customer_id AS c, p.size AS n"):
        out.setdefault(r["p"], set()).add(r["c"])
    return out


def test_new_data_merges_persons_and_removes_the_old_one(graph, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "customers.csv").write_text(
        "customer_id,source,email,phone\n"
        "crm-1,crm,ann@x.com,\n"
        "web-1,webshop,ANN@x.com,555-010-1234\n"
        "sup-9,support,,\n"
        "mkt-2,marketing,bob@y.com,\n"
    )
    load_folder(graph, first)
    assert _persons(graph) == {"p-crm-1": {"crm-1", "web-1"}, "p-sup-9": {"sup-9"}, "p-mkt-2": {"mkt-2"}}
    # sup-9 now shows the phone of web-1, and a new account bridges bob into the same person
    (second / "customers.csv").write_text(
        "customer_id,source,email,phone\n"
        "sup-9,support,,(555) 010 1234\n"
        "aaa-0,crm,bob@y.com,5550101234\n"
    )
    report = load_folder(graph, second)
    assert _persons(graph) == {"p-aaa-0": {"crm-1", "web-1", "sup-9", "mkt-2", "aaa-0"}}
    assert report.identity.persons_deleted == 3
    assert graph.read("MATCH (p:Person) RETURN count(p) AS n, max(p.size) AS size") == [{"n": 1, "size": 5}]
    rules = {r["c"]: sorted(r["rules"]) for r in graph.read("MATCH (c:Customer)-[b:BELONGS_TO]->(:Person) RETURN c.customer_id AS c, b.rules AS rules")}
    assert rules == {"crm-1": ["email"], "web-1": ["email", "phone"], "sup-9": ["phone"], "mkt-2": ["email"], "aaa-0": ["email", "phone"]}
    again = load_folder(graph, second)
    assert again.identity.links_written == 0 and again.identity.persons_deleted == 0


def test_references_to_earlier_loads_are_found_in_the_graph(graph, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "customers.csv").write_text("customer_id,source\nc1,crm\n")
    (first / "campaigns.csv").write_text("campaign_id,name\nk1,Spring\n")
    (second / "customers.csv").write_text("customer_id,source\n")
    (second / "campaign_touches.csv").write_text(
        "touch_id,customer_id,campaign_id,sent_at,response\nt1,c1,k1,2024-01-01,accepted\nt2,c1,k2,2024-01-01,none\n"
    )
    load_folder(graph, first)
    report = load_folder(graph, second)
    assert (report.files["campaign_touches"].loaded, report.files["campaign_touches"].rejected) == (1, 1)
    assert graph.read("MATCH (:Customer)-[r:RECEIVED]->(t:Touch)-[o:OF]->(k:Campaign) RETURN t.touch_id AS t, k.campaign_id AS k, t.response AS resp") == [
        {"t": "t1", "k": "k1", "resp": "accepted"}
    ]
