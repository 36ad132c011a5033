"""Hostile text is data, never Cypher: stored and returned verbatim, and it changes no query.

Ids, names, free-text columns and parameters full of quotes, backticks, braces, backslashes,
newlines, unicode and Cypher keywords go through load -> graph -> read, the 360 view,
recommendations, next best offer and ``c360 cypher --param``. Node counts never change under
reads, and no user text ever becomes a label or a relationship type.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cli.main import main
from conftest import new_backend
from graph.errors import InputError, NotFoundError
from graph.schema import NODE_KEYS
from loaders.load import load_folder

HOSTILE = [
    "x'}) DETACH DELETE n //",
    'y"}) MATCH (n) DETACH DELETE n //',
    "`Customer`:Evil {x: 1}",
    'back\\slash\\" quote\\',
    "{rows} $customer_id $props",
    "line1\nline2\r\nline3",
    "MATCH (n) DETACH DELETE n",
    "ünïcødé ✓ 🚀 \u2028 中文 עברית \u200b",
    "tab\there; DROP TABLE customers; --",
    "}]->(x) CREATE (:Hacked {by: 'me'}) //",
    "\\u0027 \\x27 escaped",
    "=cmd|' /C calc'!A0",
    "/* c */ RETURN 1 UNION MATCH (n) RETURN n",
    "p-') RETURN 1 //",
]
"""No leading/trailing blanks (the loader strips cells) and none is valid JSON (``--param``
reads JSON values), so each must come back exactly as written."""

REL_TYPES = {
    "BELONGS_TO", "MADE", "RAISED", "HAD", "RECEIVED", "HAS_PREFERENCE", "FOR", "VIA", "ABOUT",
    "ABOUT_CAMPAIGN", "ABOUT_TICKET", "OF", "OFFERS", "REFERRED", "FOLLOWS", "HOUSEHOLD", "MENTIONED", "IN_SEGMENT",
}
"""The relationship types of docs/data-model.md."""

LABELS_IN_SCHEMA = "CALL db.labels() YIELD label RETURN label"
TYPES_IN_SCHEMA = "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType AS type"
COUNT_BY_LABEL = "MATCH (n) RETURN labels(n)[0] AS label, count(n) AS n"
COUNT_EDGES = "MATCH ()-[r]->() RETURN count(r) AS n"
CUSTOMERS = "MATCH (c:Customer) RETURN c.customer_id AS id, c.name AS name, c.city AS city, c.note AS note"
PURCHASES = (
    "MATCH (c:Customer)-[m:MADE]->(t:Transaction)-[f:FOR]->(p:Product) "
    "RETURN c.customer_id AS c, t.transaction_id AS t, p.product_id AS p, p.category AS category"
)
PREFERENCES = "MATCH (c:Customer)-[h:HAS_PREFERENCE]->(p:Preference) RETURN c.customer_id AS c, p.key AS key, p.value AS value"
INTERACTION_KINDS = "MATCH (c:Customer)-[h:HAD]->(i:Interaction) RETURN c.customer_id AS c, i.kind AS kind, i.text AS text"
INFLUENCE = "MATCH (a:Customer)-[r:REFERRED]->(b:Customer) RETURN a.customer_id AS a, b.customer_id AS b"
PERSONS = "MATCH (c:Customer)-[b:BELONGS_TO]->(p:Person) RETURN c.customer_id AS c, p.person_id AS p"
NAME_BY_ID = "MATCH (c:Customer {customer_id: $id}) RETURN c.name AS name"
SET_NICK = "MATCH (c:Customer {customer_id: $id}) SET c.nick = $nick RETURN c.nick AS nick"


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")  # \r\n terminator: embedded \r and \n get quoted
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


def hostile_folder(folder: Path) -> Path:
    """Every contract file with hostile ids and text; references between them all valid."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(HOSTILE)
    products = [f"P{h}" for h in HOSTILE]
    _csv(folder / "channels.csv", ["channel_id", "name", "kind"], [[f"ch{h}", h, "web"] for h in HOSTILE])
    _csv(folder / "products.csv", ["product_id", "name", "category", "kind"], [[p, h, h, "product"] for p, h in zip(products, HOSTILE)])
    _csv(folder / "campaigns.csv", ["campaign_id", "name", "kind", "offer_product_id"],
         [[f"k{h}", h, "upsell", products[i]] for i, h in enumerate(HOSTILE)])
    # pairs of accounts share an email, so identity resolution builds persons from hostile ids
    _csv(folder / "customers.csv", ["customer_id", "source", "name", "city", "email", "note"],
         [[h, "crm", h, HOSTILE[-1 - i], f"shared{i // 2}@example.com", h] for i, h in enumerate(HOSTILE)])
    _csv(folder / "transactions.csv", ["transaction_id", "customer_id", "occurred_at", "amount", "product_id", "channel_id"],
         [[f"t{h}", h, "2024-01-02T03:04:05Z", "9.5", products[(i + 1) % n], f"ch{h}"] for i, h in enumerate(HOSTILE)])
    _csv(folder / "interactions.csv", ["interaction_id", "customer_id", "occurred_at", "channel_id", "kind", "text"],
         [[f"i{h}", h, "2024-01-03", f"ch{h}", h, h] for h in HOSTILE])
    _csv(folder / "tickets.csv", ["ticket_id", "customer_id", "opened_at", "severity", "status", "topic"],
         [[f"tk{h}", h, "2024-01-04", "high", "open", h] for h in HOSTILE])
    _csv(folder / "campaign_touches.csv", ["touch_id", "customer_id", "campaign_id", "sent_at", "response"],
         [[f"to{h}", h, f"k{h}", "2024-01-05", "accepted"] for h in HOSTILE])
    _csv(folder / "referrals.csv", ["from_customer_id", "to_customer_id", "kind"],
         [[h, HOSTILE[(i + 1) % n], "referral"] for i, h in enumerate(HOSTILE)])
    _csv(folder / "preferences.csv", ["customer_id", "key", "value"], [[h, h, h] for h in HOSTILE])
    return folder


@pytest.fixture()
def loaded(graph, tmp_path: Path):
    report = load_folder(graph, hostile_folder(tmp_path / "hostile"))
    for name, s in report.files.items():
        assert (s.rejected, s.duplicates) == (0, 0), (name, s.rejects_file)
        assert s.loaded == len(HOSTILE), name
    return graph


def counts(graph) -> tuple[dict[str, int], int]:
    return {r["label"]: r["n"] for r in graph.read(COUNT_BY_LABEL)}, graph.read(COUNT_EDGES)[0]["n"]


def test_hostile_text_round_trips_verbatim(loaded) -> None:
    n = len(HOSTILE)
    got = {r["id"]: (r["name"], r["city"], r["note"]) for r in loaded.read(CUSTOMERS)}
    assert got == {h: (h, HOSTILE[-1 - i], h) for i, h in enumerate(HOSTILE)}
    purchases = {(r["c"], r["t"], r["p"], r["category"]) for r in loaded.read(PURCHASES)}
    assert purchases == {(h, f"t{h}", f"P{HOSTILE[(i + 1) % n]}", HOSTILE[(i + 1) % n]) for i, h in enumerate(HOSTILE)}
    assert {(r["c"], r["key"], r["value"]) for r in loaded.read(PREFERENCES)} == {(h, h, h) for h in HOSTILE}
    assert {(r["c"], r["kind"], r["text"]) for r in loaded.read(INTERACTION_KINDS)} == {(h, h, h) for h in HOSTILE}
    assert {(r["a"], r["b"]) for r in loaded.read(INFLUENCE)} == {(h, HOSTILE[(i + 1) % n]) for i, h in enumerate(HOSTILE)}
    persons: dict[str, set[str]] = {}
    for r in loaded.read(PERSONS):
        persons.setdefault(r["p"], set()).add(r["c"])
    expected = [set(HOSTILE[i : i + 2]) for i in range(0, n, 2)]
    assert sorted(map(sorted, persons.values())) == sorted(map(sorted, expected))
    for pid, members in persons.items():
        assert pid == f"p-{min(members)}"


def test_no_user_text_becomes_a_label_or_a_type(loaded) -> None:
    labels = {r["label"] for r in loaded.read(LABELS_IN_SCHEMA)}
    types = {r["type"] for r in loaded.read(TYPES_IN_SCHEMA)}
    assert labels <= set(NODE_KEYS), labels - set(NODE_KEYS)
    assert types <= REL_TYPES, types - REL_TYPES
    by_label, _ = counts(loaded)
    n = len(HOSTILE)
    assert by_label == {"Customer": n, "Product": n, "Channel": n, "Campaign": n, "Transaction": n, "Interaction": n,
                        "Ticket": n, "Touch": n, "Preference": n, "Person": n // 2}


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def test_reads_with_hostile_ids_change_nothing_and_return_verbatim(loaded) -> None:
    before = counts(loaded)
    try:
        from queries.view import customer_360
    except ImportError:
        customer_360 = None
    for h in HOSTILE:
        if customer_360 is not None:
            view = customer_360(loaded, h)
            strings = set(_strings(view))
            assert h in strings and f"t{h}" in strings, h
        for module, fn, kwargs in (("queries.recommend", "recommend", {"k": 5}), ("queries.nbo", "next_best", {})):
            try:
                call = getattr(__import__(module, fromlist=[fn]), fn)
            except (ImportError, AttributeError):
                continue
            call(loaded, h, **kwargs)
        assert counts(loaded) == before, h
    if customer_360 is not None:
        with pytest.raises(NotFoundError):
            customer_360(loaded, "x'}) MATCH (n) RETURN n //-not-there")
    assert counts(loaded) == before


def test_cypher_params_from_the_command_line_are_values(server, cli_env, tmp_path: Path, capsys) -> None:
    g = new_backend(server, cli_env["C360_GRAPH_NAME"])
    try:
        load_folder(g, hostile_folder(tmp_path / "hostile"))
        before = counts(g)
        for h in HOSTILE:
            assert main(["cypher", NAME_BY_ID, "-p", f"id={h}", "-f", "json", "--read-only"]) == 0
            out, err = capsys.readouterr()
            assert json.loads(out) == [{"name": h}], err
            assert main(["cypher", SET_NICK, "-p", f"id={h}", "-p", f"nick={h}", "-f", "json"]) == 0
            out, err = capsys.readouterr()
            assert json.loads(out) == [{"nick": h}], err
        assert counts(g) == before
    finally:
        g.drop()
        g.close()


@pytest.mark.parametrize("name", ["a`b", "a}b", "n:Evil", "x) DETACH DELETE n //", "ünï"])
def test_hostile_column_names_are_refused(graph, tmp_path: Path, name: str) -> None:
    (tmp_path / "customers.csv").write_text(f'customer_id,source,"{name}"\nc1,crm,v\n', encoding="utf-8")
    with pytest.raises(InputError, match="customers.csv"):
        load_folder(graph, tmp_path)
    assert counts(graph) == ({}, 0)


def test_engine_password_is_not_on_its_command_line(server) -> None:
    """Any local user can read /proc/<pid>/cmdline; the password must not be there."""
    cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes()
    assert server.password.encode() not in cmdline
    assert b"redis-server" in cmdline
