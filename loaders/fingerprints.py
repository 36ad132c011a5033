"""The keys a file has shown so far, as 64-bit fingerprints in sorted numpy runs.

Duplicate detection must remember every key of a file, and a file may be larger than
memory. A Python dict of key strings costs about 150 bytes a row; here a key costs 24
bytes (its fingerprint, the hash of its first row and that row's number), and runs past a
size limit move to memory-mapped files in a temporary folder, where the operating system
pages them in and out. Runs merge like a log-structured merge tree: lookups are a binary
search per run, and there are at most about log2(rows) runs.

Two different keys with the same 64-bit fingerprint would be taken for the same key: with
n keys the chance of any such pair is about n^2 / 2^65 (3e-6 for ten million keys), and
such a row would be rejected with a reason naming the other row, never dropped silently.
"""

from __future__ import annotations

import tempfile
import weakref
from pathlib import Path

import numpy as np

__all__ = ["KeyFingerprints"]

_RUN = np.dtype([("key", "<u8"), ("row_hash", "<u8"), ("row", "<i8")])


class KeyFingerprints:
    """A growing set of key fingerprints, each with the row hash and row number of its first row."""

    def __init__(self, *, spill_rows: int = 4_000_000, spill_dir: str | Path | None = None) -> None:
        self._runs: list[np.ndarray] = []  # each sorted by key, keys unique across all runs
        self._spill_rows = spill_rows
        self._spill_dir = spill_dir
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._files = 0

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each fingerprint: (known?, first row's hash, first row's number) (0 where unknown)."""
        found = np.zeros(len(keys), dtype=bool)
        row_hash = np.zeros(len(keys), dtype=np.uint64)
        row = np.zeros(len(keys), dtype=np.int64)
        for run in self._runs:
            at = np.searchsorted(run["key"], keys)
            at[at == len(run)] = 0
            hit = run["key"][at] == keys if len(run) else np.zeros(len(keys), dtype=bool)
            hit &= ~found
            found |= hit
            row_hash[hit] = run["row_hash"][at[hit]]
            row[hit] = run["row"][at[hit]]
        return found, row_hash, row

    def add(self, keys: np.ndarray, row_hashes: np.ndarray, rows: np.ndarray) -> None:
        """Remember new fingerprints (unique, and not known yet)."""
        if len(keys) == 0:
            return
        run = np.empty(len(keys), dtype=_RUN)
        run["key"], run["row_hash"], run["row"] = keys, row_hashes, rows
        run.sort(order="key", kind="stable")
        self._runs.append(run)
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            newer = self._runs.pop()
            older = self._runs.pop()
            merged = np.concatenate([older, newer])
            merged.sort(order="key", kind="stable")
            self._runs.append(self._maybe_spill(merged, older, newer))

    def _maybe_spill(self, merged: np.ndarray, *old: np.ndarray) -> np.ndarray:
        if len(merged) < self._spill_rows:
            return merged
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="c360-keys-", dir=self._spill_dir)
            weakref.finalize(self, self._tmp.cleanup)
        self._files += 1
        path = Path(self._tmp.name) / f"run-{self._files}.bin"
        disk = np.memmap(path, dtype=_RUN, mode="w+", shape=merged.shape)
        disk[:] = merged
        disk.flush()
        for run in old:  # the merged runs' own files are no longer needed
            if isinstance(run, np.memmap) and run.filename:
                name = run.filename
                del run
                Path(name).unlink(missing_ok=True)
        return disk
