"""CLV/RFM fitted from the graph, per person, written back: checked against pandas on the files.

The CDNOW test reproduces the published BG/NBD and Gamma-Gamma parameters through the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics.clv import score_customers
from analytics.rfm import rfm_scores
from analytics.value import fit_value_scores
from graph.connect import connect
from graph.errors import InputError
from graph.schema import apply_schema
from loaders.cdnow import write_cdnow_folder
from loaders.generate import generate, load_truth
from loaders.load import load_folder
from queries.scores import SCORE_PROPERTIES, transactions_frame, write_scores
from queries.view import customer_360


def sig3(x: float) -> float:
    return float(f"{x:.3g}")


def test_cdnow_clv_fit_reproduces_the_papers(cli_env, tmp_path: Path) -> None:
    folder = write_cdnow_folder(tmp_path / "cdnow", sample=True)
    g = connect()
    apply_schema(g)
    load_folder(g, folder, report_dir=tmp_path / "report")
    g.close()
    from cli.main import app

    result = CliRunner().invoke(app, ["clv", "fit", "--calibration-end", "1997-09-30", "--format", "json"])
    assert result.exit_code == 0, result.output
    params = json.loads(result.stdout)
    assert set(params) == {"bgnbd", "gamma_gamma"}
    assert set(params["bgnbd"]) == {"r", "alpha", "a", "b"} and set(params["gamma_gamma"]) == {"p", "q", "v"}
    bg, gg = params["bgnbd"], params["gamma_gamma"]
    assert (sig3(bg["r"]), sig3(bg["alpha"]), sig3(bg["a"]), sig3(bg["b"])) == (0.243, 4.41, 0.793, 2.43)
    # the papers print alpha and b with 4 digits: check those too
    assert round(bg["alpha"], 3) == 4.414 and round(bg["b"], 3) == 2.426
    assert (sig3(gg["p"]), sig3(gg["q"]), sig3(gg["v"])) == (6.25, 3.74, 15.4)
    assert round(gg["v"], 2) == 15.44

    # scores landed on the nodes: compare a few with the model run on the file directly
    tx = pd.read_csv(folder / "transactions.csv", dtype={"customer_id": str})
    expected, _ = score_customers(tx, calibration_end="1997-09-30")
    g = connect()
    try:
        rows = g.read("MATCH (c:Customer) WHERE c.clv IS NOT NULL RETURN c.customer_id AS id, c.clv AS clv, c.p_alive AS p")
    finally:
        g.close()
    assert len(rows) == len(expected) == 2357
    got = pd.DataFrame(rows).set_index("id")
    assert got["clv"].to_numpy() == pytest.approx(expected.loc[got.index, "clv"].to_numpy(), rel=1e-6)
    assert got["p"].to_numpy() == pytest.approx(expected.loc[got.index, "p_alive"].to_numpy(), rel=1e-6)

    table = CliRunner().invoke(app, ["clv", "fit", "--horizon-months", "6"])
    assert table.exit_code == 0, table.output
    assert "alpha" in table.stdout and "gamma_gamma" in table.stdout
    assert "2,357 persons" in table.stdout


# ----------------------------------------------------------------------------- per person, generated data


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scores_gen")
    generate(folder, customers=300, seed=21)
    return folder


def _valid_transactions(folder: Path) -> pd.DataFrame:
    truth = load_truth(folder)
    df = pd.read_csv(folder / "transactions.csv", dtype=str, keep_default_na=False)
    df.index = pd.RangeIndex(1, len(df) + 1)
    bad = {m["row"] for m in truth.malformed if m["file"] == "transactions.csv"}
    df = df[~df.index.isin(bad)].drop_duplicates()
    df["amount"] = df["amount"].astype(float)
    return df


def test_scores_are_per_person_and_match_pandas(graph, dataset: Path, tmp_path: Path) -> None:
    load_folder(graph, dataset, report_dir=tmp_path / "report")
    truth = load_truth(dataset)
    person_of = {cid: "p-" + min(accounts) for accounts in truth.persons.values() for cid in accounts}

    # paging: many small pages give the same lines as the file
    tx, persons = transactions_frame(graph, page_size=7)
    files = _valid_transactions(dataset)
    assert len(tx) == len(files)
    assert tx["amount"].sum() == pytest.approx(files["amount"].sum())
    assert persons == person_of

    fit = fit_value_scores(graph, calibration_end=None)
    # independent: the same models on the file rows, accounts merged with the generator's truth
    files["person"] = files["customer_id"].map(person_of)
    files["occurred_at"] = pd.to_datetime(files["occurred_at"], utc=True, format="ISO8601")
    files["order_id"] = files["order_id"].replace("", None)
    expected, params = score_customers(files, customer_col="person")
    rfm = rfm_scores(files, as_of=files["occurred_at"].max(), customer_col="person")
    for model, values in params.items():
        assert fit.params[model] == pytest.approx(values, rel=1e-4)
    assert fit.persons_scored == len(rfm)

    rows = graph.read("MATCH (c:Customer)-[:BELONGS_TO]->(p:Person) "
                      "RETURN c.customer_id AS cid, p.person_id AS pid, properties(c) AS c, properties(p) AS p")
    scored = 0
    for r in rows:
        pid = r["pid"]
        if pid not in rfm.index:
            assert r["c"].get("clv") is None and r["p"].get("rfm") is None
            continue
        scored += 1
        for prop in SCORE_PROPERTIES:
            assert r["c"].get(prop) == r["p"].get(prop), prop  # every account carries its person's scores
        assert r["p"]["clv"] == pytest.approx(expected.loc[pid, "clv"], rel=1e-4)
        assert r["p"]["churn_risk"] == pytest.approx(1.0 - expected.loc[pid, "p_alive"], rel=1e-4, abs=1e-9)
        assert r["p"]["rfm"] == rfm.loc[pid, "rfm"] and r["p"]["rfm_segment"] == rfm.loc[pid, "segment"]
        assert (r["p"]["rfm_r"], r["p"]["rfm_f"], r["p"]["rfm_m"]) == tuple(int(x) for x in rfm.loc[pid, ["R", "F", "M"]])
    assert scored == fit.accounts_scored

    # the view reads them back
    pid = expected["clv"].idxmax()
    v = customer_360(graph, pid, now=0)
    assert v["future"]["clv"] == pytest.approx(expected.loc[pid, "clv"], rel=1e-4)
    assert v["present"]["rfm"]["rfm"] == rfm.loc[pid, "rfm"]
    assert v["present"]["service_level"]["basis"] == "clv"


def test_refit_clears_scores_of_nodes_it_no_longer_scores(graph) -> None:
    graph.write("CREATE (:Customer {customer_id: 'x-1', clv: 5.0, rfm: '555', scored_at: '2000-01-01T00:00:00Z'})")
    write_scores(graph, persons={}, customers={"x-1": {"clv": 7.5, "scored_at": "2001-01-01T00:00:00Z"}})
    assert graph.read("MATCH (c:Customer {customer_id: 'x-1'}) RETURN c.clv AS clv, c.rfm AS rfm")[0] == {"clv": 7.5, "rfm": "555"}
    from queries.scores import clear_stale_scores

    assert clear_stale_scores(graph, scored_at="2002-01-01T00:00:00Z") == 1
    assert graph.read("MATCH (c:Customer {customer_id: 'x-1'}) RETURN c.clv AS clv, c.rfm AS rfm")[0] == {"clv": None, "rfm": None}


def test_fit_without_transactions_is_input_error(graph) -> None:
    graph.write("CREATE (:Customer {customer_id: 'x-1'})")
    with pytest.raises(InputError, match="no transactions"):
        fit_value_scores(graph)
