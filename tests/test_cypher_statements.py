"""Every Cypher statement the package sends: found, linted by Neo4j's own linter, built safely.

Execution on FalkorDB is proven by ``conftest.pytest_sessionfinish``: a full run fails if any
registered statement was never sent to the embedded engine by some test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from queries.registry import ENGINE_ONLY, all_statements, falkordb_statements, neo4j_statements
from support.cypher_lint import lint

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("graph", "loaders", "queries", "analytics", "cli", "api")


def _problems(statements: dict[str, str], *, registry: bool) -> list[str]:
    names = list(statements)
    results = lint([statements[n] for n in names], registry=registry)
    out = []
    for name, diags in zip(names, results):
        for d in diags:
            if d.severity == "error" or d.deprecated or d.severity == "warning":
                out.append(f"{name}: {d}")
    return out


def test_registry_finds_the_statements() -> None:
    found = all_statements()
    modules = {name.split("[")[0].rsplit(".", 1)[0] for name in found}
    assert {"graph.schema", "queries.load", "queries.identity"} <= modules
    assert len(found) >= 30
    for qual in ENGINE_ONLY:
        assert any(n == qual or n.startswith(qual + "[") for n in found), f"ENGINE_ONLY names nothing: {qual}"


def test_neo4j_linter_accepts_every_statement_sent_to_neo4j() -> None:
    problems = _problems(neo4j_statements(), registry=True)
    assert not problems, "\n".join(problems)


def test_falkordb_only_statements_parse_as_cypher() -> None:
    """FalkorDB's own procedures are unknown to Neo4j; the text must still be valid Cypher."""
    only = {n: s for n, s in falkordb_statements().items() if n not in neo4j_statements()}
    assert only
    problems = _problems(only, registry=False)
    assert not problems, "\n".join(problems)


def _graph_calls_with_built_text(path: Path) -> list[str]:
    """Calls like ``graph.read(<f-string or concatenation>)``: text built at call time."""
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"read", "write", "stream", "run", "query", "ro_query"}
            and node.args
            and isinstance(node.args[0], (ast.JoinedStr, ast.BinOp, ast.Constant))
            and not (isinstance(node.args[0], ast.Constant) and not isinstance(node.args[0].value, str))
        ):
            bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return bad


def test_no_query_text_is_built_at_call_time() -> None:
    """Statements are named constants; nothing (least of all user input) is formatted in."""
    bad = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            bad += _graph_calls_with_built_text(path)
    assert not bad, "query text built inline at: " + ", ".join(bad)


@pytest.mark.parametrize("text", ["MATCH (n) RETURN n.x AS x", "UNWIND $rows AS r RETURN r"])
def test_registry_would_see_a_new_statement(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import queries

    name = f"zz_probe_{tmp_path.name.replace('-', '_').replace('[', '_').replace(']', '_')}"
    (tmp_path / f"{name}.py").write_text(f"PROBE_QUERY = {text!r}\n")
    monkeypatch.setattr(queries, "__path__", [*queries.__path__, str(tmp_path)])
    assert all_statements()[f"queries.{name}.PROBE_QUERY"] == text
