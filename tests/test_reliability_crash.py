"""Crash safety: a load killed at any point, then run again, gives the same graph as a clean load.

Two kinds of crash: the loading process is SIGKILLed (the engine keeps running), and the
engine itself is SIGKILLed mid-load (its own temporary data folder, ``appendfsync always``),
restarted, and the load run again. Kill times are drawn, per seed, from the measured duration
of a clean load. With ``fsync always`` every batch the loader was told is written must also
survive the engine's death (in the target graph, or in the staging graph of a bulk build).
Each runs with the bulk build of an empty graph (the default) and with batched Cypher.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from graph import embedded
from graph.falkor import FalkorBackend
from graph_snapshot import snapshot
from loaders.bulk import STAGING_INFIX
from loaders.contract import CONTRACT
from loaders.generate import generate, load_truth
from loaders.load import load_folder
from tests_support_paths import read_csv

ROOT = Path(__file__).resolve().parents[1]
BATCH = 50
"""The crashing loads and the reruns use the same batch size as the clean load: the graph a load
writes should not depend on it, but tests/test_reliability_input.py checks that separately."""

COUNT_BY_LABEL = "MATCH (n) RETURN labels(n)[0] AS label, count(n) AS n"

LOADER = """
import os
from graph.falkor import FalkorBackend
from loaders.load import load_folder

g = FalkorBackend.connect(unix_socket_path=os.environ["T_SOCKET"], password=os.environ["T_PASSWORD"],
                          graph_name=os.environ["T_GRAPH"])
def progress(name, rows, done, total):
    print("P", name, rows, flush=True)
print("ready", flush=True)
load_folder(g, os.environ["T_FOLDER"], batch_size=int(os.environ["T_BATCH"]), report_dir=os.environ["T_REPORT"],
            progress=progress, bulk={"auto": None, "cypher": False}[os.environ["T_MODE"]])
print("done", flush=True)
"""


@dataclass
class LoaderRun:
    """A loader subprocess and what it printed (progress lines are acknowledged batches)."""

    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    ready_at: float = 0.0

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.strip())
            if line.strip() == "ready":
                self.ready_at = time.monotonic()
                self.ready.set()
        self.ready.set()

    def wait_until(self, fraction: float, duration: float, progress_lines: int) -> None:
        """Until ``fraction`` of a clean load has passed, by the clock or by reported batches,
        whichever comes first (the clock alone is unreliable on a busy machine)."""
        deadline = self.ready_at + fraction * duration * (2 if fraction >= 1 else 1)
        while time.monotonic() < deadline and self.proc.poll() is None:
            if sum(line.startswith("P ") for line in list(self.lines)) >= fraction * progress_lines:
                return
            time.sleep(0.002)

    def acknowledged(self) -> dict[str, int]:
        """File -> rows the loader had finished writing when it last reported."""
        out: dict[str, int] = {}
        for line in list(self.lines):
            if line.startswith("P "):
                _, name, rows = line.split()
                out[name] = int(rows)
        return out


def start_loader(server: embedded.EmbeddedServer, graph_name: str, folder: Path, report: Path, mode: str = "auto") -> LoaderRun:
    """``mode`` auto: an empty graph is built by the engine's bulk loader; cypher: batched MERGE/CREATE."""
    env = {
        "T_MODE": mode,
        **os.environ,
        "T_SOCKET": str(server.socket),
        "T_PASSWORD": server.password,  # through the environment, never argv
        "T_GRAPH": graph_name,
        "T_FOLDER": str(folder),
        "T_REPORT": str(report),
        "T_BATCH": str(BATCH),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen([sys.executable, "-c", LOADER], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    run = LoaderRun(proc)
    threading.Thread(target=run._pump, daemon=True).start()
    assert run.ready.wait(60), "loader subprocess did not start"
    return run


def kept_among_first(folder: Path, file: str, rows: int) -> int:
    """Nodes a correct loader has written after the first ``rows`` data rows of ``file``:
    distinct keys among them, less the rows the generator planted as malformed."""
    spec = CONTRACT[file.removesuffix(".csv")]
    bad = {m["row"] for m in load_truth(folder).malformed if m["file"] == file}
    head = read_csv(folder / file).iloc[:rows]
    head = head[~head.index.isin(bad)]
    return len(head.drop_duplicates(list(spec.key)))


def backend(server: embedded.EmbeddedServer, name: str) -> FalkorBackend:
    return FalkorBackend.connect(unix_socket_path=str(server.socket), password=server.password, graph_name=name)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash")
    generate(folder, customers=300, seed=11, transactions_per_customer=3)
    return folder


@pytest.fixture(scope="module")
def clean(server: embedded.EmbeddedServer, dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    """A clean load in a subprocess, exactly as the crashing ones run: its snapshot and duration."""
    name = f"crash_clean_{os.getpid()}"
    run = start_loader(server, name, dataset, tmp_path_factory.mktemp("clean-report"))
    assert run.proc.wait(120) == 0, run.proc.stderr.read() if run.proc.stderr else ""
    duration = time.monotonic() - run.ready_at
    progress_lines = sum(line.startswith("P ") for line in run.lines)
    g = backend(server, name)
    try:
        yield snapshot(g), duration, progress_lines
    finally:
        g.drop()
        g.close()


@pytest.mark.parametrize(("seed", "mode"), [(1, "auto"), (2, "auto"), (3, "auto"), (1, "cypher"), (2, "cypher")])
def test_loader_killed_then_rerun_equals_clean_load(server, dataset: Path, clean, tmp_path: Path, seed: int, mode: str) -> None:
    reference, duration, lines = clean
    # seed 3: right after the last batch, i.e. during identity resolution
    at = 1.0 if seed == 3 else random.Random(seed).uniform(0.05, 0.95)
    name = f"crash_loader_{seed}_{mode}_{os.getpid()}"
    run = start_loader(server, name, dataset, tmp_path / "r1", mode)
    run.wait_until(at, duration, lines)
    killed = run.proc.poll() is None
    run.proc.send_signal(signal.SIGKILL)
    run.proc.wait(30)
    g = backend(server, name)
    try:
        assert killed and "done" not in run.lines, "the load finished before the kill"
        if at >= 1.0:
            assert sum(line.startswith("P ") for line in run.lines) == lines, "not killed after the last batch"
        load_folder(g, dataset, batch_size=BATCH, report_dir=tmp_path / "r2")
        assert snapshot(g) == reference
    finally:
        g.drop()
        g.close()


@pytest.mark.parametrize(("seed", "mode"), [(4, "auto"), (5, "auto"), (4, "cypher")])
def test_engine_killed_mid_load_keeps_acknowledged_rows_and_rerun_equals_clean_load(
    dataset: Path, clean, tmp_path: Path, seed: int, mode: str
) -> None:
    reference, duration, lines = clean
    home = Path(tempfile.mkdtemp(prefix="c360k-", dir="/tmp"))  # short: unix socket paths are limited
    server = embedded.start(home, fsync="always")
    try:
        at = random.Random(seed).uniform(0.1, 0.9)
        run = start_loader(server, "g", dataset, tmp_path / "r1", mode)
        run.wait_until(at, duration, lines)
        os.kill(server.pid, signal.SIGKILL)
        acknowledged = run.acknowledged()  # read after the kill: these batches were written before it
        print("killed at", round(at, 2), "of a clean load; acknowledged", acknowledged)
        assert run.proc.wait(60) != 0 or "done" in run.lines
        server = embedded.start(home, fsync="always")
        g = backend(server, "g")
        # a bulk build keeps acknowledged batches in its staging graph until it renames it to "g"
        names = [n.decode() if isinstance(n, bytes) else n for n in g.execute_command("GRAPH.LIST")]
        staged = [n for n in names if n.startswith("g" + STAGING_INFIX)]
        assert mode == "auto" or not staged
        counts: dict[str, int] = {}
        for name in ["g", *staged]:
            other = backend(server, name)
            for r in other.read(COUNT_BY_LABEL):
                counts[r["label"]] = counts.get(r["label"], 0) + r["n"]
            other.close()
        for file, rows in acknowledged.items():
            spec = CONTRACT[file.removesuffix(".csv")]
            if spec.label is not None:
                assert counts.get(spec.label, 0) >= kept_among_first(dataset, file, rows), (file, rows, counts)
        load_folder(g, dataset, batch_size=BATCH, report_dir=tmp_path / "r2")
        assert snapshot(g) == reference
        if staged and counts.get("Customer", 0):
            # the staging graph of the dead build expires by itself (an hour after its last batch)
            assert 0 < g.execute_command("TTL", staged[0]) <= 3600
        g.close()
    finally:
        embedded.stop(home)
        shutil.rmtree(home, ignore_errors=True)
