"""Duplicate detection with key fingerprints, against a plain dict of the key strings."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from loaders.contract import CONTRACT
from loaders.fingerprints import KeyFingerprints
from loaders.validate import DuplicateTracker, _duplicates


def _reference(chunks: list[pd.DataFrame], key: list[str], failed: list[np.ndarray]) -> list[tuple[set[int], dict[int, int]]]:
    """Per chunk: duplicate rows, and conflicting row -> the row it conflicts with (file order)."""
    seen: dict[tuple, tuple[tuple, int]] = {}
    out = []
    for frame, bad in zip(chunks, failed):
        dups: set[int] = set()
        conflicts: dict[int, int] = {}
        for i, (row, values) in enumerate(zip(frame.index, frame.itertuples(index=False, name=None))):
            if bad[i]:
                continue
            k = tuple(frame.iloc[i][c] for c in key)
            if k not in seen:
                seen[k] = (values, int(row))
            elif seen[k][0] == values:
                dups.add(i)
            else:
                conflicts[i] = seen[k][1]
        out.append((dups, conflicts))
    return out


@pytest.mark.parametrize("spill_rows", [4_000_000, 7])
def test_duplicates_and_conflicts_match_a_dict_of_keys(spill_rows: int, tmp_path) -> None:
    spec = CONTRACT["preferences"]  # a two-column key: customer_id + key
    rnd = random.Random(3)
    chunks, failed = [], []
    row = 0
    for _ in range(12):
        n = rnd.randint(0, 30)
        data = {
            "customer_id": [f"c{rnd.randint(0, 12)}" for _ in range(n)],
            "key": [rnd.choice(["a", "b", "ab", ""]) for _ in range(n)],
            "value": [rnd.choice(["x", "y"]) for _ in range(n)],
        }
        frame = pd.DataFrame(data, index=pd.Index(range(row + 1, row + 1 + n), name="row"), dtype=object)
        row += n
        chunks.append(frame)
        failed.append(np.array([rnd.random() < 0.1 for _ in range(n)], dtype=bool))
    tracker = DuplicateTracker(KeyFingerprints(spill_rows=spill_rows, spill_dir=tmp_path))
    expected = _reference(chunks, list(spec.key), failed)
    for frame, bad, (dups, conflicts) in zip(chunks, failed, expected):
        dup, got = _duplicates(spec, frame, bad.copy(), tracker)
        assert set(np.flatnonzero(dup)) == dups
        assert {i: int(msg.split("row ")[1].split()[0]) for i, msg in got.items()} == conflicts
    if spill_rows == 7:
        assert any(isinstance(run, np.memmap) for run in tracker.keys._runs)
        assert list(tmp_path.glob("c360-keys-*/run-*.bin"))


def test_fingerprints_find_what_was_added_across_runs() -> None:
    store = KeyFingerprints(spill_rows=50)
    rng = np.random.default_rng(5)
    keys = np.unique(rng.integers(1, 10**12, size=420, dtype=np.uint64))[:400]
    rng.shuffle(keys)
    for part in np.array_split(keys, 13):
        store.add(part, part * np.uint64(3), part.astype(np.int64) % 1000)
    assert len(store) == 400 and len(store._runs) <= 10
    probe = np.concatenate([keys[::7], np.array([0, 10**12 + 1], dtype=np.uint64)])
    found, row_hash, row = store.find(probe)
    assert found.tolist() == [True] * len(keys[::7]) + [False, False]
    assert (row_hash[found] == probe[found] * np.uint64(3)).all()
    assert (row[found] == probe[found].astype(np.int64) % 1000).all()
