"""Graph URL parsing: what ``--graph`` / ``C360_GRAPH_URL`` accept, and how bad ones fail."""

from __future__ import annotations

import pytest

from graph.errors import C360Error, ConfigError
from graph.urls import GraphTarget, mask_url, parse_graph_url

NO_ENV: dict[str, str] = {}


@pytest.mark.parametrize("url", [None, "", "embedded", "  embedded  "])
def test_embedded_forms(url):
    target = parse_graph_url(url, env=NO_ENV)
    assert target == GraphTarget("embedded", None, None, None, None, None, None, "c360")


def test_embedded_uses_default_graph():
    assert parse_graph_url(None, default_graph="other").graph_name == "other"


@pytest.mark.parametrize(
    ("url", "host", "port", "graph", "user", "password"),
    [
        ("falkordb://localhost", "localhost", 6379, "c360", None, None),
        ("falkordb://localhost/", "localhost", 6379, "c360", None, None),
        ("falkordb://db.example.com:6380/crm", "db.example.com", 6380, "crm", None, None),
        ("falkordb://:s3cret@10.0.0.5:7000/g_1", "10.0.0.5", 7000, "g_1", None, "s3cret"),
        ("falkordb://alice:p%40ss%2Fw@host/x", "host", 6379, "x", "alice", "p@ss/w"),
        ("falkordb://[::1]:6390/c360", "::1", 6390, "c360", None, None),
        ("FALKORDB://Host/g", "host", 6379, "g", None, None),
    ],
)
def test_falkordb_urls(url, host, port, graph, user, password):
    t = parse_graph_url(url, env=NO_ENV)
    assert (t.kind, t.host, t.port, t.graph_name, t.user, t.password) == (
        "falkordb", host, port, graph, user, password
    )
    assert t.database is None
    assert t.uri is not None and "@" not in t.uri and t.uri.endswith(f":{port}")


@pytest.mark.parametrize("scheme", ["neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"])
def test_every_neo4j_scheme(scheme):
    t = parse_graph_url(f"{scheme}://neo4j:pw@db.example.com/crm", env=NO_ENV)
    assert t.kind == "neo4j"
    assert t.uri == f"{scheme}://db.example.com:7687"
    assert (t.user, t.password, t.database) == ("neo4j", "pw", "crm")


def test_neo4j_uri_has_no_credentials_or_path():
    t = parse_graph_url("neo4j+s://admin:p%3Aw%40rd@abc.databases.neo4j.io:7688/sales", env=NO_ENV)
    assert t.uri == "neo4j+s://abc.databases.neo4j.io:7688"
    assert (t.host, t.port) == ("abc.databases.neo4j.io", 7688)
    assert (t.user, t.password, t.database) == ("admin", "p:w@rd", "sales")


def test_neo4j_without_database_uses_server_default():
    t = parse_graph_url("bolt://localhost", env=NO_ENV)
    assert (t.uri, t.user, t.password, t.database) == ("bolt://localhost:7687", None, None, None)


def test_neo4j_routing_context_is_kept_for_routing_schemes():
    t = parse_graph_url("neo4j://u:p@host:7687/db?region=eu", env=NO_ENV)
    assert t.uri == "neo4j://host:7687?region=eu"


def test_neo4j_ipv6_host_is_bracketed_in_uri():
    assert parse_graph_url("bolt://[::1]:7690", env=NO_ENV).uri == "bolt://[::1]:7690"


def test_neo4j_credentials_and_database_from_environment():
    env = {"NEO4J_USERNAME": "envuser", "NEO4J_PASSWORD": "envpw", "NEO4J_DATABASE": "envdb"}
    t = parse_graph_url("neo4j://localhost", env=env)
    assert (t.user, t.password, t.database) == ("envuser", "envpw", "envdb")


def test_url_values_win_over_environment():
    env = {"NEO4J_USERNAME": "envuser", "NEO4J_PASSWORD": "envpw", "NEO4J_DATABASE": "envdb"}
    t = parse_graph_url("neo4j://urluser:urlpw@localhost/urldb", env=env)
    assert (t.user, t.password, t.database) == ("urluser", "urlpw", "urldb")


def test_environment_defaults_to_os_environ(monkeypatch):
    monkeypatch.setenv("NEO4J_USERNAME", "fromos")
    monkeypatch.setenv("NEO4J_PASSWORD", "ospw")
    monkeypatch.delenv("NEO4J_DATABASE", raising=False)
    t = parse_graph_url("neo4j://localhost")
    assert (t.user, t.password, t.database) == ("fromos", "ospw", None)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:7474",
        "redis://localhost:6379",
        "falkordbs://localhost",
        "localhost:7687",
        "embeded",
        "neo4j://",
        "neo4j://:7687/db",
        "neo4j://host:notaport",
        "neo4j://host:99999",
        "bolt://host/db?routing=x",
        "neo4j://host/db#frag",
        "neo4j://host/a/b",
        "falkordb://host/bad graph",
        "falkordb://host/a/b",
        "falkordb://host/g?x=1",
    ],
)
def test_bad_urls_raise_config_error(url):
    with pytest.raises(ConfigError) as info:
        parse_graph_url(url, env=NO_ENV)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, C360Error)


@pytest.mark.parametrize(
    "url",
    [
        "http://admin:TopSecret1@host:7474",
        "neo4j://admin:TopSecret1@host:notaport/db",
        "falkordb://:TopSecret1@host/bad graph",
        "neo4j://admin:Top%40Secret1@host/a/b",
    ],
)
def test_error_message_names_url_but_never_the_password(url):
    with pytest.raises(ConfigError) as info:
        parse_graph_url(url, env=NO_ENV)
    message = str(info.value)
    assert "TopSecret1" not in message and "Top%40Secret1" not in message
    assert "admin:***@host" in message or ":***@host" in message


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("neo4j://neo4j:s3cret@db:7687/crm", "neo4j://neo4j:***@db:7687/crm"),
        ("falkordb://:pw@localhost/g", "falkordb://:***@localhost/g"),
        ("bolt://user:p@ss@host", "bolt://user:***@host"),  # unescaped @ in a password
        ("neo4j://user@host/db", "neo4j://user@host/db"),  # no password: unchanged
        ("falkordb://localhost:6379/c360", "falkordb://localhost:6379/c360"),
        ("embedded", "embedded"),
        ("", ""),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_repr_hides_password():
    t = parse_graph_url("neo4j://u:hunter2@h/db", env=NO_ENV)
    assert "hunter2" not in repr(t) and "hunter2" not in str(t)


def test_target_is_immutable():
    t = parse_graph_url("falkordb://h/g", env=NO_ENV)
    with pytest.raises(AttributeError):
        t.port = 1  # type: ignore[misc]
