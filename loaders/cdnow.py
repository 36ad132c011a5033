"""The CDNOW purchase data (shipped inside the ``lifetimes`` wheel) in the data-contract format.

CDNOW is the public data set of the BG/NBD and Gamma-Gamma papers: every purchase of the
23,570 customers who first bought from the CD retailer CDNOW in the first quarter of 1997,
followed to the end of June 1998. ``CDNOW_master.txt`` holds all of them, and
``CDNOW_sample.txt`` the 1/10 sample (2,357 customers) used in the papers.

The files are found through the installed package's location; ``lifetimes`` itself is never
imported (it is unmaintained and does not import on current pandas/scipy).

Output, per the data contract (``shared/data-contract.md``):

* customers: ``customer_id`` (``cdnow-00004``), ``source`` (``cdnow``).
* transactions: ``transaction_id`` (``cdnow-00004-19970101-1``: customer, day and the line's
  number within that customer's day, so an id is the same in the sample and the master file),
  ``customer_id``, ``occurred_at`` (ISO date), ``amount`` (dollars), ``quantity`` (CDs).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from graph.errors import InputError

__all__ = ["SOURCE", "cdnow_path", "read_cdnow", "load_cdnow", "write_cdnow_folder"]

SOURCE = "cdnow"
_FILES = {True: "CDNOW_sample.txt", False: "CDNOW_master.txt"}


def cdnow_path(*, sample: bool = True) -> Path:
    """Path of ``CDNOW_sample.txt`` (or ``CDNOW_master.txt``) inside the installed lifetimes."""
    try:
        spec = importlib.util.find_spec("lifetimes")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "the CDNOW data ships with the 'lifetimes' package, which is not installed "
            "(pip install lifetimes==0.11.3)"
        )
    name = _FILES[bool(sample)]
    for base in spec.submodule_search_locations:
        path = Path(base) / "datasets" / name
        if path.is_file():
            return path
    raise InputError(f"{name} not found in the installed lifetimes package")


def read_cdnow(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse a CDNOW text file into (customers, transactions) DataFrames.

    Accepts both layouts: the sample (``id  id2  YYYYMMDD  n_cds  dollars``, no header) and
    the master file (``id  YYYYMMDD  n_cds  dollars`` after a header line).
    """
    path = Path(path)
    rows: list[tuple[str, str, int, str]] = []
    with path.open("r", encoding="ascii", newline=None) as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            if not parts[0].isdigit():
                if lineno == 1:
                    continue  # header of the master file
                raise InputError(f"{path.name}:{lineno}: unexpected line {line.strip()!r}")
            if len(parts) == 5:
                cust, _, day, n_cds, dollars = parts
            elif len(parts) == 4:
                cust, day, n_cds, dollars = parts
            else:
                raise InputError(f"{path.name}:{lineno}: expected 4 or 5 fields, got {len(parts)}")
            if len(day) != 8 or not day.isdigit():
                raise InputError(f"{path.name}:{lineno}: bad date {day!r}")
            try:
                rows.append((cust, day, int(n_cds), dollars))
                float(dollars)
            except ValueError as e:
                raise InputError(f"{path.name}:{lineno}: bad number ({e})") from e
    if not rows:
        raise InputError(f"{path.name}: no transactions")

    raw = pd.DataFrame(rows, columns=["cust", "day", "quantity", "dollars"])
    seq = raw.groupby(["cust", "day"], sort=False).cumcount() + 1
    customer_id = SOURCE + "-" + raw["cust"]
    transactions = pd.DataFrame(
        {
            "transaction_id": customer_id + "-" + raw["day"] + "-" + seq.astype(str),
            "customer_id": customer_id,
            "occurred_at": raw["day"].str[0:4] + "-" + raw["day"].str[4:6] + "-" + raw["day"].str[6:8],
            "amount": raw["dollars"].astype(float),
            "quantity": raw["quantity"].astype("int64"),
        }
    )
    try:
        pd.to_datetime(transactions["occurred_at"], format="%Y-%m-%d")
    except ValueError as e:
        raise InputError(f"{path.name}: invalid date ({e})") from e
    customers = pd.DataFrame({"customer_id": customer_id.drop_duplicates().to_numpy()})
    customers["source"] = SOURCE
    return customers, transactions


def load_cdnow(*, sample: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(customers, transactions) of the CDNOW sample (default) or master file."""
    return read_cdnow(cdnow_path(sample=sample))


def write_cdnow_folder(out_dir: str | Path, *, sample: bool = True) -> Path:
    """Write ``customers.csv`` and ``transactions.csv`` for CDNOW into ``out_dir``; return it."""
    customers, transactions = load_cdnow(sample=sample)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    customers.to_csv(out / "customers.csv", index=False)
    transactions.to_csv(out / "transactions.csv", index=False)
    return out
