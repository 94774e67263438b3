"""The benchmark runner still runs: every benchmark at a tiny size, output well-formed.

No timing is asserted here (speed is shown by `python -m benchmarks`, see benchmarks/README.md);
the benchmarks run concurrently, so their figures are meaningless and not looked at.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.run import BENCHMARKS

REPO = Path(__file__).resolve().parents[1]


def test_every_benchmark_runs_and_reports_well_formed_results(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--mode", "tiny", "--parallel", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["mode"] == "tiny"
    assert {"nproc", "cpu", "python", "sqlite", "date"} <= set(data["machine"])
    assert [b["name"] for b in data["benchmarks"]] == list(BENCHMARKS)
    for bench in data["benchmarks"]:
        assert not bench.get("failed"), bench
        assert bench["title"] and bench["figures"], bench["name"]
        for figure in bench["figures"]:
            assert set(figure) >= {"name", "value", "unit", "baseline", "baseline_value", "ratio", "target", "ok"}
            assert figure["value"] is None or isinstance(figure["value"], (int, float))
            assert figure["ok"] in (None, True, False)
        assert f"[{bench['name']}," in proc.stdout  # the printed table
    # The Markdown table for the READMEs renders from the file.
    markdown = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--markdown", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert markdown.returncode == 0 and "| figure | value |" in markdown.stdout
