"""Load a folder of contract files into the graph, then resolve identities.

Every header is checked before anything is written, so a malformed file fails fast and
leaves the graph untouched. Rows are validated in chunks; bad rows go to
``<file>.rejects.csv`` in the report folder, good rows to the graph: into an empty FalkorDB
graph through the engine's bulk build (:mod:`loaders.bulk`), otherwise in batched
``UNWIND`` writes. Both write the same graph (docs/loading.md).
"""

from __future__ import annotations

import gc
import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from graph.backend import GraphBackend
from graph.errors import GraphError, InputError
from graph.schema import apply_schema
from loaders.bulk import BulkSink, TargetTaken, bulk_possible
from loaders.contract import CONTRACT, INFLUENCE_TYPES, LOAD_ORDER, STORED_COLUMNS, FileSpec
from loaders.identity import IdentityReport, resolve_identities
from loaders.reader import SourceFile, open_source
from loaders.validate import DuplicateTracker, Validated, reject_columns, validate_chunk
from queries.load import CREATE_NEW, CREATE_NEW_EXTRAS, KEY_LOOKUP, KEY_OF_FILE, REFERRAL_UPSERT, UPSERT

__all__ = ["FileSummary", "LoadReport", "load_folder", "find_files", "Progress", "BATCH_SIZE", "BULK_BATCH_SIZE"]

Stager = Callable[[FileSpec, Validated], Callable[[], None]]
"""Prepares one validated batch and returns the call that writes it, run on the writer thread:
batched Cypher (:func:`_write`) or the bulk build (:meth:`BulkSink.stage`, which encodes
before it returns, so the writer thread only waits on the engine)."""

Progress = Callable[[str, int, int, int], None]
"""Called as ``progress(file_name, rows_done, bytes_done, bytes_total)`` after every batch."""

_LABEL_OF_FILE = {name: spec.label for name, spec in CONTRACT.items()}


@dataclass
class FileSummary:
    """One file's reconciliation: read = loaded + rejected + duplicates."""

    file: str
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    rejects_file: str | None = None


@dataclass
class LoadReport:
    """What a load did, file by file, and what identity resolution found."""

    folder: str
    files: dict[str, FileSummary] = field(default_factory=dict)
    identity: IdentityReport | None = None
    seconds: float = 0.0
    report_dir: str | None = None
    mode: str = "cypher"  # or "bulk": the engine's bulk build of an empty graph
    finish_seconds: float = 0.0  # bulk only: last send, rename, and index check

    def as_dict(self) -> dict:
        """A JSON-ready dict keyed by file name (plus ``identity`` and ``seconds``)."""
        return {
            "folder": self.folder,
            "files": {name: asdict(s) for name, s in self.files.items()},
            "identity": asdict(self.identity) if self.identity else None,
            "seconds": round(self.seconds, 3),
            "report_dir": self.report_dir,
            "mode": self.mode,
            "finish_seconds": round(self.finish_seconds, 6),
        }


def find_files(folder: Path) -> dict[str, Path]:
    """Contract file name -> its path (``.csv`` or ``.parquet``); other files are ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    found: dict[str, Path] = {}
    for name in CONTRACT:
        candidates = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.exists()]
        if len(candidates) > 1:
            raise InputError(f"{folder}: both {name}.csv and {name}.parquet exist; keep one")
        if candidates:
            found[name] = candidates[0]
    if "customers" not in found:
        raise InputError(f"{folder}: customers.csv is missing (it is the one file every load needs)")
    return found


def _check_columns(spec: FileSpec, src: SourceFile) -> None:
    missing = [c for c in spec.required if c not in src.header]
    if missing:
        raise InputError(f"{src.path.name}: required column {missing[0]!r} is missing" + (
            f" (also {', '.join(missing[1:])})" if len(missing) > 1 else ""))


class _References:
    """Which ids exist: those loaded in this run, else asked of the graph (and remembered)."""

    def __init__(self, graph: GraphBackend) -> None:
        self.graph = graph
        self.known: dict[str, set[str]] = {name: set() for name in CONTRACT}
        self._index: dict[str, pd.Index] = {}  # a hashed copy of ``known``, rebuilt after it grows

    def add(self, file: str, ids: list[str]) -> None:
        self.known[file].update(ids)
        self._index.pop(file, None)

    def _found(self, file: str, ids: pd.Series) -> np.ndarray:
        index = self._index.get(file)
        if index is None:
            index = self._index[file] = pd.Index(list(self.known[file]), dtype=object)
        return index.get_indexer(pd.Index(ids.to_numpy(dtype=object), dtype=object)) >= 0  # no Arrow round trip

    def exists(self, file: str, ids: pd.Series) -> pd.Series:
        blank = (ids == "").to_numpy()
        found = self._found(file, ids) | blank
        if not found.all():
            unknown = sorted(set(ids[~found].tolist()))
            label = _LABEL_OF_FILE[file]
            for start in range(0, len(unknown), 5_000):
                batch = unknown[start : start + 5_000]
                rows = self.graph.read(KEY_LOOKUP[label], {"ids": batch})
                self.add(file, [r["id"] for r in rows])
            found = self._found(file, ids) | blank
        return pd.Series(found, index=ids.index)


def load_folder(
    graph: GraphBackend,
    folder: Path | str,
    *,
    batch_size: int | None = None,
    report_dir: Path | str | None = None,
    progress: Progress | None = None,
    resolve: bool = True,
    bulk: bool | None = None,
) -> LoadReport:
    """Load every contract file in ``folder``; see the module docstring for the guarantees.

    ``batch_size``: rows per write; by default :data:`BATCH_SIZE` for Cypher and
    :data:`BULK_BATCH_SIZE` for the bulk build.
    ``bulk``: None builds an empty FalkorDB graph with the engine's bulk loader and loads
    into a filled graph (or Neo4j) with batched Cypher; True insists on the bulk build (an
    error if it cannot be used); False always uses Cypher.
    """
    if batch_size is not None and batch_size < 1:
        raise InputError("batch size must be at least 1")
    started = time.perf_counter()
    folder = Path(folder)
    paths = find_files(folder)
    sources = {name: open_source(path) for name, path in paths.items()}
    for name, src in sources.items():
        _check_columns(CONTRACT[name], src)
    out_dir = Path(report_dir) if report_dir else folder / "load-report"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot write the load report in {out_dir} ({e.strerror}); choose one with --report-dir") from e
    apply_schema(graph)
    sink = _bulk_sink(graph, bulk)
    rows_per_write = batch_size or (BULK_BATCH_SIZE if sink else BATCH_SIZE)
    stage: Stager = sink.stage if sink else partial(partial, _write, graph)
    report = LoadReport(folder=str(folder), report_dir=str(out_dir), mode="bulk" if sink else "cypher")
    refs = _References(graph)
    try:
        with _collector_paused():
            for name in LOAD_ORDER:
                if name in sources:
                    report.files[name] = _load_file(stage, CONTRACT[name], sources[name], refs, out_dir, rows_per_write, progress)
        if sink:
            sink.finish()
            report.finish_seconds = sink.finish_seconds
    except TargetTaken:
        assert sink is not None
        sink.abandon()
        return load_folder(graph, folder, batch_size=batch_size, report_dir=out_dir, progress=progress, resolve=resolve, bulk=False)
    except BaseException:
        if sink:
            sink.abandon()
        raise
    if resolve:
        report.identity = resolve_identities(graph, batch_size=batch_size or BATCH_SIZE)
    report.seconds = time.perf_counter() - started
    (out_dir / "summary.json").write_text(json.dumps(report.as_dict(), indent=2))
    return report


BATCH_SIZE = 5_000
"""Rows per batched Cypher write (and per identity-resolution write) unless told otherwise."""

BULK_BATCH_SIZE = 50_000
"""Rows per ``GRAPH.BULK`` command unless told otherwise. The engine's cost per bulk command
grows with the graph (4M synthetic purchase rows: 84 s of engine CPU in 5,000-row commands,
41 s in 50,000-row ones), so the bulk build writes in larger commands; a chunk this size
holds some tens of MB."""

_YOUNG_GC_EVERY = 16
"""Chunks between collections of the young generations while automatic collection is paused."""


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's automatic cycle collector for the files' loop.

    A load allocates millions of short-lived objects, so the collector kept walking the
    loader's long-lived key tables: pausing it made the medium load 18% faster, with the same
    peak memory, and a full collection afterwards found 61 objects. Young generations are
    still collected every few chunks, so a cycle made per chunk cannot pile up.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _bulk_sink(graph: GraphBackend, bulk: bool | None) -> BulkSink | None:
    if bulk is False:
        return None
    why_not = bulk_possible(graph)
    if why_not is None:
        return BulkSink(graph)
    if bulk:
        raise InputError(f"cannot bulk-load: {why_not}")
    return None


def _load_file(
    stage: Stager,
    spec: FileSpec,
    src: SourceFile,
    refs: _References,
    out_dir: Path,
    batch_size: int,
    progress: Progress | None,
) -> FileSummary:
    started = time.perf_counter()
    summary = FileSummary(file=src.path.name)
    rejects_path = out_dir / f"{src.path.name}.rejects.csv"
    rejects_path.unlink(missing_ok=True)
    tracker = DuplicateTracker()
    wrote_header = False
    # Validation of the next chunk overlaps the engine's write of this one (one write in flight,
    # so memory stays bounded); progress is reported only once a write is acknowledged.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="c360-write") as writer:
        pending: tuple[Future, int, int, int] | None = None

        def settle() -> None:
            nonlocal pending
            if pending is not None:
                future, loaded, read, done = pending
                pending = None
                future.result()
                summary.loaded += loaded
                if progress:
                    progress(src.path.name, read, done, src.size_bytes)

        try:
            for number, chunk in enumerate(src.chunks(batch_size), 1):
                if number % _YOUNG_GC_EVERY == 0:
                    gc.collect(1)
                summary.read += chunk.rows_read
                checked = validate_chunk(spec, chunk.frame, resolve_refs=refs.exists, tracker=tracker)
                rejects = checked.rejects
                if chunk.bad:
                    rejects = pd.concat([_unparsed(src.header, chunk.bad), rejects], ignore_index=True)
                    rejects = rejects.sort_values(reject_columns(src.header)[0], kind="stable")
                if len(rejects):
                    # surrogateescape writes undecodable input bytes back out exactly as they came in
                    rejects.to_csv(rejects_path, mode="a", header=not wrote_header, index=False, errors="surrogateescape")
                    wrote_header = True
                summary.rejected += len(rejects)
                summary.duplicates += checked.duplicates
                job = stage(spec, checked)
                settle()
                pending = (writer.submit(job), len(checked.props), summary.read, chunk.bytes_read)
                if spec.label is not None and spec.name != "preferences":
                    refs.add(spec.name, checked.props[spec.key[0]].tolist())
            settle()
        finally:
            if pending is not None:
                pending[0].cancel()
    summary.rejects_file = str(rejects_path) if wrote_header else None
    summary.seconds = time.perf_counter() - started
    return summary


def _unparsed(header: list[str], bad: list[tuple[int, list[str], str]]) -> pd.DataFrame:
    """Rows the CSV reader could not split into the header's columns, as rejects."""
    row_col, reason_col = reject_columns(header)
    rows = []
    for row, cells, reason in bad:
        extra = cells[len(header):]
        rows.append({row_col: row, **dict(zip(header, cells)), reason_col: reason + (f" (extra cells: {extra!r})" if extra else "")})
    return pd.DataFrame(rows, columns=[row_col, *header, reason_col], dtype=object)


def _write(graph: GraphBackend, spec: FileSpec, checked: Validated) -> None:
    """Write one batch: new keys with the faster CREATE, keys already in the graph with MERGE."""
    props = checked.props
    if props.empty:
        return
    if spec.name == "referrals":
        by_type: dict[str, list[dict]] = {}
        for r in checked.records:
            by_type.setdefault(INFLUENCE_TYPES[r["kind"]], []).append(r)
        for rel, rows in by_type.items():
            graph.write(REFERRAL_UPSERT[rel], {"rows": rows})
        return
    label, key = KEY_OF_FILE[spec.name]
    keys = props[key]
    present = {r["id"] for r in graph.read(KEY_LOOKUP[label], {"ids": keys.tolist()})}
    is_old = keys.isin(present).to_numpy() if present else None
    new_props = props if is_old is None else props[~is_old]
    new = _create_rows(spec.name, replace(checked, props=new_props))
    old = replace(checked, props=props[is_old]).records if is_old is not None else []
    if new:
        statement = CREATE_NEW_EXTRAS if len(new[0]) > len(STORED_COLUMNS[spec.name]) else CREATE_NEW
        try:
            graph.write(statement[spec.name], {"rows": new})
        except GraphError as e:
            if "constraint" not in str(e).lower():
                raise
            # another writer created some of these keys meanwhile: upsert instead
            old += replace(checked, props=new_props).records
    if old:
        graph.write(UPSERT[spec.name], {"rows": old})


def _create_rows(file: str, checked: Validated) -> list[list]:
    """Rows for ``CREATE_NEW`` (lists in stored-column order), or, when the file has extra
    columns, for ``CREATE_NEW_EXTRAS`` (each list ending with the map of those columns)."""
    if checked.props.empty:
        return []
    stored = STORED_COLUMNS[file]
    rows = checked.rows(stored)
    extra = [c for c in checked.props.columns if c not in stored]
    if extra:
        maps = replace(checked, props=checked.props[extra]).records
        rows = [row + [m] for row, m in zip(rows, maps)]
    return rows
