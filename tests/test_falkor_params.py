"""Parameters reach FalkorDB verbatim on both encoding paths (single values and row batches)."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.falkor_params import _literal, params_header

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
# FalkorDB returns doubles with 15 significant digits, so the floats sent here have 12.
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**62), 2**62), st.floats(allow_nan=False, allow_infinity=False, width=64).map(lambda f: float(f"{f:.12g}")), _text)
_value = st.one_of(_scalar, st.lists(_scalar, max_size=3), st.dictionaries(st.sampled_from(["k", "v w"]), _scalar, max_size=2))
_row = st.dictionaries(st.sampled_from(["a", "b_1", "customer_id", "name", "x"]), _value, max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row, min_size=17, max_size=40), single=_text)
def test_round_trip(graph, rows, single) -> None:
    got = graph.read("RETURN $rows AS rows, $s AS s", {"rows": rows, "s": single})[0]
    assert got == {"rows": rows, "s": single}


def test_batch_path_is_faster_than_the_general_one() -> None:
    """Not a timing target: the fast path must actually be taken for a plain batch."""
    rows = [{"id": f"t-{i}", "amount": 1.5, "name": 'O"Brien\\x'} for i in range(2000)]
    header = params_header({"rows": rows})
    assert header.startswith('CYPHER `rows`=[{`id`:"t-0",`amount`:1.5,`name`:"O\\"Brien\\\\x"}')
    t0 = time.perf_counter()
    _literal(rows, "rows")
    general = time.perf_counter() - t0
    t0 = time.perf_counter()
    params_header({"rows": rows})
    fast = time.perf_counter() - t0
    assert fast < general
