"""CDNOW parser: counts and totals against a plain-Python read of the same file."""

from __future__ import annotations

import csv
from collections import defaultdict

import pandas as pd
import pytest

from graph.errors import InputError
from loaders import cdnow


def _plain_read(path):
    rows = []
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            if parts and parts[0].isdigit():
                rows.append((parts[0], parts[-3], int(parts[-2]), float(parts[-1])))
    return rows


@pytest.mark.parametrize("sample", [True, False])
def test_counts_and_totals_match_plain_read(sample):
    path = cdnow.cdnow_path(sample=sample)
    rows = _plain_read(path)
    customers, tx = cdnow.load_cdnow(sample=sample)
    assert len(tx) == len(rows)
    assert len(customers) == len({r[0] for r in rows})
    assert tx["amount"].sum() == pytest.approx(sum(r[3] for r in rows), abs=1e-6)
    assert int(tx["quantity"].sum()) == sum(r[2] for r in rows)
    assert tx["transaction_id"].is_unique
    assert customers["customer_id"].is_unique
    assert set(tx["customer_id"]) == set(customers["customer_id"])
    assert (customers["source"] == "cdnow").all()


def test_sample_is_papers_sample():
    customers, tx = cdnow.load_cdnow(sample=True)
    assert len(customers) == 2357  # the 1/10 sample of the BG/NBD paper


def test_per_customer_spend_and_dates():
    rows = _plain_read(cdnow.cdnow_path(sample=True))
    spend = defaultdict(float)
    for cust, _, _, dollars in rows:
        spend["cdnow-" + cust] += dollars
    _, tx = cdnow.load_cdnow(sample=True)
    ours = tx.groupby("customer_id")["amount"].sum()
    assert ours.to_dict() == pytest.approx(dict(spend))
    first = rows[0]
    assert tx.iloc[0]["occurred_at"] == f"{first[1][:4]}-{first[1][4:6]}-{first[1][6:]}"
    pd.to_datetime(tx["occurred_at"], format="%Y-%m-%d")  # all ISO dates


def test_ids_agree_between_sample_and_master():
    _, s = cdnow.load_cdnow(sample=True)
    _, m = cdnow.load_cdnow(sample=False)
    merged = s.merge(m, on="transaction_id", suffixes=("_s", "_m"), how="left")
    assert merged["amount_m"].notna().all()
    assert (merged["amount_s"] == merged["amount_m"]).all()


def test_write_folder_round_trip(tmp_path):
    out = cdnow.write_cdnow_folder(tmp_path / "cd", sample=True)
    with open(out / "customers.csv", newline="") as fh:
        cust = list(csv.DictReader(fh))
    with open(out / "transactions.csv", newline="") as fh:
        tx = list(csv.DictReader(fh))
    rows = _plain_read(cdnow.cdnow_path(sample=True))
    assert len(tx) == len(rows) and len(cust) == 2357
    assert {"transaction_id", "customer_id", "occurred_at", "amount"} <= set(tx[0])
    assert {"customer_id", "source"} <= set(cust[0])
    assert sum(float(r["amount"]) for r in tx) == pytest.approx(sum(r[3] for r in rows))


def test_missing_lifetimes_is_input_error(monkeypatch):
    monkeypatch.setattr(cdnow.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match="lifetimes"):
        cdnow.cdnow_path()


def test_bad_line_is_input_error(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text(" 00001 0001 19970101  1   11.77\n 00002 0002 1997xx01  1   1.00\n")
    with pytest.raises(InputError, match="bad.txt:2"):
        cdnow.read_cdnow(p)
