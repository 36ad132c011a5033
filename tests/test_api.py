"""The HTTP API through a real HTTP client: auth, validation, 404, 500 without a trace, and the data."""

from __future__ import annotations

import sys

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from loaders.load import load_folder
from queries.nbo import next_best
from queries.recommend import recommend
from support.nbo_fixture import NOW, write_folder

TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def loaded(graph, tmp_path):
    write_folder(tmp_path)
    load_folder(graph, tmp_path, report_dir=tmp_path / "report")
    return graph


@pytest.fixture()
def client(loaded):
    with TestClient(create_app(lambda: loaded, token=TOKEN), raise_server_exceptions=False) as c:
        yield c


def test_health_needs_no_token(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": f"Bearer {TOKEN}x"}])
def test_every_data_endpoint_needs_the_token(client, headers):
    for path in ["/customers/a1/recommendations", "/customers/a1/next-best", "/customers/a1/view"]:
        r = client.get(path, headers=headers)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
    r = client.post("/customers/a1/responses", json={"offer_id": "cA", "response": "accepted"}, headers=headers)
    assert r.status_code == 401


def test_recommendations_are_the_library_answer(client, loaded):
    r = client.get("/customers/a1/recommendations", params={"k": 3}, headers=AUTH)
    assert r.status_code == 200
    assert r.json() == {"customer_id": "a1", "items": recommend(loaded, "a1", k=3)}
    assert r.json()["items"]


def test_validation_errors_are_clear(client):
    r = client.get("/customers/a1/recommendations", params={"k": 0}, headers=AUTH)
    assert r.status_code == 422 and "k" in r.text
    r = client.get("/customers/a1/recommendations", params={"k": "many"}, headers=AUTH)
    assert r.status_code == 422
    for body in [{"offer_id": "cA", "response": "maybe"}, {"offer_id": "", "response": "accepted"},
                 {"response": "accepted"}, {"offer_id": "cA", "response": "accepted", "extra": 1}]:
        r = client.post("/customers/a1/responses", json=body, headers=AUTH)
        assert r.status_code == 422, body
        assert r.json()["detail"]
    r = client.get("/customers/a%01b/recommendations", headers=AUTH)
    assert r.status_code == 422


def test_unknown_ids_are_404(client):
    assert client.get("/customers/nobody/recommendations", headers=AUTH).status_code == 404
    assert client.get("/customers/nobody/next-best", headers=AUTH).status_code == 404
    r = client.post("/customers/a1/responses", json={"offer_id": "nope", "response": "accepted"}, headers=AUTH)
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_a_posted_response_changes_the_next_best(client, loaded):
    when = {"as_of": NOW.isoformat()}
    first = client.get("/customers/a1/next-best", params=when, headers=AUTH).json()
    assert first == next_best(loaded, "a1", now=NOW)
    assert "cA" in {o["offer_id"] for o in first["offers"]}
    r = client.post("/customers/a1/responses", json={"offer_id": "cA", "response": "rejected", "channel": "ch-sms"}, headers=AUTH)
    assert r.status_code == 201 and r.json()["response"] == "rejected"
    after = client.get("/customers/a1/next-best", params=when, headers=AUTH).json()
    assert "cA" not in {o["offer_id"] for o in after["offers"]}
    assert client.get("/customers/a1/next-best", params={"as_of": "soon"}, headers=AUTH).status_code == 422
    blocked = client.get("/customers/g/next-best", params=when, headers=AUTH).json()
    assert blocked["offers"] == [] and blocked["action"]["action"] == "resolve_ticket"


class _Broken:
    engine = "falkordb"

    def read(self, query, params=None):
        raise RuntimeError("password=hunter2 at /srv/secret/path")

    write = read

    def close(self):
        pass


def test_unexpected_errors_are_500_without_details():
    with TestClient(create_app(lambda: _Broken(), token=TOKEN), raise_server_exceptions=False) as c:
        r = c.get("/customers/a1/recommendations", headers=AUTH)
    assert r.status_code == 500
    assert r.json() == {"detail": "internal server error"}
    assert "hunter2" not in r.text and "Traceback" not in r.text


def test_view_endpoint(client, loaded, monkeypatch):
    try:
        from queries.view import customer_360
    except ImportError:
        customer_360 = None
    r = client.get("/customers/a1/view", params={"limit": 3}, headers=AUTH)
    if customer_360 is None:
        assert r.status_code == 501
    else:
        assert r.status_code == 200 and r.json()["customer_id"] == "a1"
    monkeypatch.setitem(sys.modules, "queries.view", None)  # as if the module were absent
    with TestClient(create_app(lambda: loaded, token=TOKEN)) as c:
        r = c.get("/customers/a1/view", headers=AUTH)
    assert r.status_code == 501 and "not available" in r.json()["detail"]


def test_openapi_document_lists_the_endpoints(client):
    doc = client.get("/openapi.json").json()
    assert {"/health", "/customers/{customer_id}/view", "/customers/{customer_id}/recommendations",
            "/customers/{customer_id}/next-best", "/customers/{customer_id}/responses"} <= set(doc["paths"])


def test_app_refuses_an_empty_token(loaded):
    from graph.errors import ConfigError

    with pytest.raises(ConfigError):
        create_app(lambda: loaded, token="")


def test_serve_refuses_to_start_without_a_token(cli_env, monkeypatch):
    from typer.testing import CliRunner

    from cli.main import app
    from graph.errors import ConfigError

    monkeypatch.delenv("C360_API_TOKEN", raising=False)
    out = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert out.exit_code != 0 and isinstance(out.exception, ConfigError)
    assert "C360_API_TOKEN" in str(out.exception)
