"""`c360 generate`, `c360 load` and `c360 load-cdnow` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from cli.main import main
from loaders.cdnow import cdnow_path
from loaders.generate import load_truth


def test_generate_then_load_json_summary_keyed_by_file(cli_env, capsys, tmp_path: Path) -> None:
    assert main(["generate", str(tmp_path / "d"), "--customers", "200", "--seed", "9"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["load", str(tmp_path / "d"), "--format", "json", "--batch-size", "100"]) == 0
    summary = json.loads(capsys.readouterr().out)
    truth = load_truth(tmp_path / "d")
    for name, rows in truth.counts.items():
        s = summary[name.removesuffix(".csv")]
        assert s["read"] == rows
        assert s["read"] == s["loaded"] + s["rejected"] + s["duplicates"]
    assert summary["_identity"]["persons"] == len(truth.persons)
    assert summary["_mode"] == "bulk"  # the graph was empty
    assert main(["load", str(tmp_path / "d")]) == 0
    table = capsys.readouterr().out
    assert "transactions.csv" in table and "identity:" in table and "batched Cypher" in table
    assert main(["load", str(tmp_path / "d"), "--bulk"]) == 1
    assert "already holds data" in capsys.readouterr().err


def test_load_of_a_folder_without_customers_is_one_line(cli_env, capsys, tmp_path: Path) -> None:
    assert main(["load", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "customers.csv" in err and err.count("\n") == 1


def test_load_cdnow_matches_the_file(cli_env, capsys) -> None:
    lines = [l.split() for l in cdnow_path(sample=True).read_text().splitlines() if l.strip()]
    assert main(["load-cdnow", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["customers"]["loaded"] == len({l[0] for l in lines}) == 2357
    assert summary["transactions"]["read"] == len(lines)
    assert main(["cypher", "MATCH (t:Transaction) RETURN count(t) AS n, round(sum(t.amount)) AS total", "-f", "json"]) == 0
    got = json.loads(capsys.readouterr().out)[0]
    assert got["n"] == summary["transactions"]["loaded"]
    assert got["total"] == round(sum(float(l[4]) for l in lines))


def test_a_load_after_the_item_neighbours_build_says_to_rebuild_them(cli_env, capsys, tmp_path: Path) -> None:
    hint = "c360 item-neighbours"
    assert main(["generate", str(tmp_path / "a"), "--customers", "150", "--seed", "4"]) == 0
    assert main(["load", str(tmp_path / "a")]) == 0
    assert hint not in " ".join(capsys.readouterr().out.split())  # nothing built yet: recommendations walk live
    assert main(["item-neighbours"]) == 0
    capsys.readouterr()
    assert main(["generate", str(tmp_path / "b"), "--customers", "150", "--seed", "5"]) == 0
    assert main(["load", str(tmp_path / "b")]) == 0
    assert hint in " ".join(capsys.readouterr().out.split())  # the terminal may wrap the line
