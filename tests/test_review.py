"""The review UI: Datasette over the store, read-only, loopback only, described, with the canned queries,
and it loads in headless Chromium (Debian `chromium`)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_audit_support import populated

from socialwatch.compliance import review
from socialwatch.store import audit_log, inbox
from socialwatch.store.db import Store

pytestmark = pytest.mark.skipif(
    not review.available(), reason="datasette is not installed: pip install -e '.[review]' to test the review UI"
)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TITLES = ["Replies by approver", "Response times", "Edits vs suggestions", "Refused attempts", "Unanswered items"]


def _review_argv() -> list[str]:
    """`socialwatch review` once cli.py registers it; until then the same click command via its module."""
    from socialwatch.cli import main

    if "review" in getattr(main, "commands", {}):
        return [sys.executable, "-m", "socialwatch", "review"]
    return [sys.executable, "-m", "socialwatch.cli.audit", "review"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`socialwatch review` on port 0 over a populated store, as a real process; yields (url, database)."""
    path = tmp_path_factory.mktemp("review") / "socialwatch.db"
    populated(path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [*_review_argv(), "--database", str(path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the command prints its URL once it listens
        if "http://" not in line:
            proc.kill()
            pytest.fail(f"review did not start: {line}{proc.stdout.read()}")
        url = line[line.index("http://") :].split()[0]
        # Keep draining its output so a chatty server never blocks on a full pipe.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield url, path
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=20) as response:
        return json.loads(response.read())


def test_metadata_describes_every_table_and_column(tmp_path):
    """Whoever adds a table or column describes it in socialwatch/review.yaml."""
    store = Store(tmp_path / "schema.db")
    tables = review.load_metadata()["databases"][review.METADATA_DB_KEY]["tables"]
    missing: list[str] = []
    with store.db() as db:
        for name in db.table_names():
            described = tables.get(name, {})
            if not described.get("description"):
                missing.append(name)
            columns = described.get("columns", {})
            missing += [f"{name}.{c}" for c in db[name].columns_dict if not columns.get(c)]
    assert not missing, f"socialwatch/review.yaml does not describe {missing}"


def test_canned_queries_are_listed_and_run(served):
    url, _ = served
    base = url.rsplit("/", 1)[0]
    name = url.rsplit("/", 1)[1]
    listed = get_json(f"{url}.json")
    assert {q["name"] for q in listed["queries"]} >= set(review.CANNED_QUERIES)  # type: ignore[index]
    by_approver = get_json(f"{url}/replies_by_approver.json?_shape=array")
    assert {(r["approver"], r["replies"], r["edited"]) for r in by_approver} == {("alice", 1, 0), ("bob", 1, 1)}
    times = get_json(f"{url}/response_times.json?_shape=array")
    assert {r["item_key"]: r["response_minutes"] for r in times} == {"x:5000": 21.0, "x:5001": 40.0}
    edits = get_json(f"{url}/edits_vs_suggestions.json?_shape=array")
    assert [(r["suggested_text"], r["final_text"]) for r in edits] == [
        ("We are looking into it.", "So sorry about the outage, a fix is rolling out now.")
    ]
    refused = get_json(f"{url}/refused_attempts.json?_shape=array")
    assert "mallory" in [r["actor_name"] for r in refused]
    unanswered = get_json(f"{url}/unanswered_items.json?_shape=array")
    assert [r["item_key"] for r in unanswered] == ["x:5002"]
    history = get_json(f"{url}/item_history.json?_shape=array&item_key=x:5001")
    assert [r["action"] for r in history] == [
        "item.received",
        "alert.posted",
        "reply.approved",
        "reply.edited",
        "reply.sent",
    ]
    assert json.loads(history[0]["texts"])["text"] == "@acme the app has been down all morning, nothing loads"
    assert get_json(f"{base}/-/metadata.json")["databases"][name]["tables"]["items"]["columns"]["text"]


def test_new_rows_show_while_serving(served):
    """Read-only but not immutable: what the daemon writes after the UI started is visible."""
    url, path = served
    audit_log.append_audit(
        Store(path),
        "action.refused",
        actor_id="U98",
        actor_name="trudy",
        item_key="x:5000",
        details={"attempted": "dismiss"},
    )
    refused = get_json(f"{url}/refused_attempts.json?_shape=array")
    assert [r["actor_name"] for r in refused] == ["trudy", "mallory"]


def test_writes_are_refused(served):
    url, path = served
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        get_json(f"{url}.json?sql=DELETE+FROM+items")
    assert excinfo.value.code == 400
    # Even Datasette's own write path (plugins, writable canned queries) hits PRAGMA query_only.
    ds = review.build(path)
    db = ds.get_database(path.stem)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asyncio.run(db.execute_write("DELETE FROM alert_outbox"))
    assert inbox.count_items(Store(path, migrate=False)) == 3


def test_loopback_only(tmp_path):
    from socialwatch.cli.audit import review_command

    populated(tmp_path / "sw.db")
    result = CliRunner().invoke(review_command, ["--database", str(tmp_path / "sw.db"), "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "loopback only" in result.output and "ssh -L" in result.output
    for host in ("127.0.0.1", "::1", "localhost"):
        review.check_loopback(host)
    with pytest.raises(review.ReviewError):
        review.check_loopback("192.168.1.10")


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            CHROMIUM or "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)")
def test_review_ui_loads_in_headless_chromium(served, tmp_path):
    url, _ = served
    dom = _chromium("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for title in TITLES:
        assert title in dom.stdout, f"{title!r} is not on the database page"
    assert "The socialwatch store (opened read-only" in dom.stdout
    page = _chromium("--dump-dom", f"{url}/edits_vs_suggestions")
    assert "So sorry about the outage, a fix is rolling out now." in page.stdout
    assert "We are looking into it." in page.stdout
    shot = tmp_path / "review.png"
    _chromium("--window-size=1280,1400", f"--screenshot={shot}", url)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    keep = os.environ.get("SOCIALWATCH_SCREENSHOTS")
    if keep:  # for a person to look at
        shutil.copy(shot, Path(keep) / f"review-{int(time.time())}.png")
