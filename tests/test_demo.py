"""The quick start's main job, as `c360 demo` runs it, on a small sample."""

from __future__ import annotations

from pathlib import Path

from cli.main import main


def test_demo_prints_a_360_view_and_an_influence_report(cli_env, capsys, tmp_path: Path) -> None:
    data, plot = tmp_path / "sample", tmp_path / "inf.png"
    assert main(["demo", "--data", str(data), "--customers", "400", "--seed", "3", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    for heading in ("1. The graph", "Sample data", "Lifetime value", "A 360 view", "Accounts", "Timeline",
                    "Purchases", "Future", "Most influential customers"):
        assert heading in out, heading
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (data / "load-report" / "summary.json").exists()
    assert main(["demo", "--data", str(data), "--plot", str(plot)]) == 0  # a second run reuses the data
    assert "using the data already in" in capsys.readouterr().out
