"""Read a contract file (CSV or Parquet) in bounded chunks of text cells, keeping every row.

Rows that cannot even be split into the header's columns come back as ``bad`` rows with a
reason, so the validator can reject them instead of losing them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from graph.errors import InputError

__all__ = ["Chunk", "SourceFile", "open_source", "MAX_FIELD_BYTES"]

MAX_FIELD_BYTES = 1_000_000
"""A cell longer than this is rejected (a corrupt file, not a customer's name)."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
csv.field_size_limit(64 * MAX_FIELD_BYTES)


@dataclass
class Chunk:
    """Up to ``size`` rows: parsed cells plus the rows that could not be parsed."""

    frame: pd.DataFrame  # str cells, columns = header, index = 1-based data row numbers
    bad: list[tuple[int, list[str], str]] = field(default_factory=list)  # (row, raw cells, reason)
    bytes_read: int = 0

    @property
    def rows_read(self) -> int:
        """Rows this chunk accounts for, parsed or not."""
        return len(self.frame) + len(self.bad)


@dataclass
class SourceFile:
    """An opened contract file: its header and a way to read it in chunks."""

    path: Path
    header: list[str]
    size_bytes: int

    def chunks(self, size: int) -> Iterator[Chunk]:
        """Yield chunks of at most ``size`` rows."""
        if self.path.suffix.lower() == ".parquet":
            yield from _parquet_chunks(self, size)
        else:
            yield from _csv_chunks(self, size)


def _check_header(path: Path, header: list[str]) -> list[str]:
    if not header or all(not h.strip() for h in header):
        raise InputError(f"{path.name}: no header row (the first line must name the columns)")
    cleaned = [h.strip() for h in header]
    for name in cleaned:
        if not _NAME.match(name):
            if any("\udc80" <= ch <= "\udcff" or ch == "\x00" for ch in name):
                raise InputError(f"{path.name}: not a UTF-8 CSV file (the header has undecodable bytes)")
            raise InputError(
                f"{path.name}: column name {name!r} is not usable as a property name "
                "(letters, digits and _ only, not starting with a digit)"
            )
    dupes = sorted({n for n in cleaned if cleaned.count(n) > 1})
    if dupes:
        raise InputError(f"{path.name}: column {dupes[0]!r} appears more than once in the header")
    return cleaned


def open_source(path: Path) -> SourceFile:
    """Open ``path`` and read its header; fail fast with the file's name on anything unusable."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            header = list(pq.ParquetFile(path).schema_arrow.names)
        except Exception as e:  # pyarrow raises several types for a corrupt file
            raise InputError(f"{path.name}: not a readable Parquet file ({e})") from e
        return SourceFile(path, _check_header(path, header), path.stat().st_size)
    if suffix != ".csv":
        raise InputError(f"{path.name}: not a CSV or Parquet file")
    with _open_text(path) as fh:
        try:
            header = next(csv.reader(fh), [])
        except csv.Error as e:
            raise InputError(f"{path.name}: not a CSV file ({e})") from e
    return SourceFile(path, _check_header(path, header), path.stat().st_size)


def _open_text(path: Path) -> io.TextIOWrapper:
    raw = open(path, "rb")  # noqa: SIM115 - wrapped and closed by the caller
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _cell_problem(cells: list[str]) -> str | None:
    joined = "".join(cells)
    if len(joined) <= MAX_FIELD_BYTES and joined.isascii() and "\x00" not in joined:
        return None  # the common case, checked in one pass
    for cell in cells:
        if len(cell) > MAX_FIELD_BYTES:
            return f"a field is longer than {MAX_FIELD_BYTES:,} characters"
        if not cell.isascii():
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                return "a field is not valid UTF-8 text"
        if "\x00" in cell:
            return "a field contains a NUL byte"
    return None


def _csv_chunks(src: SourceFile, size: int) -> Iterator[Chunk]:
    width = len(src.header)
    with _open_text(src.path) as fh:
        raw = fh.buffer
        reader = csv.reader(fh)
        next(reader, None)
        row_no = 0
        good: list[list[str]] = []
        numbers: list[int] = []
        bad: list[tuple[int, list[str], str]] = []
        while True:
            try:
                for cells in reader:
                    if not cells:
                        continue  # a blank line holds no data
                    row_no += 1
                    joined = "".join(cells)
                    if len(cells) == width and len(joined) <= MAX_FIELD_BYTES and joined.isascii() and "\x00" not in joined:
                        good.append(cells)  # the common case, checked in one pass
                        numbers.append(row_no)
                    else:
                        problem = _cell_problem(cells)
                        if problem is None and len(cells) != width:
                            problem = f"expected {width} fields, found {len(cells)}"
                        if problem:
                            bad.append((row_no, cells, problem))
                        else:
                            good.append(cells)
                            numbers.append(row_no)
                    if len(good) + len(bad) >= size:
                        yield _chunk(src.header, good, numbers, bad, raw.tell())
                        good, numbers, bad = [], [], []
                break
            except csv.Error as e:
                row_no += 1
                bad.append((row_no, [], f"unreadable CSV row: {e}"))
                if len(good) + len(bad) >= size:
                    yield _chunk(src.header, good, numbers, bad, raw.tell())
                    good, numbers, bad = [], [], []
        if good or bad:
            yield _chunk(src.header, good, numbers, bad, src.size_bytes)


def _chunk(header: list[str], good: list[list[str]], numbers: list[int], bad: list, pos: int) -> Chunk:
    frame = pd.DataFrame(good, columns=header, index=pd.Index(numbers, name="row"), dtype=object)
    return Chunk(frame=frame, bad=bad, bytes_read=pos)


def _parquet_chunks(src: SourceFile, size: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(src.path)
    start = 0
    total = max(pf.metadata.num_rows, 1)
    for batch in pf.iter_batches(batch_size=size):
        frame = batch.to_pandas()
        frame.columns = src.header
        for col in frame.columns:
            series = frame[col]
            frame[col] = series.map(_parquet_text).astype(object)
        frame.index = pd.RangeIndex(start + 1, start + 1 + len(frame), name="row")
        start += len(frame)
        # the same rule as for CSV: no cell may hold a NUL (neither engine stores one faithfully)
        nul = frame.apply(lambda col: col.str.contains("\x00", regex=False)).any(axis=1)
        bad = [(int(row), list(cells), "a field contains a NUL byte") for row, cells in zip(frame.index[nul], frame[nul].to_numpy().tolist())]
        yield Chunk(frame=frame[~nul], bad=bad, bytes_read=int(src.size_bytes * start / total))


def _parquet_text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[union-attr]
    return str(value)
