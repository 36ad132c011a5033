"""The build lease: two look-alike or segment builds never run at once, a dead build's lock
expires, and a refused build is a message that changes nothing in the graph."""

from __future__ import annotations

import threading
import time

import pytest

from analytics.build_lock import LOOKALIKES, exclusive_build
from analytics.pipeline import build_lookalikes, build_segments
from graph.errors import BusyError, GraphError
from queries import build_lock as q
from support.recommend_reference import generated_world

SIMILAR = "MATCH (a:Customer)-[s:SIMILAR_TO]->(b:Customer) RETURN a.customer_id AS a, b.customer_id AS b"


def test_second_holder_is_refused_until_release(graph):
    with exclusive_build(graph, "job-a", "look-alike") as holder:
        assert holder
        with pytest.raises(BusyError, match="another look-alike build is running") as err:
            with exclusive_build(graph, "job-a", "segment"):
                pass
        assert holder in str(err.value) and "expires at" in str(err.value)
        with exclusive_build(graph, "job-b", "other"):  # other keys are independent
            pass
    with exclusive_build(graph, "job-a", "segment"):
        pass


def test_an_expired_lease_is_taken_over(graph):
    now = time.time()
    graph.write(q.ACQUIRE_LOCK, {"key": "job", "holder": "dead-host:1:x", "job": "look-alike",
                                 "now": now - 700, "expires": now - 100})
    with exclusive_build(graph, "job", "look-alike") as holder:
        assert graph.read("MATCH (l:BuildLock {key: 'job'}) RETURN l.holder AS h")[0]["h"] == holder


def test_the_lease_is_renewed_while_the_build_runs(graph):
    with exclusive_build(graph, "job", "look-alike", ttl_s=0.6):
        time.sleep(1.5)  # more than two leases: only renewals keep it
        with pytest.raises(BusyError):
            with exclusive_build(graph, "job", "look-alike"):
                pass


def test_a_lost_lease_is_reported(graph):
    with pytest.raises(GraphError, match="lost its lock"):
        with exclusive_build(graph, "job", "look-alike", ttl_s=60):
            later = time.time() + 120  # another build, after this lease ran out
            graph.write(q.ACQUIRE_LOCK, {"key": "job", "holder": "other", "job": "x", "now": later, "expires": later + 60})


@pytest.fixture(scope="module")
def world(server, tmp_path_factory):
    yield from generated_world(server, tmp_path_factory, "lock", customers=300, seed=3)


def test_concurrent_lookalike_builds_write_one_set(world):
    graph = world[0]
    outcomes: list[object] = []
    start = threading.Barrier(3)

    def run(fn) -> None:
        start.wait()
        try:
            outcomes.append(fn(graph))
        except BusyError as e:
            outcomes.append(e)

    threads = [threading.Thread(target=run, args=(lambda g: build_lookalikes(g, k=5),)),
               threading.Thread(target=run, args=(lambda g: build_segments(g, k=5, store_similar=True),)),
               threading.Thread(target=run, args=(lambda g: build_lookalikes(g, k=5),))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [o for o in outcomes if not isinstance(o, BusyError)]
    assert len(outcomes) == 3 and done  # at least one ran; the others either ran after it or were refused
    edges = graph.read(SIMILAR)
    pairs = [(e["a"], e["b"]) for e in edges]
    assert len(pairs) == len(set(pairs))  # no duplicate edges
    # the graph holds exactly the last finished build's top-5 pairs
    fresh = build_lookalikes(graph, k=5)
    assert sorted(pairs) == sorted(zip(fresh.customer_id, fresh.other_id))


def test_refused_build_changes_nothing_and_the_cli_says_why(world, monkeypatch, cli_env, capsys):
    from cli.main import main

    graph = world[0]
    before = sorted((e["a"], e["b"]) for e in graph.read(SIMILAR))
    with exclusive_build(graph, LOOKALIKES, "look-alike"):
        with pytest.raises(BusyError):
            build_lookalikes(graph, k=3)
        assert sorted((e["a"], e["b"]) for e in graph.read(SIMILAR)) == before
        monkeypatch.setenv("C360_GRAPH_NAME", graph.graph_name)
        code = main(["segments", "build"])
    err = capsys.readouterr().err
    assert code == 1
    assert "another look-alike build is running" in err and "Traceback" not in err
    assert sorted((e["a"], e["b"]) for e in graph.read(SIMILAR)) == before


def test_a_failed_build_frees_the_lock_and_keeps_its_error(graph):
    with pytest.raises(ZeroDivisionError):
        with exclusive_build(graph, "job", "look-alike"):
            1 / 0
    with exclusive_build(graph, "job", "look-alike"):  # free again at once, not after the lease
        pass
