"""Check a chunk of text cells against the contract and turn good rows into graph properties.

Vectorised with pandas: each check marks the rows it fails, and a row's reject reason names
the first field that broke the contract, with the offending value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from loaders.contract import ENUMS, SEVERITY_RANK, FileSpec
from loaders.fingerprints import KeyFingerprints

__all__ = ["Validated", "DuplicateTracker", "validate_chunk", "reject_columns"]

_SHOW = 60  # characters of a bad value quoted in a reason
_EDGE_SPACE = re.compile(r"\s\x00|\x00\s")  # whitespace next to a cell boundary of a joined column
_ASCII_SPACE = np.array([chr(i).isspace() for i in range(256)])  # by byte value; the NUL separator is not


@dataclass
class Validated:
    """Rows to write (their properties, one frame row each) and rows rejected, with their reasons."""

    props: pd.DataFrame  # kept rows: stored properties and extra columns, None for empty cells
    rejects: pd.DataFrame  # original cells + row + reason
    duplicates: int

    @property
    def records(self) -> list[dict]:
        """The kept rows as property dicts (None for empty cells)."""
        return _plain(self.props).to_dict("records")

    def rows(self, columns: Sequence[str]) -> list[list]:
        """The kept rows as lists in ``columns`` order; a column the file lacks is None throughout."""
        return _plain(self.props.reindex(columns=list(columns))).to_numpy().tolist()


@dataclass
class DuplicateTracker:
    """Remembers each key seen in one file: an identical row again is skipped, a different one rejected.

    Keys are kept as 64-bit fingerprints (24 bytes a key, spilled to disk past a few million),
    so memory stays bounded however large the file (:mod:`loaders.fingerprints`).
    """

    keys: KeyFingerprints = field(default_factory=KeyFingerprints)


def _quote(values: pd.Series) -> pd.Series:
    return "'" + values.str.slice(0, _SHOW) + "'"


def validate_chunk(
    spec: FileSpec,
    frame: pd.DataFrame,
    *,
    resolve_refs: Callable[[str, pd.Series], pd.Series],
    tracker: DuplicateTracker,
) -> Validated:
    """Validate ``frame`` (str cells, index = row numbers) for ``spec``.

    ``resolve_refs(file_name, ids)`` answers, for each id, whether that file's key exists
    (loaded earlier in this run or already in the graph).
    """
    cells = frame.apply(_strip) if len(frame) else frame
    reason = pd.Series("", index=frame.index, dtype=object)
    failed = np.zeros(len(frame), dtype=bool)  # reason != "", kept as an array

    def fail(mask: pd.Series, message: str, values: pd.Series | None = None) -> None:
        """Mark rows of ``mask`` not failed yet; the quoted value is built only when some fail."""
        new = np.asarray(mask, dtype=bool) & ~failed
        if new.any():
            reason[new] = message + _quote(values[new]) if values is not None else message
            failed[new] = True

    out: dict[str, pd.Series] = {}
    for name in frame.columns:
        col = spec.column(name)
        values = cells[name]
        empty = pd.Series(values.to_numpy() == "", index=frame.index)
        if col is None:  # extra column: kept as text
            out[name] = values.where(~empty, None)
            continue
        if col.required:
            fail(empty, f"{name}: required value is missing")
        present = ~empty
        if col.kind == "date":
            parsed = pd.to_datetime(values.where(present, None), format="ISO8601", utc=True, errors="coerce")
            fail(present & parsed.isna(), name + ": not an ISO 8601 date: ", values)
            iso, secs = _iso_and_seconds(parsed)
            out[name] = pd.Series(iso, index=frame.index, dtype=object)
            if col.ts:
                out[col.ts] = pd.Series(secs, index=frame.index, dtype=object)
        elif col.kind in ("number", "int"):
            nums = pd.to_numeric(values.where(present, None), errors="coerce")
            finite = np.isfinite(nums.to_numpy(dtype=float, na_value=np.nan))
            fail(present & ~pd.Series(finite, index=frame.index), name + ": not a number: ", values)
            if col.kind == "int":
                integral = pd.Series(finite, index=frame.index) & (nums.fillna(0) % 1 == 0)
                fail(present & ~integral, name + ": not a whole number: ", values)
            if col.min is not None:
                fail(present & (nums < col.min), f"{name}: below the minimum {col.min:g}: ", values)
            if col.max is not None:
                fail(present & (nums > col.max), f"{name}: above the maximum {col.max:g}: ", values)
            ok = present & pd.Series(finite, index=frame.index)
            if col.kind == "int":
                out[name] = pd.Series([int(v) if k else None for v, k in zip(nums.fillna(0), ok)], index=frame.index, dtype=object)
            else:
                out[name] = pd.Series([float(v) if k else None for v, k in zip(nums.fillna(0), ok)], index=frame.index, dtype=object)
        elif col.kind.startswith("enum:"):
            allowed = ENUMS[col.kind[5:]]
            lowered = values.str.lower()
            fail(present & ~lowered.isin(allowed), f"{name}: not one of {', '.join(sorted(allowed))}: ", values)
            out[name] = lowered.where(present, None)
        else:
            out[name] = values.where(present, None)
        if col.ref:
            exists = resolve_refs(col.ref, values.where(present & ~failed, ""))
            fail(present & ~exists, f"{name}: no {col.ref[:-1] if col.ref.endswith('s') else col.ref} with id ", values)
    if spec.name == "referrals":
        fail(cells["from_customer_id"] == cells["to_customer_id"], "to_customer_id: a customer cannot influence itself")
    props = pd.DataFrame({k: v for k, v in out.items() if v is not None}, index=frame.index)
    _derive(spec.name, props)

    # duplicates: an identical row is skipped; the same key with other values is rejected
    dup, conflicts = _duplicates(spec, cells, failed.copy(), tracker)
    if conflicts:
        reason.iloc[list(conflicts)] = list(conflicts.values())
    bad = reason != ""
    keep = ~bad & ~pd.Series(dup, index=frame.index)
    row_col, reason_col = reject_columns(list(frame.columns))
    rejects = frame[bad].copy()
    rejects.insert(0, row_col, rejects.index)
    rejects[reason_col] = reason[bad]
    return Validated(props=props[keep], rejects=rejects.reset_index(drop=True), duplicates=int(dup.sum()))


def _strip(values: pd.Series) -> pd.Series:
    """``values.str.strip()``, skipped when no cell starts or ends with whitespace (the usual case:
    one scan of the joined column instead of one new string per cell)."""
    joined = "\x00".join(values.tolist())  # the separator must not be whitespace itself
    if not joined:
        return values
    if joined.isascii():
        text = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
        cuts = np.flatnonzero(text == 0)
        edges = np.concatenate([text[:1], text[-1:], text[cuts[cuts > 0] - 1], text[cuts[cuts < len(text) - 1] + 1]])
        edge = bool(_ASCII_SPACE[edges].any())
    else:
        edge = _EDGE_SPACE.search(joined) is not None or joined[0].isspace() or joined[-1].isspace()
    return values.str.strip() if edge else values


def _duplicates(
    spec: FileSpec, cells: pd.DataFrame, failed: np.ndarray, tracker: DuplicateTracker
) -> tuple[np.ndarray, dict[int, str]]:
    """Which rows repeat an earlier row exactly (skipped), and which reuse its key with other values.

    Rows are taken in file order: a key's first good row is its reference (from an earlier
    chunk, or this one), later rows with that key are duplicates if identical, else conflicts.
    """
    n = len(cells)
    dup = np.zeros(n, dtype=bool)
    conflicts: dict[int, str] = {}
    candidates = np.flatnonzero(~failed)
    if len(candidates) == 0:
        return dup, conflicts
    key_fp = pd.util.hash_pandas_object(cells[list(spec.key)], index=False).to_numpy()[candidates]
    # whole-row hashes, compared within this run only
    row_hash = np.array([hash(r) for r in zip(*(cells[c].tolist() for c in cells.columns))], dtype=np.int64)
    row_hash = row_hash.view(np.uint64)[candidates]
    rows = cells.index.to_numpy(dtype=np.int64)[candidates]
    uniq, first, which = np.unique(key_fp, return_index=True, return_inverse=True)
    known, prior_hash, prior_row = tracker.keys.find(uniq)
    ref_hash = np.where(known, prior_hash, row_hash[first])
    ref_row = np.where(known, prior_row, rows[first])
    is_ref = np.zeros(len(candidates), dtype=bool)
    is_ref[first[~known]] = True
    same = row_hash == ref_hash[which]
    dup[candidates[~is_ref & same]] = True
    for at in np.flatnonzero(~is_ref & ~same):
        conflicts[int(candidates[at])] = (
            f"{'+'.join(spec.key)}: the same key as row {int(ref_row[which[at]])} with different values"
        )
    tracker.keys.add(uniq[~known], ref_hash[~known], ref_row[~known])
    return dup, conflicts


def reject_columns(header: list[str]) -> tuple[str, str]:
    """Names of the row-number and reason columns of a rejects file: ``row`` and ``reason``,
    prefixed with ``_`` when the input file already has a column of that name."""
    return ("_row" if "row" in header else "row"), ("_reason" if "reason" in header else "reason")


def _iso_and_seconds(parsed: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTC ISO text (``...Z``) and epoch seconds as object arrays, None where unparsed (numpy, no Python loop)."""
    secs = parsed.to_numpy(dtype="datetime64[s]", na_value=np.datetime64("NaT"))
    ok = ~np.isnat(secs)
    iso = np.char.add(np.datetime_as_string(secs, unit="s"), "Z").astype(object)
    ints = secs.astype("int64").astype(object)
    return np.where(ok, iso, None), np.where(ok, ints, None)


def _derive(file: str, props: pd.DataFrame) -> None:
    """Properties computed from others, for queries that sort or join on them."""
    if props.empty:
        return
    if file == "tickets":
        props["severity_rank"] = props["severity"].map(SEVERITY_RANK).astype("Int64")
    elif file == "preferences":
        props["preference_id"] = props["customer_id"] + "|" + props["key"]
    elif file == "referrals":
        props["kind"] = props["kind"].fillna("referral") if "kind" in props else "referral"


def _plain(props: pd.DataFrame) -> pd.DataFrame:
    """Plain Python values, None for empty cells; astype(object) unboxes numpy scalars."""
    return props.astype(object).where(props.notna(), None)
