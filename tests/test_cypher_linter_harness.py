"""The Cypher linter harness can fail: it reports what Neo4j's linter reports.

The coverage tests rely on ``lint()`` returning nothing for good Cypher, so these tests
prove the opposite direction on statements known to be wrong or deprecated on Neo4j 5.
"""

from __future__ import annotations

import pytest

from support.cypher_lint import Diagnostic, lint

CLEAN = "UNWIND $rows AS r MERGE (c:Customer {customer_id: r.customer_id}) SET c += r"
SYNTAX_ERROR = "MATCH (c:Customer RETURN c"
ID_FUNCTION = "MATCH (n) RETURN id(n)"
IMPORTING_SUBQUERY = (
    "MATCH (c:Customer) CALL { WITH c MATCH (c)-[:PLACED]->(o:Order) RETURN count(o) AS n } "
    "RETURN c.customer_id AS customer_id, n"
)
UNKNOWN_FUNCTION = "RETURN no_such_function(1) AS x"
MULTILINE_ERROR = "MATCH (c:Customer)\nWHERE c.customer_id = $id\nRETURN c.name AS name,"


@pytest.fixture(scope="module")
def results() -> dict[str, list[Diagnostic]]:
    """Lint every sample in one node process (the linter takes a few seconds to start)."""
    samples = [CLEAN, SYNTAX_ERROR, ID_FUNCTION, IMPORTING_SUBQUERY, UNKNOWN_FUNCTION, MULTILINE_ERROR]
    return dict(zip(samples, lint(samples), strict=True))


def test_clean_portable_statement_has_no_findings(results):
    assert results[CLEAN] == []


def test_syntax_error_is_an_error(results):
    found = results[SYNTAX_ERROR]
    assert found and all(d.severity == "error" for d in found)
    # the parser stops at RETURN, the 19th character of the single line
    assert (found[0].line, found[0].col) == (1, SYNTAX_ERROR.index("RETURN") + 1)


def test_error_position_is_one_based_line_and_column(results):
    found = results[MULTILINE_ERROR]
    assert found and all(d.severity == "error" for d in found)
    assert found[0].line == 3


def test_id_function_is_a_deprecation(results):
    found = results[ID_FUNCTION]
    assert found, "id() must be reported"
    assert all(d.severity == "warning" and d.deprecated for d in found)
    assert any("id" in d.message for d in found)


def test_importing_call_subquery_is_a_deprecation(results):
    found = results[IMPORTING_SUBQUERY]
    assert len(found) == 1
    assert found[0].deprecated and found[0].severity == "warning"
    assert "CALL (c)" in found[0].message


def test_unknown_function_is_an_error_with_the_builtin_registry(results):
    found = results[UNKNOWN_FUNCTION]
    assert [d.severity for d in found] == ["error"]
    assert "no_such_function" in found[0].message


def test_registry_check_can_be_turned_off():
    assert lint([UNKNOWN_FUNCTION], registry=False) == [[]]


def test_empty_batch_starts_no_process():
    assert lint([]) == []
