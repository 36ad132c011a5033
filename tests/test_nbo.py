"""Next best offer / action: smoothed acceptance checked with pandas over the fixture rows, the rules, responses."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics.nbo_rules import load_rules, smoothed_rate
from graph.errors import ConfigError, InputError, NotFoundError
from loaders.load import load_folder
from queries.nbo import next_best
from queries.responses import record_response
from support.nbo_fixture import NOW, TOUCHES, write_folder

RULES = load_rules()
M = float(RULES.offers["prior_weight"])


@pytest.fixture()
def world(graph, tmp_path):
    tables = write_folder(tmp_path)
    load_folder(graph, tmp_path, report_dir=tmp_path / "report")
    return graph, tables


PERSON = {"a1": {"a1", "a2"}, "a2": {"a1", "a2"}}


def accounts_of(cid: str) -> set[str]:
    return PERSON.get(cid, {cid})


def expected_acceptance(tables: dict[str, pd.DataFrame], touches: pd.DataFrame, campaigns: list[str], similar: set[str]) -> dict[str, float]:
    """m-estimate over the rows: campaign prior from all touches (pooled rate as its prior), then similar customers."""
    t = touches[touches.campaign_id.isin(campaigns)]
    pooled = (t.response == "accepted").sum() / len(t) if len(t) else float(RULES.offers["default_rate"])
    out = {}
    for cmp in campaigns:
        mine = t[t.campaign_id == cmp]
        prior = ((mine.response == "accepted").sum() + M * pooled) / (len(mine) + M)
        sim = mine[mine.customer_id.isin(similar)]
        out[cmp] = ((sim.response == "accepted").sum() + M * prior) / (len(sim) + M)
    return out


def category_similar(tables: dict[str, pd.DataFrame], cid: str) -> set[str]:
    tx = tables["transactions"].merge(tables["products"], on="product_id")
    mine = accounts_of(cid)
    cats = set(tx[tx.customer_id.isin(mine)].category)
    return set(tx[tx.category.isin(cats)].customer_id) - mine


def touches_frame() -> pd.DataFrame:
    return pd.DataFrame(TOUCHES, columns=["customer_id", "campaign_id", "response"])


def campaign_offers(result: dict) -> list[dict]:
    return [o for o in result["offers"] if o["kind"] == "campaign"]


def test_open_unanswered_unowned_campaigns_with_smoothed_acceptance(world):
    graph, tables = world
    result = next_best(graph, "a1", k=5, now=NOW)
    offers = campaign_offers(result)
    # cB answered by a2 (same person), cD offers p1 (owned), cC ended, cF not started, cG offers nothing
    assert {o["offer_id"] for o in offers} == {"cA", "cE"}
    want = expected_acceptance(tables, touches_frame(), ["cA", "cE"], category_similar(tables, "a1"))
    got = {o["offer_id"]: o["expected_acceptance"] for o in offers}
    assert got == pytest.approx(want)
    assert [o["offer_id"] for o in offers] == sorted(want, key=lambda c: (-want[c], c))
    assert result["similar_basis"] == "category"
    assert all(o["channel"] == "sms" for o in result["offers"])  # preferred contact channel
    assert result["action"]["action"] == "offer" and result["suppressed_reason"] is None
    assert result["accounts"] == ["a1", "a2"]


def test_smoothing_formula_matches_a_worked_example():
    # 2 of 2 similar accepted, campaign 2 of 4 overall, pooled 0.25, m = 10
    prior = smoothed_rate(2, 4, 0.25, 10)
    assert prior == pytest.approx((2 + 2.5) / 14)
    assert smoothed_rate(2, 2, prior, 10) == pytest.approx((2 + 10 * prior) / 12)
    assert smoothed_rate(0, 0, 0.3, 10) == pytest.approx(0.3)


def test_open_high_ticket_blocks_every_promotion(world):
    graph, _ = world
    result = next_best(graph, "g", now=NOW)
    assert result["action"]["action"] == "resolve_ticket"
    assert result["action"]["ticket_id"] == "tk-1"
    assert result["offers"] == []
    assert "tk-1" in result["suppressed_reason"]
    # a closed critical ticket and an open low one do not block
    for cid in ["f", "d"]:
        other = next_best(graph, cid, now=NOW)
        assert other["action"]["action"] != "resolve_ticket" and other["suppressed_reason"] is None


def test_marketing_opt_out_gets_no_offers(world):
    graph, _ = world
    result = next_best(graph, "e", now=NOW)
    assert result["offers"] == []
    assert result["action"]["action"] == "service_only"
    assert "opted out" in result["suppressed_reason"]
    assert next_best(graph, "b", now=NOW)["suppressed_reason"] is None  # "false" is not an opt-out


def test_churn_risk_gives_retention_and_ranks_retention_campaigns_first(world):
    graph, _ = world
    calm = next_best(graph, "c", k=5, now=NOW)
    assert [o["offer_id"] for o in campaign_offers(calm)] == ["cD", "cE"]  # cE: its one similar customer (f) rejected
    graph.write("MATCH (c:Customer {customer_id: 'c'}) SET c.churn_risk = 0.9")
    result = next_best(graph, "c", k=5, now=NOW)
    assert result["action"]["action"] == "retain"
    assert [o["offer_id"] for o in campaign_offers(result)] == ["cE", "cD"]
    graph.write("MATCH (c:Customer {customer_id: 'c'}) SET c.churn_risk = 0.1")
    assert next_best(graph, "c", now=NOW)["action"]["action"] != "retain"


def test_contribution_tiers(world):
    graph, tables = world
    spend = tables["transactions"].groupby("customer_id").amount.sum()
    assert spend["b"] >= RULES.value["high_threshold"] and spend["c"] < RULES.value["low_threshold"]
    assert next_best(graph, "b", now=NOW)["action"]["action"] == "high_touch"
    assert next_best(graph, "c", now=NOW)["action"]["action"] == "self_service"
    assert next_best(graph, "d", now=NOW)["action"]["action"] == "offer"
    # clv written by `clv fit` replaces spend as the contribution
    graph.write("MATCH (c:Customer {customer_id: 'c'}) SET c.clv = 5000.0")
    assert next_best(graph, "c", now=NOW)["action"]["action"] == "high_touch"


def test_a_recorded_response_changes_the_next_ranking(world):
    graph, tables = world
    assert "cA" in {o["offer_id"] for o in campaign_offers(next_best(graph, "a1", now=NOW))}
    touch = record_response(graph, "a2", "cA", "accepted", channel="ch-email", at=NOW)
    assert touch["touch_id"].startswith("resp-") and touch["customer_id"] == "a2"
    # the answered offer disappears for every account of that person
    for cid in ["a1", "a2"]:
        assert "cA" not in {o["offer_id"] for o in next_best(graph, cid, now=NOW)["offers"]}
    # and the acceptance rates others see change exactly as the rows say
    touches = pd.concat([touches_frame(), pd.DataFrame([{"customer_id": "a2", "campaign_id": "cA", "response": "accepted"}])])
    after = next_best(graph, "f", now=NOW)
    got = {o["offer_id"]: o["expected_acceptance"] for o in campaign_offers(after)}
    want = expected_acceptance(tables, touches, sorted(got), category_similar(tables, "f"))
    assert got == pytest.approx(want)
    old = expected_acceptance(tables, touches_frame(), sorted(got), category_similar(tables, "f"))
    assert got["cA"] > old["cA"]
    # the touch is an ordinary Touch: linked to customer, campaign and channel
    rows = graph.read(
        "MATCH (c:Customer)-[:RECEIVED]->(t:Touch {touch_id: $id})-[:OF]->(k:Campaign) MATCH (t)-[:VIA]->(ch:Channel) "
        "RETURN c.customer_id AS c, k.campaign_id AS k, ch.channel_id AS ch, t.response AS r", {"id": touch["touch_id"]})
    assert rows == [{"c": "a2", "k": "cA", "ch": "ch-email", "r": "accepted"}]


def test_record_response_rejects_unknowns(world):
    graph, _ = world
    with pytest.raises(NotFoundError):
        record_response(graph, "nobody", "cA", "accepted")
    with pytest.raises(NotFoundError):
        record_response(graph, "b", "no-such-offer", "accepted")
    with pytest.raises(NotFoundError):
        record_response(graph, "b", "cA", "accepted", channel="ch-pigeon")
    with pytest.raises(InputError):
        record_response(graph, "b", "cA", "maybe")
    record_response(graph, "b", "cB", "rejected")  # without a channel
    with pytest.raises(NotFoundError):
        next_best(graph, "nobody")


SIMILAR = "UNWIND $rows AS r MATCH (a:Customer {customer_id: r.a}) MATCH (b:Customer {customer_id: r.b}) CREATE (a)-[:SIMILAR_TO {score: r.score}]->(b)"
SEGMENT = ("UNWIND $rows AS r MATCH (c:Customer {customer_id: r.c}) MERGE (s:Segment {segment_id: r.s}) "
           "CREATE (c)-[:IN_SEGMENT {score: 1.0}]->(s)")


def test_similar_customers_prefer_look_alikes_then_segments(world):
    graph, tables = world
    graph.write(SEGMENT, {"rows": [{"c": "a1", "s": "s1"}, {"c": "c", "s": "s1"}, {"c": "h", "s": "s1"}, {"c": "b", "s": "s2"}]})
    seg = next_best(graph, "a1", now=NOW)
    assert seg["similar_basis"] == "segment"
    got = {o["offer_id"]: o["expected_acceptance"] for o in campaign_offers(seg)}
    assert got == pytest.approx(expected_acceptance(tables, touches_frame(), sorted(got), {"c", "h"}))
    graph.write(SIMILAR, {"rows": [{"a": "a2", "b": "b", "score": 0.8}, {"a": "a1", "b": "d", "score": 0.4}]})
    la = next_best(graph, "a1", now=NOW)
    assert la["similar_basis"] == "look-alike"
    got = {o["offer_id"]: o["expected_acceptance"] for o in campaign_offers(la)}
    assert got == pytest.approx(expected_acceptance(tables, touches_frame(), sorted(got), {"b", "d"}))


def test_rules_file_from_the_environment(world, tmp_path, monkeypatch):
    graph, _ = world
    text = Path(RULES.source).read_text().replace("threshold = 0.6", "threshold = 0.05")
    custom = tmp_path / "rules.toml"
    custom.write_text(text)
    graph.write("MATCH (c:Customer {customer_id: 'd'}) SET c.churn_risk = 0.1")
    assert next_best(graph, "d", now=NOW)["action"]["action"] == "offer"
    monkeypatch.setenv("C360_NBO_RULES", str(custom))
    assert load_rules().churn["threshold"] == 0.05
    assert next_best(graph, "d", now=NOW)["action"]["action"] == "retain"
    custom.write_text(text.replace("[churn]", "[churning]"))
    with pytest.raises(ConfigError, match="churn"):
        load_rules()
    custom.write_text("not = [toml")
    with pytest.raises(ConfigError):
        load_rules()


def test_cli_nbo_and_respond(cli_env, tmp_path):
    from cli.main import app
    from graph.connect import connect

    write_folder(tmp_path)
    backend = connect()
    try:
        from graph.schema import apply_schema

        apply_schema(backend)
        load_folder(backend, tmp_path, report_dir=tmp_path / "report")
    finally:
        backend.close()
    runner = CliRunner()
    out = runner.invoke(app, ["nbo", "a1", "--as-of", "2024-06-01", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {o["offer_id"] for o in campaign_offers(data)} == {"cA", "cE"}
    out = runner.invoke(app, ["respond", "a1", "cA", "rejected", "--channel", "ch-sms"])
    assert out.exit_code == 0, out.output
    data = json.loads(runner.invoke(app, ["nbo", "a1", "--as-of", "2024-06-01", "--format", "json"]).stdout)
    assert {o["offer_id"] for o in campaign_offers(data)} == {"cE"}
    table = runner.invoke(app, ["nbo", "g", "--as-of", "2024-06-01"])
    assert table.exit_code == 0 and "resolve_ticket" in table.stdout
    bad = runner.invoke(app, ["respond", "a1", "cA", "maybe"])
    assert bad.exit_code != 0
