"""Start-up: ``socialwatch run`` as systemd starts it (``Type=notify``), from process start to READY=1.

The benchmark is the service manager: it binds an AF_UNIX datagram socket, starts
``python -m socialwatch run --config <sandbox config>`` with ``NOTIFY_SOCKET`` pointing at it,
and times the ``READY=1`` datagram (and the child's CPU time at that moment, from /proc).
Then SIGTERM, and the time to a clean exit. Baselines in the same run: a bare interpreter,
and one importing everything the daemon imports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from benchmarks.common import Result, percentile, python_env, size, socialwatch_command, wall

TITLE = "Start-up (process start to READY=1, systemd notify protocol)"
IMPORTS = (
    "import socialwatch.cli, socialwatch.daemon, socialwatch.scoring.pipeline, socialwatch.sources.x, "
    "socialwatch.sources.facebook, socialwatch.store.db"
)


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _time_command(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = wall()
        subprocess.run(args, check=True, env=python_env(), stdout=subprocess.DEVNULL)
        times.append(wall() - start)
    return percentile(times, 50)


def _start_once(config: Path, tmp: Path) -> dict[str, float | None]:
    sock_path = tmp / "notify.sock"
    sock_path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    env = python_env() | {"NOTIFY_SOCKET": str(sock_path)}
    log = (tmp / "daemon.log").open("ab")
    start = wall()
    proc = subprocess.Popen(
        [*socialwatch_command(), "run", "--config", str(config)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    ready = cpu = None
    try:
        while ready is None:
            data = sock.recv(4096)
            if b"READY=1" in data.split(b"\n"):
                ready = wall() - start
                cpu = _cpu_seconds(proc.pid)
    except TimeoutError:
        pass
    finally:
        sock.close()
        stop_start = wall()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.close()
    return {"ready": ready, "cpu": cpu, "stop": wall() - stop_start, "exit": code}


def run(mode: str) -> Result:
    from socialwatch.sandbox import Sandbox

    repeat = size(mode, 7, 3, 1)
    result = Result("startup", TITLE)
    with Sandbox() as sandbox, tempfile.TemporaryDirectory(prefix="sw-bench-start-") as tmp_name:
        tmp = Path(tmp_name)
        config = sandbox.write_config(tmp / "socialwatch.toml", poll_interval=60)
        python = _time_command([socialwatch_command()[0], "-c", "pass"], repeat)
        imports = _time_command([socialwatch_command()[0], "-c", IMPORTS], repeat)
        runs = [_start_once(config, tmp) for _ in range(repeat)]
        log_tail = (tmp / "daemon.log").read_text(encoding="utf-8", errors="replace")[-2000:]
    ready = [r["ready"] for r in runs if r["ready"] is not None]
    if not ready:
        result.notes.append("READY=1 never arrived; daemon output:\n" + log_tail)
        result.add("process start to READY=1", None, "s", target="< 2 s", ok=False)
        return result
    p50 = percentile(ready, 50)
    cpu = [r["cpu"] for r in runs if r["cpu"] is not None]
    result.add(
        f"process start to READY=1 (median of {len(ready)})",
        p50,
        "s",
        "bare `python -c pass`",
        python,
        p50 / python,
        "< 2 s",
        max(ready) < 2.0,
    )
    result.add("  worst run", max(ready), "s", target="< 2 s", ok=max(ready) < 2.0)
    result.add("  CPU time of the daemon at READY=1 (median)", percentile(cpu, 50) if cpu else None, "s")
    result.add("  importing the daemon's modules (bare process)", imports, "s", "start to READY=1", p50, imports / p50)
    result.add("SIGTERM to clean exit (median)", percentile([r["stop"] for r in runs], 50), "s")
    result.details = {"runs": runs, "python_s": python, "imports_s": imports}
    exits = sorted({r["exit"] for r in runs})
    result.notes.append(
        f"`socialwatch run` against the sandbox config (X mentions and DMs, four Facebook streams, SQLite migrate "
        f"on a new file); {repeat} starts; exit status after SIGTERM: {exits}. The import baseline is one "
        "interpreter importing cli, daemon, pipeline, sources and store."
    )
    return result
