"""Test helper: read a contract CSV the way an analyst would, independently of the loader."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_csv(path: Path) -> pd.DataFrame:
    """All cells as text, empty cells as "", index = 1-based data row numbers."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.index = pd.RangeIndex(1, len(df) + 1)
    return df
