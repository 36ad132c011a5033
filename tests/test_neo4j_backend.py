"""The Neo4j backend and driver-value conversion, without a server (fake driver), plus
live checks marked ``neo4j`` that run only when ``NEO4J_URI`` is set."""

from __future__ import annotations

import datetime as dt
import math
import os
import uuid
from typing import Any

import neo4j
import pytest
from dateutil.relativedelta import relativedelta
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable, SessionExpired
from neo4j.graph import Graph, Node, Path
from neo4j.spatial import CartesianPoint, WGS84Point
from neo4j.time import Date, DateTime, Duration, Time

from graph import backend as backend_module
from graph.backend import GraphBackend
from graph.convert import record_to_dict, to_plain
from graph.errors import ConfigError, GraphError
from graph.neo4j_backend import Neo4jBackend, describe_error
from graph.urls import parse_graph_url


@pytest.fixture(autouse=True)
def _private_observers(monkeypatch):
    """Hide this module's made-up statements ("R", "W", "PAGE") from the suite-wide
    observers (conftest records every statement sent to check coverage)."""
    monkeypatch.setattr(backend_module, "_observers", [])


# --------------------------------------------------------------------------- conversion


def _two_node_path() -> tuple[Node, Any, Node, Path]:
    g = Graph()
    alice = Node(g, "4:x:1", 1, ["Customer"], {"customer_id": "c1", "name": "Alice"})
    book = Node(g, "4:x:2", 2, ["Product"], {"product_id": "p9", "price": 12.5})
    bought = g.relationship_type("BOUGHT")(g, "5:x:3", 3, {"qty": 2})
    bought._start_node, bought._end_node = alice, book  # what the driver's hydration does
    return alice, bought, book, Path(alice, bought)


def test_nodes_relationships_and_paths_become_property_dicts():
    alice, bought, book, path = _two_node_path()
    assert to_plain(alice) == {"customer_id": "c1", "name": "Alice"}
    assert to_plain(bought) == {"qty": 2}
    assert to_plain(path) == [{"customer_id": "c1", "name": "Alice"}, {"product_id": "p9", "price": 12.5}]


def test_temporal_values_become_iso_text():
    assert to_plain(Date(2024, 3, 1)) == "2024-03-01"
    assert to_plain(DateTime(2024, 3, 1, 9, 30, 0)) == "2024-03-01T09:30:00"
    assert to_plain(DateTime(2024, 3, 1, 9, 30, 0, tzinfo=dt.timezone.utc)) == "2024-03-01T09:30:00+00:00"
    assert to_plain(Time(23, 59, 1)) == "23:59:01"
    assert to_plain(Duration(months=14, days=3, hours=4, minutes=5, seconds=6)) == "P1Y2M3DT4H5M6S"
    assert dt.date.fromisoformat(to_plain(Date(1999, 12, 31))) == dt.date(1999, 12, 31)


def test_falkordb_temporal_values_match_neo4j_text():
    # the falkordb client returns datetime/date/relativedelta; the text must match Neo4j's
    assert to_plain(dt.date(2024, 3, 1)) == to_plain(Date(2024, 3, 1))
    assert to_plain(dt.datetime(2024, 3, 1, 9, 30)) == to_plain(DateTime(2024, 3, 1, 9, 30, 0))
    rd = relativedelta(years=1, months=2, days=3, hours=4, minutes=5, seconds=6)
    assert to_plain(rd) == to_plain(Duration(months=14, days=3, hours=4, minutes=5, seconds=6))


def test_falkordb_graph_values_become_property_dicts():
    from falkordb.edge import Edge
    from falkordb.node import Node as FNode
    from falkordb.path import Path as FPath

    a = FNode(node_id=1, labels="Customer", properties={"customer_id": "c1"})
    b = FNode(node_id=2, labels="Product", properties={"product_id": "p9"})
    e = Edge(a, "BOUGHT", b, edge_id=7, properties={"qty": 2})
    assert to_plain(a) == {"customer_id": "c1"}
    assert to_plain(e) == {"qty": 2}
    assert to_plain(FPath([a, b], [e])) == [{"customer_id": "c1"}, {"product_id": "p9"}]
    assert to_plain({"p": FPath([a, b], [e])}) == {"p": [{"customer_id": "c1"}, {"product_id": "p9"}]}


def test_nested_containers_and_points():
    alice, _, _, _ = _two_node_path()
    value = {"rows": [(1, alice), {"when": Date(2020, 1, 2)}], "n": None, "ok": True}
    assert to_plain(value) == {
        "rows": [[1, {"customer_id": "c1", "name": "Alice"}], {"when": "2020-01-02"}],
        "n": None,
        "ok": True,
    }
    assert to_plain(WGS84Point((13.4, 52.5))) == {"longitude": 13.4, "latitude": 52.5}
    assert to_plain(CartesianPoint((1, 2, 3))) == {"x": 1.0, "y": 2.0, "z": 3.0}


def test_records_convert_to_dicts_in_column_order():
    alice, _, _, _ = _two_node_path()
    row = record_to_dict(neo4j.Record([("c", alice), ("since", Date(2021, 5, 6)), ("n", 3)]))
    assert row == {"c": {"customer_id": "c1", "name": "Alice"}, "since": "2021-05-06", "n": 3}
    assert list(row) == ["c", "since", "n"]


def test_unknown_value_types_are_refused():
    with pytest.raises(TypeError, match="object"):
        to_plain(object())


# --------------------------------------------------------------------------- fake driver


class FakeTx:
    """Runs the tiny 'queries' of these tests over an in-memory table."""

    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver

    def run(self, query: str, parameters: dict[str, Any]):
        self.driver.calls.append((query, dict(parameters)))
        if self.driver.fail_with is not None:
            raise self.driver.fail_with
        if query == "PAGE":
            keys = sorted(k for k in self.driver.table if k > parameters["after"])
            return [neo4j.Record([("key", k), ("value", self.driver.table[k])]) for k in keys[: parameters["limit"]]]
        return [neo4j.Record([("echo", dict(parameters)), ("when", Date(2024, 1, 2))])]


class FakeSession:
    def __init__(self, driver: FakeDriver, config: dict[str, Any]) -> None:
        self.driver, self.config = driver, config

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.driver.closed_sessions += 1

    def execute_read(self, work):
        self.driver.modes.append("read")
        return work(FakeTx(self.driver))

    def execute_write(self, work):
        self.driver.modes.append("write")
        return work(FakeTx(self.driver))

    def run(self, *args, **kwargs):  # auto-commit must never be used
        raise AssertionError("Neo4jBackend must use managed transactions")


class FakeDriver:
    def __init__(self, table: dict[str, int] | None = None) -> None:
        self.table = table or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.modes: list[str] = []
        self.sessions: list[dict[str, Any]] = []
        self.closed_sessions = 0
        self.closed = False
        self.fail_with: Exception | None = None
        self.verify_error: Exception | None = None

    def session(self, **config: Any) -> FakeSession:
        self.sessions.append(config)
        return FakeSession(self, config)

    def verify_connectivity(self) -> None:
        if self.verify_error is not None:
            raise self.verify_error

    def close(self) -> None:
        self.closed = True


def test_backend_satisfies_the_protocol():
    assert isinstance(Neo4jBackend(driver=FakeDriver()), GraphBackend)
    assert Neo4jBackend(driver=FakeDriver()).engine == "neo4j"


def test_read_and_write_use_the_matching_managed_transaction():
    driver = FakeDriver()
    backend = Neo4jBackend(driver=driver)
    backend.read("R", {"a": 1})
    backend.write("W", {"b": 2})
    backend.read("R2")
    assert driver.modes == ["read", "write", "read"]
    assert [q for q, _ in driver.calls] == ["R", "W", "R2"]
    assert driver.closed_sessions == 3  # one session per statement, always closed


def test_parameters_are_passed_and_rows_are_plain():
    driver = FakeDriver()
    rows = Neo4jBackend(driver=driver).write("W", {"rows": [{"id": "c1"}], "n": 2})
    assert driver.calls == [("W", {"rows": [{"id": "c1"}], "n": 2})]
    assert rows == [{"echo": {"rows": [{"id": "c1"}], "n": 2}, "when": "2024-01-02"}]
    assert Neo4jBackend(driver=driver).read("R") == [{"echo": {}, "when": "2024-01-02"}]


@pytest.mark.parametrize(("target_db", "explicit", "expected"), [
    (None, None, None),
    ("crm", None, "crm"),
    ("crm", "sales", "sales"),
])
def test_database_is_passed_to_every_session(target_db, explicit, expected):
    url = "neo4j://u:p@host" + (f"/{target_db}" if target_db else "")
    target = parse_graph_url(url, env={})
    driver = FakeDriver()
    backend = Neo4jBackend(target, driver=driver, database=explicit)
    backend.read("R")
    backend.write("W")
    assert [s["database"] for s in driver.sessions] == [expected, expected]
    # one bookmark manager for all sessions: reads see earlier writes on a cluster
    managers = {id(s["bookmark_manager"]) for s in driver.sessions}
    assert len(managers) == 1 and driver.sessions[0]["bookmark_manager"] is not None


def test_every_statement_is_announced_to_observers():
    seen: list[tuple[str, str]] = []
    backend_module.add_observer(lambda engine, q: seen.append((engine, q)))
    observer = backend_module._observers[-1]
    try:
        b = Neo4jBackend(driver=FakeDriver({"a": 1, "b": 2, "c": 3}))
        b.read("R")
        b.write("W")
        list(b.stream("PAGE", page_size=2))
    finally:
        backend_module.remove_observer(observer)
    assert seen == [("neo4j", "R"), ("neo4j", "W"), ("neo4j", "PAGE"), ("neo4j", "PAGE")]


@pytest.mark.parametrize(("n_rows", "page_size"), [(0, 3), (1, 3), (7, 3), (9, 3), (10, 1), (5, 100)])
def test_stream_pages_through_all_rows_in_key_order(n_rows, page_size):
    table = {f"k{i:03d}": i * i for i in range(n_rows)}
    driver = FakeDriver(table)
    rows = list(Neo4jBackend(driver=driver).stream("PAGE", {"extra": "x"}, page_size=page_size))
    assert rows == [{"key": k, "value": table[k]} for k in sorted(table)]
    # a full last page needs one more (empty) round trip to know it was the last
    assert len(driver.calls) == n_rows // page_size + 1
    assert all(p["limit"] == page_size and p["extra"] == "x" for _, p in driver.calls)
    assert [p["after"] for _, p in driver.calls] == [""] + [
        sorted(table)[i * page_size - 1] for i in range(1, len(driver.calls))
    ]
    assert driver.modes == ["read"] * len(driver.calls)


def test_stream_starts_after_the_given_key():
    table = {"a": 1, "b": 2, "c": 3, "d": 4}
    rows = list(Neo4jBackend(driver=FakeDriver(table)).stream("PAGE", after="b", page_size=10))
    assert [r["key"] for r in rows] == ["c", "d"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            Neo4jError._hydrate_neo4j(
                code="Neo.ClientError.Statement.SyntaxError",
                message="Invalid input 'X' (line 1, column 8)\n\"MATCH X\"\n        ^",
            ),
            "Neo.ClientError.Statement.SyntaxError: Invalid input 'X' (line 1, column 8)",
        ),
        (
            Neo4jError._hydrate_neo4j(code="Neo.ClientError.Database.DatabaseNotFound", message="no db"),
            "Neo.ClientError.Database.DatabaseNotFound: no db",
        ),
        (ServiceUnavailable("Unable to retrieve routing information"), "ServiceUnavailable: Unable"),
        (SessionExpired("Failed to read from defunct connection"), "SessionExpired: Failed"),
    ],
)
def test_driver_errors_become_one_line_graph_errors(error, expected):
    driver = FakeDriver()
    driver.fail_with = error
    with pytest.raises(GraphError) as info:
        Neo4jBackend(driver=driver).write("W")
    message = str(info.value)
    assert expected in message and "\n" not in message
    assert info.value.__cause__ is error


def test_non_driver_errors_are_not_hidden():
    driver = FakeDriver()
    driver.fail_with = KeyError("bug in a work function")
    with pytest.raises(KeyError):
        Neo4jBackend(driver=driver).read("R")


def test_injected_driver_is_not_closed_and_closed_backend_refuses():
    driver = FakeDriver()
    backend = Neo4jBackend(driver=driver)
    backend.close()
    assert driver.closed is False  # the caller owns an injected driver
    with pytest.raises(GraphError, match="closed"):
        backend.read("R")


def test_describe_error_keeps_the_reason_after_a_colon():
    error = ServiceUnavailable("Couldn't connect to db:7687:\nFailed to establish connection (Connection refused)")
    assert describe_error(error) == (
        "ServiceUnavailable: Couldn't connect to db:7687: Failed to establish connection (Connection refused)"
    )


def test_describe_error_is_short():
    long = Neo4jError._hydrate_neo4j(code="Neo.ClientError.X", message="y" * 1000)
    assert len(describe_error(long)) < 350


# --------------------------------------------------------------------------- opening


def test_open_passes_uri_and_auth_and_verifies(monkeypatch):
    created: dict[str, Any] = {}
    fake = FakeDriver()

    def driver(uri, *, auth=None, **config):
        created.update(uri=uri, auth=auth, config=config)
        return fake

    monkeypatch.setattr(neo4j.GraphDatabase, "driver", driver)
    target = parse_graph_url("neo4j+s://bob:p%40ss@db.example.com/crm", env={})
    backend = Neo4jBackend.from_target(target, max_connection_pool_size=5)
    assert created["uri"] == "neo4j+s://db.example.com:7687"
    assert (created["auth"].principal, created["auth"].credentials) == ("bob", "p@ss")
    assert created["config"] == {"max_connection_pool_size": 5}
    assert backend.database == "crm"
    backend.close()
    assert fake.closed is True  # a driver the backend created is closed with it


def test_open_without_credentials_sends_no_auth(monkeypatch):
    created: dict[str, Any] = {}
    monkeypatch.setattr(
        neo4j.GraphDatabase, "driver", lambda uri, *, auth=None, **c: created.update(auth=auth) or FakeDriver()
    )
    Neo4jBackend(parse_graph_url("bolt://localhost", env={}))
    assert created["auth"] is None


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (ServiceUnavailable("Couldn't connect to db:7687"), "cannot reach Neo4j at bolt://db:7687"),
        (
            Neo4jError._hydrate_neo4j(code="Neo.ClientError.Security.Unauthorized", message="bad creds"),
            "refused the credentials of user 'bob'",
        ),
    ],
)
def test_open_failures_are_clear_and_close_the_driver(monkeypatch, error, words):
    fake = FakeDriver()
    fake.verify_error = error
    monkeypatch.setattr(neo4j.GraphDatabase, "driver", lambda uri, *, auth=None, **c: fake)
    with pytest.raises(GraphError) as info:
        Neo4jBackend(parse_graph_url("bolt://bob:secretpw@db", env={}))
    assert words in str(info.value)
    assert "secretpw" not in str(info.value)
    assert fake.closed is True
    if isinstance(error, Neo4jError):
        assert isinstance(error, AuthError)


def test_unreachable_real_server_gives_graph_error():
    # nothing listens on port 1: the real driver fails fast and we say so in one line
    with pytest.raises(GraphError, match="cannot reach Neo4j at bolt://127.0.0.1:1"):
        Neo4jBackend.from_target(parse_graph_url("bolt://127.0.0.1:1", env={}), connection_timeout=2)


def test_wrong_targets_are_config_errors():
    with pytest.raises(ConfigError):
        Neo4jBackend(parse_graph_url("falkordb://localhost", env={}))
    with pytest.raises(ConfigError):
        Neo4jBackend()


# --------------------------------------------------------------------------- live server

live = pytest.mark.skipif(not os.environ.get("NEO4J_URI"), reason="set NEO4J_URI to run against a live Neo4j")

LIVE_WRITE = "UNWIND $rows AS r MERGE (p:C360TestProbe {probe_id: r.probe_id}) SET p.n = r.n RETURN count(p) AS written"
LIVE_READ = (
    "MATCH (p:C360TestProbe) WHERE p.probe_id STARTS WITH $run AND p.probe_id > $after "
    "RETURN p.probe_id AS key, p.n AS n ORDER BY key LIMIT $limit"
)
LIVE_CLEANUP = "MATCH (p:C360TestProbe) WHERE p.probe_id STARTS WITH $run DETACH DELETE p"


@pytest.fixture
def live_backend():
    backend = Neo4jBackend.from_target(parse_graph_url(os.environ["NEO4J_URI"]))
    yield backend
    backend.close()


@pytest.mark.neo4j
@live
def test_live_return_one(live_backend):
    assert live_backend.read("RETURN 1 AS one, date('2024-01-02') AS d") == [{"one": 1, "d": "2024-01-02"}]


@pytest.mark.neo4j
@live
def test_live_write_read_round_trip(live_backend):
    run = f"t{uuid.uuid4().hex}-"
    rows = [{"probe_id": f"{run}{i:02d}", "n": i * 1.5} for i in range(7)]
    try:
        assert live_backend.write(LIVE_WRITE, {"rows": rows}) == [{"written": 7}]
        got = list(live_backend.stream(LIVE_READ, {"run": run}, page_size=3))
        assert [r["key"] for r in got] == sorted(r["probe_id"] for r in rows)
        assert math.fsum(r["n"] for r in got) == math.fsum(r["n"] for r in rows)
    finally:
        live_backend.write(LIVE_CLEANUP, {"run": run})
    assert live_backend.read(LIVE_READ, {"run": run, "after": "", "limit": 10}) == []
