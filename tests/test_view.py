"""The 360 view against answers computed independently with pandas from the input CSV files.

Two data sets: a generated one (300 accounts, checked person by person against pandas and
the generator's planted identity truth) and a small hand-made one whose answers are worked
out by hand (a person with three accounts, refunds, lines without order ids, no purchases).
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from analytics.service_level import ServiceThresholds, service_level
from graph.backend import add_observer, remove_observer
from graph.errors import InputError, NotFoundError
from graph.falkor import FalkorBackend
from graph.schema import apply_schema
from loaders.generate import generate, load_truth
from loaders.load import load_folder
from queries import view as view_module
from queries.view import customer_360

SEVERITY = {"low": 1, "medium": 2, "high": 3, "critical": 4}
LIMIT = 5


# ----------------------------------------------------------------------------- fixtures


def _backend(server) -> FalkorBackend:
    b = FalkorBackend.connect(unix_socket_path=str(server.socket), password=server.password,
                              graph_name=f"v_{uuid.uuid4().hex[:12]}")
    apply_schema(b)
    return b


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("view_gen")
    generate(folder, customers=300, seed=7)
    return folder


@pytest.fixture(scope="module")
def gen_graph(server, dataset: Path, tmp_path_factory) -> Iterator[FalkorBackend]:
    b = _backend(server)
    load_folder(b, dataset, report_dir=tmp_path_factory.mktemp("view_report"))
    yield b
    b.drop()
    b.close()


def _read(folder: Path, name: str) -> pd.DataFrame:
    """Valid rows of a generated file (planted malformed rows and exact duplicates removed)."""
    truth = load_truth(folder)
    df = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
    df.index = pd.RangeIndex(1, len(df) + 1)
    bad = {m["row"] for m in truth.malformed if m["file"] == f"{name}.csv"}
    return df[~df.index.isin(bad)].drop_duplicates()


def _iso(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def frames(dataset: Path) -> dict[str, pd.DataFrame]:
    out = {name: _read(dataset, name) for name in
           ("customers", "transactions", "interactions", "tickets", "campaign_touches", "referrals", "preferences")}
    tx = out["transactions"]
    tx["amount"] = tx["amount"].astype(float)
    tx["when"] = _iso(tx["occurred_at"])
    it = out["interactions"]
    it["when"] = _iso(it["occurred_at"])
    tk = out["tickets"]
    tk["when"] = _iso(tk["opened_at"])
    tc = out["campaign_touches"]
    tc["when"] = _iso(tc["sent_at"])
    return out


def _expected(frames: dict[str, pd.DataFrame], accounts: list[str]) -> dict:
    """Everything the view reports, computed with pandas from the files."""
    tx = frames["transactions"][frames["transactions"]["customer_id"].isin(accounts)]
    orders = tx["order_id"].where(tx["order_id"] != "", "line:" + tx["transaction_id"])
    bought = tx[tx["amount"] >= 0]
    it = frames["interactions"][frames["interactions"]["customer_id"].isin(accounts)]
    it_sorted = it.sort_values(["when", "interaction_id"], ascending=False)
    views = it_sorted[it_sorted["kind"] == "product_view"]
    tk = frames["tickets"][frames["tickets"]["customer_id"].isin(accounts)]
    open_tk = tk[tk["status"].isin(["open", "pending"])].assign(rank=lambda d: d["severity"].map(SEVERITY))
    open_tk = open_tk.sort_values(["rank", "when", "ticket_id"], ascending=[False, True, True])
    tc = frames["campaign_touches"][frames["campaign_touches"]["customer_id"].isin(accounts)]
    ref = frames["referrals"]
    mine = set(accounts)
    out_edges = ref[ref["from_customer_id"].isin(mine) & ~ref["to_customer_id"].isin(mine)]
    in_edges = ref[ref["to_customer_id"].isin(mine) & ~ref["from_customer_id"].isin(mine)]
    holdings = tx[tx["product_id"] != ""].groupby("product_id").agg(
        purchases=("amount", lambda a: int((a >= 0).sum())), spend=("amount", "sum"))
    total = float(tx["amount"].sum())
    n_orders = int(orders.nunique())
    return {
        "total_spend": total,
        "order_count": n_orders,
        "line_count": len(tx),
        "average_order": total / n_orders if n_orders else None,
        "first_purchase": bought["when"].min() if len(bought) else None,
        "last_purchase": bought["when"].max() if len(bought) else None,
        "channel_counts": it.groupby("channel_id").size().to_dict(),
        "interactions": len(it),
        "timeline": list(it_sorted["interaction_id"][:LIMIT]),
        "views": list(views["interaction_id"][:LIMIT]),
        "view_total": len(views),
        "open_tickets": list(open_tk["ticket_id"]),
        "history": list(tk.sort_values(["when", "ticket_id"], ascending=False)["ticket_id"][:LIMIT]),
        "tickets": len(tk),
        "campaigns": list(tc.sort_values(["when", "touch_id"], ascending=False)["touch_id"][:LIMIT]),
        "touches": len(tc),
        "responses": tc["response"].replace("", "none").value_counts().to_dict(),
        "purchases": list(tx.sort_values(["when", "transaction_id"], ascending=False)["transaction_id"][:LIMIT]),
        "holdings": {k: (int(v.purchases), float(v.spend)) for k, v in holdings.iterrows()},
        "pref_keys": set(frames["preferences"][frames["preferences"]["customer_id"].isin(mine)]["key"]),
        "influences": set(zip(out_edges["kind"], out_edges["to_customer_id"])),
        "influenced_by": set(zip(in_edges["kind"], in_edges["from_customer_id"])),
    }


# ----------------------------------------------------------------------------- generated data


def test_every_person_matches_pandas(gen_graph, dataset, frames) -> None:
    truth = load_truth(dataset)
    assert len(truth.persons) > 150
    checked_multi = checked_refund = checked_empty = 0
    refunders = set(frames["transactions"].loc[frames["transactions"]["amount"] < 0, "customer_id"])
    persons = list(truth.persons.values())
    # every person with three accounts or a refund, and every fourth of the others (keeps it fast)
    chosen = [a for i, a in enumerate(persons) if len(a) == 3 or refunders & set(a) or i % 4 == 0]
    assert len(chosen) >= 50
    for accounts in chosen:
        v = customer_360(gen_graph, accounts[-1], limit=LIMIT, now="2030-01-01T00:00:00Z")
        e = _expected(frames, accounts)
        assert sorted(a["customer_id"] for a in v["accounts"]) == sorted(accounts)
        assert v["person_id"] == "p-" + min(accounts)
        p, past = v["present"], v["past"]
        for key in ("order_count", "line_count", "first_purchase", "last_purchase"):
            assert p[key] == e[key], (accounts, key)
        assert p["total_spend"] == pytest.approx(e["total_spend"], abs=0.0051)  # shown to the cent
        if e["average_order"] is None:
            assert p["average_order"] is None
        else:
            assert p["average_order"] == pytest.approx(e["average_order"], abs=0.0051)
        assert {c["channel_id"]: c["interactions"] for c in past["channel_counts"]} == e["channel_counts"]
        assert past["totals"]["interactions"] == e["interactions"]
        assert [i["interaction_id"] for i in past["timeline"]] == e["timeline"]
        assert [i["interaction_id"] for i in past["product_views"]] == e["views"]
        assert past["totals"]["product_views"] == e["view_total"]
        assert [t["ticket_id"] for t in p["open_tickets"]] == e["open_tickets"]
        assert [t["ticket_id"] for t in past["service_history"]] == e["history"]
        assert past["totals"]["tickets"] == e["tickets"]
        assert [t["touch_id"] for t in past["campaigns"]] == e["campaigns"]
        assert past["totals"]["campaign_touches"] == e["touches"]
        assert past["campaign_responses"] == e["responses"]
        assert [t["transaction_id"] for t in past["purchases"]] == e["purchases"]
        assert {h["product_id"]: (h["purchases"], pytest.approx(h["spend"])) for h in past["holdings"]} == e["holdings"]
        assert set(past["preferences"]) == e["pref_keys"]
        assert {(x["kind"], x["customer_id"]) for x in past["influence"]["influences"]} == e["influences"]
        assert {(x["kind"], x["customer_id"]) for x in past["influence"]["influenced_by"]} == e["influenced_by"]
        checked_multi += len(accounts) >= 2
        checked_refund += bool(refunders & set(accounts))
        checked_empty += e["line_count"] == 0
    assert checked_multi and checked_refund and checked_empty  # the data covered every case


def test_any_account_or_person_id_gives_the_same_person(gen_graph, dataset) -> None:
    truth = load_truth(dataset)
    accounts = next(a for a in truth.persons.values() if len(a) == 3)
    views = [customer_360(gen_graph, cid, now=0) for cid in [*accounts, "p-" + min(accounts)]]
    for v in views[1:]:
        assert v["person_id"] == views[0]["person_id"]
        assert v["present"]["total_spend"] == views[0]["present"]["total_spend"]
        assert v["past"]["timeline"] == views[0]["past"]["timeline"]
    assert [v["customer_id"] for v in views] == [*accounts, "p-" + min(accounts)]


def test_unknown_id_is_not_found(gen_graph) -> None:
    with pytest.raises(NotFoundError):
        customer_360(gen_graph, "crm-does-not-exist")
    with pytest.raises(NotFoundError):
        customer_360(gen_graph, "p-crm-does-not-exist")
    with pytest.raises(InputError):
        customer_360(gen_graph, "crm-000001", limit=0)


def test_few_statements_all_from_the_view_module(gen_graph, dataset) -> None:
    truth = load_truth(dataset)
    accounts = max(truth.persons.values(), key=len)
    sent: list[str] = []

    def observe(engine: str, query: str) -> None:
        sent.append(query)

    add_observer(observe)
    try:
        customer_360(gen_graph, accounts[0])
    finally:
        remove_observer(observe)
    constants = {v for k, v in vars(view_module).items() if k.isupper() and isinstance(v, str)}
    assert len(sent) <= 9
    assert set(sent) <= constants


def test_every_view_statement_starts_from_an_index(gen_graph) -> None:
    """No label or full scan: each statement begins with an index lookup on a node key."""
    names = [n for n in view_module.__all__ if n.startswith(("ACCOUNTS_", "VIEW_"))]
    assert len(names) == 9
    for name in names:
        plan = gen_graph.execute_command(
            "GRAPH.EXPLAIN", gen_graph.graph_name, "CYPHER id='x' ids=['x'] limit=3 " + getattr(view_module, name))
        text = "\n".join(x.decode() if isinstance(x, bytes) else str(x) for x in plan)
        assert "Node By Index Scan" in text, name
        assert "Label Scan" not in text and "All Node Scan" not in text, (name, text)


# ----------------------------------------------------------------------------- hand-made edge cases


def _write(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> None:
    with open(folder / f"{name}.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture(scope="module")
def hand_graph(server, tmp_path_factory) -> Iterator[FalkorBackend]:
    d = tmp_path_factory.mktemp("view_hand")
    _write(d, "customers", ["customer_id", "source", "name", "email", "phone", "city", "country"], [
        ["crm-1", "crm", "Ann Lee", "ann@example.com", "", "Paris", "FR"],
        ["webshop-1", "webshop", "A. Lee", "ANN@example.com", "+1 555-000-1111", "", ""],
        ["support-1", "support", "", "", "(555) 000 1111", "Lyon", "FR"],
        ["crm-2", "crm", "Bob Nobuy", "bob@example.com", "", "", ""],
        ["crm-3", "crm", "Cy Refund", "cy@example.com", "", "", ""],
        ["crm-4", "crm", "Di Noorder", "di@example.com", "", "", ""],
    ])
    _write(d, "products", ["product_id", "name", "kind"], [["p1", "Home policy", "policy"], ["p2", "Lamp", "product"]])
    _write(d, "channels", ["channel_id", "name", "kind"], [["ch-web", "Web shop", "web"], ["ch-call", "Call center", "call_center"]])
    _write(d, "transactions", ["transaction_id", "customer_id", "occurred_at", "amount", "product_id", "quantity", "order_id"], [
        ["t1", "crm-1", "2024-01-01T10:00:00Z", "100.00", "p1", "1", "o1"],
        ["t2", "crm-1", "2024-01-01T10:00:00Z", "50.00", "p2", "2", "o1"],
        ["t3", "webshop-1", "2024-02-01T09:00:00+01:00", "30.00", "p2", "1", "o2"],
        ["t4", "support-1", "2024-03-01", "20.00", "p2", "", ""],
        ["t5", "crm-3", "2024-01-10T12:00:00Z", "80.00", "p2", "1", "o3"],
        ["t6", "crm-3", "2024-01-20T12:00:00Z", "-80.00", "p2", "1", "o3"],
        ["t7", "crm-4", "2024-05-05T08:00:00Z", "10.00", "p2", "", ""],
        ["t8", "crm-4", "2024-05-05T09:00:00Z", "15.00", "p2", "", ""],
    ])
    _write(d, "tickets", ["ticket_id", "customer_id", "opened_at", "severity", "status", "closed_at"], [
        ["k1", "crm-1", "2024-01-05T00:00:00Z", "low", "open", ""],
        ["k2", "support-1", "2024-03-01T00:00:00Z", "critical", "pending", ""],
        ["k3", "webshop-1", "2024-02-01T00:00:00Z", "critical", "open", ""],
        ["k4", "crm-1", "2024-02-15T00:00:00Z", "high", "closed", "2024-02-20T00:00:00Z"],
        ["k5", "crm-1", "2024-04-01T00:00:00Z", "high", "open", ""],
    ])
    _write(d, "interactions", ["interaction_id", "customer_id", "occurred_at", "channel_id", "kind", "reason", "product_id"], [
        ["i1", "crm-1", "2024-01-02T00:00:00Z", "ch-web", "product_view", "browse", "p1"],
        ["i2", "webshop-1", "2024-01-03T00:00:00Z", "ch-web", "product_view", "search", "p2"],
        ["i3", "support-1", "2024-01-03T00:00:00Z", "ch-call", "call", "billing", ""],
        ["i4", "crm-1", "2023-12-31T23:00:00-02:00", "ch-call", "call", "delivery", ""],
    ])
    _write(d, "preferences", ["customer_id", "key", "value"], [
        ["crm-1", "contact_channel", "email"], ["webshop-1", "contact_channel", "sms"], ["support-1", "language", "fr"],
    ])
    _write(d, "referrals", ["from_customer_id", "to_customer_id", "kind"], [
        ["crm-1", "crm-2", "referral"], ["webshop-1", "crm-1", "household"], ["crm-3", "support-1", "mention"],
    ])
    b = _backend(server)
    load_folder(b, d, report_dir=d / "report")
    yield b
    b.drop()
    b.close()


def test_person_with_three_accounts_by_hand(hand_graph) -> None:
    v = customer_360(hand_graph, "webshop-1", limit=10, now="2024-04-11T00:00:00Z")
    assert v["person_id"] == "p-crm-1"
    assert [a["customer_id"] for a in v["accounts"]] == ["crm-1", "support-1", "webshop-1"]
    p, past = v["present"], v["past"]
    assert p["total_spend"] == 200.0
    assert p["order_count"] == 3  # o1, o2, and t4 which has no order id
    assert p["line_count"] == 4
    assert p["average_order"] == pytest.approx(200.0 / 3, abs=0.005)
    assert p["first_purchase"] == "2024-01-01T10:00:00Z"
    assert p["last_purchase"] == "2024-03-01T00:00:00Z"
    assert p["days_since_last_purchase"] == 41.0
    # critical first (oldest first among them), then high, then low; closed ones left out
    assert [t["ticket_id"] for t in p["open_tickets"]] == ["k3", "k2", "k5", "k1"]
    assert p["open_tickets"][0]["age_days"] == 70.0
    # i4 is 2024-01-01T01:00Z (oldest); i2 and i3 tie on time: the higher id first
    assert [i["interaction_id"] for i in past["timeline"]] == ["i3", "i2", "i1", "i4"]
    assert [i["interaction_id"] for i in past["product_views"]] == ["i2", "i1"]
    assert {c["channel_id"]: c["interactions"] for c in past["channel_counts"]} == {"ch-web": 2, "ch-call": 2}
    # the requested account's preference wins a conflict
    assert past["preferences"] == {"contact_channel": "sms", "language": "fr"}
    assert [(x["kind"], x["customer_id"]) for x in past["influence"]["influences"]] == [("referral", "crm-2")]
    assert [(x["kind"], x["customer_id"]) for x in past["influence"]["influenced_by"]] == [("mention", "crm-3")]
    holdings = {h["product_id"]: h for h in past["holdings"]}
    assert holdings["p1"]["spend"] == 100.0 and holdings["p1"]["kind"] == "policy"
    assert holdings["p2"]["purchases"] == 3 and holdings["p2"]["spend"] == 100.0 and holdings["p2"]["quantity"] == 4
    assert holdings["p2"]["last_purchase"] == "2024-03-01T00:00:00Z"
    assert p["profile"]["sources"] == ["crm", "support", "webshop"]
    assert p["profile"]["name"] == "A. Lee"  # the requested account first
    assert p["current_interaction"] == {
        "channel": "ch-call", "reason": "billing", "source": "latest_interaction",
        "occurred_at": "2024-01-03T00:00:00Z", "kind": "call", "interaction_id": "i3",
    }
    assert v["future"]["recommendations"] is None and v["future"]["next_best"] is None
    assert v["future"]["clv"] is None and p["rfm"] is None


def test_customer_without_purchases(hand_graph) -> None:
    v = customer_360(hand_graph, "crm-2", now=0)
    p = v["present"]
    assert p["total_spend"] == 0.0 and p["order_count"] == 0 and p["average_order"] is None
    assert p["first_purchase"] is None and p["last_purchase"] is None
    assert v["past"]["purchases"] == [] and v["past"]["holdings"] == [] and v["past"]["timeline"] == []
    assert p["current_interaction"]["source"] is None
    assert [(x["kind"], x["customer_id"]) for x in v["past"]["influence"]["influenced_by"]] == [("referral", "crm-1")]


def test_refund_nets_spend_but_is_not_a_purchase(hand_graph) -> None:
    p = customer_360(hand_graph, "crm-3", now=0)["present"]
    assert p["total_spend"] == 0.0
    assert p["order_count"] == 1  # the refund belongs to order o3
    assert p["refund_lines"] == 1 and p["refunded"] == 80.0
    assert p["first_purchase"] == p["last_purchase"] == "2024-01-10T12:00:00Z"


def test_lines_without_order_id_count_singly(hand_graph) -> None:
    p = customer_360(hand_graph, "crm-4", now=0)["present"]
    assert p["order_count"] == 2 and p["average_order"] == 12.5


def test_limit_and_caller_context(hand_graph) -> None:
    v = customer_360(hand_graph, "p-crm-1", limit=2, channel="call_center", reason="billing", now=0)
    assert v["customer_id"] == "p-crm-1"
    assert [i["interaction_id"] for i in v["past"]["timeline"]] == ["i3", "i2"]
    assert len(v["past"]["purchases"]) == 2 and v["past"]["totals"]["purchase_lines"] == 4
    assert v["present"]["current_interaction"] == {"channel": "call_center", "reason": "billing", "source": "caller", "occurred_at": None}
    assert len(v["present"]["open_tickets"]) == 4  # open issues are never cut by the limit


@pytest.mark.parametrize(("standard", "high", "level"), [
    (150.0, 200.0, "high-touch"),   # equal to the threshold reaches it
    (150.0, 200.01, "standard"),
    (200.01, 300.0, "self-service"),
])
def test_service_level_thresholds_by_spend(hand_graph, standard, high, level) -> None:
    v = customer_360(hand_graph, "crm-1", now=0,
                     service_thresholds={"standard_spend": standard, "high_touch_spend": high})
    sl = v["present"]["service_level"]
    assert sl["level"] == level and sl["basis"] == "total_spend" and sl["value"] == 200.0
    assert sl["thresholds"]["standard_spend"] == standard and sl["thresholds"]["high_touch_spend"] == high


def test_service_level_rule() -> None:
    th = ServiceThresholds(high_touch_clv=500, standard_clv=100, high_touch_spend=10_000, standard_spend=1_000)
    assert service_level(total_spend=0.0, clv=500.0, thresholds=th)["level"] == "high-touch"
    assert service_level(total_spend=1e9, clv=99.99, thresholds=th)["level"] == "self-service"  # CLV decides once fitted
    assert service_level(total_spend=1_000.0, clv=None, thresholds=th)["level"] == "standard"
    derived = ServiceThresholds.from_percentiles(clv=list(range(101)), high_touch=0.9, standard=0.5)
    assert (derived.high_touch_clv, derived.standard_clv) == (90.0, 50.0)
    with pytest.raises(InputError):
        ServiceThresholds(high_touch_clv=1, standard_clv=2)
    with pytest.raises(InputError):
        customer_360(None, "x", service_thresholds={"bogus": 1})  # type: ignore[arg-type]


def test_account_without_person_is_its_own_person(graph) -> None:
    graph.write(
        "CREATE (c:Customer {customer_id: 'solo-1', source: 'crm', name: 'Solo'})"
        "-[:MADE]->(:Transaction {transaction_id: 'st1', occurred_at: '2024-01-01T00:00:00Z', ts: 1704067200, amount: 9.5}), "
        "(c)-[:MADE]->(:Transaction {transaction_id: 'st2', occurred_at: '2024-01-02T00:00:00Z', ts: 1704153600, amount: 0.5})"
    )
    v = customer_360(graph, "solo-1", now=0)
    assert v["person_id"] is None
    assert [a["customer_id"] for a in v["accounts"]] == ["solo-1"] and v["accounts"][0]["rules"] == []
    assert v["present"]["total_spend"] == 10.0 and v["present"]["order_count"] == 2
    assert v["present"]["last_purchase"] == "2024-01-02T00:00:00Z"
