"""Run the performance benchmarks, print each figure next to its same-run baseline, write results.json.

    python -m benchmarks                  # everything, full size (~26 min on 2 shared cores)
    python -m benchmarks --quick          # smaller sizes (~1.5 min)
    python -m benchmarks --only store --only latency
    python -m benchmarks --markdown       # the table of the last results.json, for the READMEs

Each benchmark runs in a fresh interpreter (clean RSS and caches, nothing leaks between them).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import MODES, REPO, Result, machine, python_env, wall

#: name -> module, in the order they run (latency last: it needs the Slack channel).
BENCHMARKS = {
    "throughput": "benchmarks.throughput",
    "store": "benchmarks.store_scale",
    "api": "benchmarks.api_cost",
    "memory": "benchmarks.memory",
    "startup": "benchmarks.startup",
    "latency": "benchmarks.latency",
}
RESULTS = Path(__file__).resolve().parent / "results.json"
HEADER = ["figure", "value", "baseline (same run)", "ratio", "target", "met"]


def run_child(name: str, mode: str) -> dict[str, Any]:
    """One benchmark in a fresh interpreter; its Result as JSON."""
    with tempfile.NamedTemporaryFile(prefix=f"sw-bench-{name}-", suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        started = wall()
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.run", "--child", name, "--mode", mode, "--child-out", str(out)],
            cwd=REPO,
            env=python_env(),
        )
        if proc.returncode != 0 or not out.stat().st_size:
            return Result(
                name,
                name,
                notes=[f"FAILED (exit status {proc.returncode}); see the output above"],
                seconds=wall() - started,
            ).to_json() | {"failed": True}
        return json.loads(out.read_text(encoding="utf-8"))
    finally:
        out.unlink(missing_ok=True)


def child(name: str, mode: str, out: Path) -> int:
    module = importlib.import_module(BENCHMARKS[name])
    started = wall()
    result: Result = module.run(mode)
    result.seconds = wall() - started
    out.write_text(json.dumps(result.to_json(), default=str), encoding="utf-8")
    return 0


def table(results: list[dict[str, Any]], markdown: bool = False) -> str:
    lines: list[str] = []
    for data in results:
        result = Result.from_json(data)
        rows = [figure.cells() for figure in result.figures]
        if markdown:
            lines.append(f"**{result.title}** ({result.seconds:.0f} s)\n")
            lines.append("| " + " | ".join(HEADER) + " |")
            lines.append("|" + "---|" * len(HEADER))
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
            lines += [""] + [f"- {note}" for note in result.notes] + [""]
        else:
            widths = [max(len(str(c)) for c in column) for column in zip(HEADER, *rows, strict=True)]
            lines.append(f"== {result.title}  [{result.name}, {result.seconds:.1f} s]")
            for row in [HEADER, *rows]:
                cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
                lines.append(("  " + "  ".join(cells)).rstrip())
            lines += [f"  * {note}" for note in result.notes] + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, ~2 minutes")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # "tiny": the smoke test's size
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these (repeatable)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"where to write the results (default {RESULTS})")
    parser.add_argument("--markdown", action="store_true", help="print the last results as Markdown and exit")
    parser.add_argument("--parallel", action="store_true", help=argparse.SUPPRESS)  # smoke test: figures meaningless
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    mode = args.mode or ("quick" if args.quick else "full")
    if args.child:
        return child(args.child, mode, args.child_out)
    if args.markdown:
        data = json.loads(args.out.read_text(encoding="utf-8"))
        m = data["machine"]
        print(
            f"Measured {m['date']} on {m['nproc']} x {m['cpu']}, Python {m['python']}, SQLite {m['sqlite']}, "
            f"{data['mode']} run, commit {m['commit']}.\n"
        )
        print(table(data["benchmarks"], markdown=True))
        return 0
    names = args.only or list(BENCHMARKS)
    info = machine()
    print(
        f"socialwatch benchmarks ({mode}) on {info['nproc']} x {info['cpu']}, Python {info['python']}, "
        f"SQLite {info['sqlite']}, load {info['load_average']}",
        flush=True,
    )
    results = []
    if args.parallel:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(names)) as pool:
            results = list(pool.map(lambda name: run_child(name, mode), names))
        print(table(results), flush=True)
    for name in names if not args.parallel else ():
        print(f"-- {name} ...", flush=True)
        data = run_child(name, mode)
        results.append(data)
        print(table([data]), flush=True)
    payload = {"mode": mode, "machine": info, "benchmarks": results}
    if args.only and args.out.exists() and args.out == RESULTS:
        # Keep the other benchmarks' last figures: --only refreshes some rows of the table.
        previous = json.loads(args.out.read_text(encoding="utf-8"))
        if previous.get("mode") == mode:
            kept = [b for b in previous.get("benchmarks", []) if b["name"] not in names]
            order = list(BENCHMARKS)
            payload["benchmarks"] = sorted(
                kept + results, key=lambda b: order.index(b["name"]) if b["name"] in order else len(order)
            )
    args.out.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"results written to {args.out}")
    return 1 if any(r.get("failed") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
