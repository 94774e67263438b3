"""Store at scale: insert rate, bytes per item, the daemon's and the operators' queries, and
whether the database stays usable (status, review queries) while the daemon writes.

Items are assessed by the real pipeline once (a pool of distinct synthetic tweets), then stored
through ``Store.ingest`` under new ids, authors and times, one transaction per page of 100, as
the daemon stores them (items, authors, alert outbox, audit chain). After the load, operators'
work is simulated: every item that needed a reply except the newest few thousand is marked
replied, every alert but the newest 50 posted, as in a database that has run for months.

Baselines, in the same run: for inserts, plain ``executemany`` of the same item rows into a
copy of the items table (same indexes and pragmas, no authors, outbox or audit); for queries,
opening a connection and ``SELECT 1`` (every Store call opens its own connection).
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import synth
from benchmarks.common import Result, cpu, insert_item_rows, percentile, python_env, size, socialwatch_command, wall
from socialwatch.store import alert_outbox, author_history, inbox, sla_state

TITLE = "Store at scale (insert rate, size, queries, reads while writing)"
PAGE = 100
SOURCE = "x:acme:mentions"
OPEN_BACKLOG = 2_000  # items still waiting for a reply at the end of the load
PENDING_ALERTS = 50
START = datetime(2026, 1, 1, tzinfo=UTC)
#: The canned review queries (socialwatch/review.yaml) that can touch every row.
REVIEW_QUERIES = {
    "review: unanswered_items": """
        SELECT platform || ':' || native_id AS item_key, priority, category, status, created_at AS posted_at,
               received_at, alerted_at, sla_due_at,
               CASE WHEN sla_due_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now') THEN 'overdue' ELSE 'due' END AS sla,
               assigned_to, author_handle, text, url
        FROM items
        WHERE needs_reply = 1 AND first_reply_at IS NULL AND status NOT IN ('dismissed', 'no_action', 'replied')
        ORDER BY sla_due_at LIMIT 1001""",
    "review: item_history": """
        SELECT a.seq, a.ts, a.actor_name, a.action, a.details,
               (SELECT json_group_object(c.field, c.text) FROM audit_content c WHERE c.seq = a.seq) AS texts
        FROM audit a WHERE a.item_key = :item_key ORDER BY a.seq LIMIT 1001""",
}


def _pool(count: int) -> list[tuple[Any, Any]]:
    from socialwatch.config.schema import Config
    from socialwatch.scoring.pipeline import Pipeline
    from socialwatch.sources.x import tweet_to_item

    pipeline = Pipeline(Config())
    payloads = list(synth.tweets(count, seed=7))
    users = {user["id"]: user for _, user in payloads}
    items = [tweet_to_item(tweet, users, "acme") for tweet, _ in payloads]
    return pipeline.assess_batch(items, {})


class Feeder:
    """Endless pages of new items (new ids, authors, times) reusing the pool's assessments."""

    def __init__(self, pool: list[tuple[Any, Any]], authors: int, seed: int = 1) -> None:
        from socialwatch.models import Author

        self.pool = pool
        self.authors = [Author(str(50_000 + a), f"cust{a}", f"Customer {a}", 100 + a % 5000) for a in range(authors)]
        self.rng = random.Random(seed)
        self.count = 0

    def page(self) -> tuple[list[Any], datetime]:
        from socialwatch.models import Processed

        batch = []
        for _ in range(PAGE):
            index = self.count
            self.count += 1
            item, assessment = self.pool[index % len(self.pool)]
            native_id = str(2_000_000_000_000_000_000 + index)
            created = START + timedelta(seconds=30 * index)  # ~2,900 items a day: 1M is about a year
            author = self.authors[int(len(self.authors) * self.rng.random() ** 2)]
            # The assessment's SLA moves with the item: due the same time after its (new) creation.
            due = assessment.sla_due_at and created + (assessment.sla_due_at - item.created_at)
            raw = dict(
                item.raw,
                id=native_id,
                conversation_id=native_id,
                author_id=author.id,
                created_at=created.isoformat().replace("+00:00", "Z"),
                edit_history_tweet_ids=[native_id],
            )
            item = replace(
                item,
                native_id=native_id,
                conversation_id=native_id,
                created_at=created,
                author=author,
                raw=raw,
                url=f"https://x.com/{author.handle}/status/{native_id}",
            )
            batch.append(Processed(item, replace(assessment, sla_due_at=due), assessment.needs_attention, SOURCE))
        return batch, batch[-1].item.created_at + timedelta(seconds=5)


def _timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = wall()
        fn()
        times.append((wall() - start) * 1000)
    return times


def _baseline_inserts(path: Path, pages: list[list[Any]]) -> float:
    """Plain executemany of the same item rows into the items table of a new database file (same schema,
    indexes and pragmas; no authors, outbox or audit), one transaction per page: items/s."""
    from socialwatch.models import iso
    from socialwatch.store.db import Store, connect

    Store(path).close()  # the schema, every migration
    conn = connect(path)
    try:
        start = wall()
        for page in pages:
            insert_item_rows(conn, page, iso(page[-1].item.created_at))
        return sum(len(p) for p in pages) / (wall() - start)
    finally:
        conn.close()


def _simulate_operators(path: Path, now: datetime) -> dict[str, int]:
    from socialwatch.models import iso
    from socialwatch.store.db import connect

    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        newest = conn.execute(
            "SELECT id FROM items WHERE needs_reply = 1 ORDER BY id DESC LIMIT 1 OFFSET ?", [OPEN_BACKLOG]
        ).fetchone()
        replied = conn.execute(
            "UPDATE items SET status = 'replied', first_reply_at = ? WHERE needs_reply = 1 AND id <= ?",
            [iso(now), newest[0] if newest else 0],
        ).rowcount
        handled = conn.execute(
            "UPDATE items SET status = 'dismissed' WHERE status IN ('open', 'alerted') AND needs_reply = 0 AND id <= ?",
            [newest[0] if newest else 0],
        ).rowcount
        last = conn.execute(
            "SELECT id FROM alert_outbox ORDER BY id DESC LIMIT 1 OFFSET ?", [PENDING_ALERTS]
        ).fetchone()
        posted = conn.execute(
            "UPDATE alert_outbox SET status = 'posted', posted_at = created_at WHERE id <= ?", [last[0] if last else 0]
        ).rowcount
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {"replied": replied, "dismissed": handled, "alerts_posted": posted}
    finally:
        conn.close()


def _plans(path: Path) -> dict[str, list[str]]:
    from socialwatch.store.db import connect

    queries = {
        "author_items": "SELECT * FROM items WHERE author_key = 'x:1' ORDER BY created_at DESC LIMIT 20",
        "histories": "SELECT key FROM authors WHERE key IN ('a', 'b')",
        "due_alerts": "SELECT o.id FROM alert_outbox o JOIN items i ON i.id = o.item_id WHERE o.status = 'pending' "
        "AND o.next_attempt_at <= '2030' ORDER BY o.id LIMIT 50",
        "open_items": "SELECT * FROM items WHERE status IN ('open', 'alerted') AND needs_reply = 1 ORDER BY CASE "
        "priority WHEN 'urgent' THEN 0 ELSE 4 END, sla_due_at LIMIT 100",
        "open_counts": "SELECT COUNT(*), COALESCE(SUM(sla_due_at < '2030'), 0) FROM items "
        "WHERE status IN ('open', 'alerted') AND needs_reply = 1",
        **{name: sql for name, sql in REVIEW_QUERIES.items()},
    }
    conn = connect(path, readonly=True)
    try:
        return {
            name: [
                row[3]
                for row in conn.execute("EXPLAIN QUERY PLAN " + sql, {"item_key": "x:1"} if ":item_key" in sql else ())
            ]
            for name, sql in queries.items()
        }
    finally:
        conn.close()


def _review_query(path: Path, sql: str, params: dict[str, Any]) -> Callable[[], Any]:
    def run() -> Any:
        # As Datasette opens it for `socialwatch review`: read-only URI, query_only.
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            conn.execute("PRAGMA query_only = 1")
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    return run


def run(mode: str) -> Result:
    from socialwatch.ops import health
    from socialwatch.store.db import Store, connect

    n = size(mode, 1_000_000, 50_000, 1_000)
    repeat = size(mode, 300, 200, 5)
    result = Result("store", TITLE)
    pool = _pool(size(mode, 5_000, 3_000, 200))
    authors = max(50, n // 5)
    feeder = Feeder(pool, authors)
    with tempfile.TemporaryDirectory(prefix="sw-bench-store-") as tmp:
        path = Path(tmp) / "store.db"
        store = Store(path)
        # -- the load ------------------------------------------------------------------------
        first = min(n, 100_000)  # the plain baseline inserts as many into an empty table
        c0, w0 = cpu(), wall()
        now = START
        first_wall = 0.0
        last_wall, last_start = 0.0, wall()
        for page_number in range(n // PAGE):
            if page_number * PAGE == n - first:
                last_start = wall()
            batch, now = feeder.page()
            inbox.ingest(store, SOURCE, batch, batch[-1].item.native_id, now=now)
            if (page_number + 1) * PAGE == first:
                first_wall = wall() - w0
        last_wall = wall() - last_start
        load_cpu, load_wall = cpu() - c0, wall() - w0
        other = Feeder(pool, authors, seed=2)
        baseline_pages = [other.page()[0] for _ in range(first // PAGE)]
        plain_rate = _baseline_inserts(Path(tmp) / "plain.db", baseline_pages)
        operators = _simulate_operators(path, now)
        conn = connect(path)
        try:
            tables = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
        finally:
            conn.close()
        file_bytes = sum(p.stat().st_size for p in Path(tmp).glob("store.db*"))  # WAL truncated by then
        rate = n / load_wall
        result.add(
            f"insert rate, first {first:,} (Store.ingest, pages of 100)",
            first / first_wall,
            "items/s",
            "plain executemany, same count",
            plain_rate,
            first / first_wall / plain_rate,
        )
        result.add(f"insert rate, all {n:,} (last {first:,}: {first / last_wall:,.0f}/s)", rate, "items/s")
        result.add("insert CPU per item", load_cpu / n * 1e6, "us")
        result.add("bytes per item (file size / items)", file_bytes / n, "B/item")
        # -- queries -------------------------------------------------------------------------
        rng = random.Random(5)
        keys = [a.id for a in feeder.authors]
        connect_ms = _timed(lambda: _select_one(path), repeat)
        later = now + timedelta(hours=1)
        queries: dict[str, Callable[[], Any]] = {
            "Store.histories (100 authors)": lambda: author_history.histories(
                store, [f"x:{rng.choice(keys)}" for _ in range(PAGE)]
            ),
            "Store.author_items (20 newest)": lambda: author_history.author_items(store, f"x:{rng.choice(keys[:200])}"),
            "Store.due_alerts": lambda: alert_outbox.due_alerts(store, later),
            "Store.open_items (100)": lambda: inbox.open_items(store),
            "Store.open_counts": lambda: inbox.open_counts(store, later),
            "health.assess (all of `status`)": lambda: health.assess(store, later, timedelta(minutes=30)),
        }
        item_key = f"x:{feeder.count and 2_000_000_000_000_000_000 + feeder.count // 2}"
        queries["sla.open_timers (SLA job)"] = lambda: sla_state.open_timers(store)
        queries["review: unanswered_items"] = _review_query(path, REVIEW_QUERIES["review: unanswered_items"], {})
        queries["review: item_history"] = _review_query(
            path, REVIEW_QUERIES["review: item_history"], {"item_key": item_key}
        )
        base_p50, base_p99 = percentile(connect_ms, 50), percentile(connect_ms, 99)
        timings: dict[str, dict[str, float]] = {}
        for name, fn in queries.items():
            fn()  # warm: the first call pays for reading pages into the OS cache
            ms = _timed(fn, repeat)
            p50, p99 = percentile(ms, 50), percentile(ms, 99)
            timings[name] = {"p50": p50, "p99": p99, "max": max(ms)}
            result.add(
                f"{name}: p99 (p50 {p50:.2f} ms)",
                p99,
                "ms",
                "connect + SELECT 1 p99",
                base_p99,
                p99 / base_p99,
                "p99 < 5 ms",
                p99 < 5.0,
            )
        # -- usable while the daemon writes --------------------------------------------------------
        busy = _while_writing(path, queries, size(mode, 15.0, 6.0, 1.0), tmp, idle_runs=1 if mode == "tiny" else 3)
        result.add("reads while a writer inserts: errors", busy["errors"], "errors", target="0", ok=busy["errors"] == 0)
        result.add(
            "  read p99 while writing (all queries above)",
            busy["read_p99"],
            "ms",
            "idle p99",
            max(t["p99"] for t in timings.values()),
            None,
        )
        result.add(
            "  `socialwatch status --json` while writing",
            busy["status_p50"],
            "s",
            "same, idle",
            busy["status_idle"],
            busy["status_p50"] / busy["status_idle"],
        )
        result.add(
            "  writer's insert rate meanwhile",
            busy["writer_rate"],
            "items/s",
            "alone",
            rate,
            busy["writer_rate"] / rate,
        )
        result.details = {
            "items": n,
            "authors": authors,
            "load_cpu_s": load_cpu,
            "load_wall_s": load_wall,
            "file_bytes": file_bytes,
            "first_wall_s": first_wall,
            "last_wall_s": last_wall,
            "bytes_by_table": tables,
            "operators": operators,
            "queries_ms": timings,
            "connect_select1_ms": {"p50": base_p50, "p99": base_p99},
            "query_plans": _plans(path),
            "busy": busy,
        }
        big = sorted(tables.items(), key=lambda kv: -kv[1])[:4]
        result.notes.append(
            f"{n:,} items from {authors:,} authors ({len(pool):,} distinct assessed texts reused), then "
            f"{operators['replied']:,} marked replied and all but {PENDING_ALERTS} alerts posted, leaving "
            f"{OPEN_BACKLOG:,} open. Largest tables: " + ", ".join(f"{k} {v / n:,.0f} B/item" for k, v in big) + "."
        )
        result.notes.append(
            f"Query times are wall time of the Store call, connection open included (p99 of {repeat}); baseline: "
            f"open a connection + SELECT 1 (p50 {base_p50:.2f} ms). While writing: {busy['reads']:,} reads and "
            f"{busy['status_runs']} `status` runs during {busy['seconds']:.0f} s of continuous ingest."
        )
    return result


def _select_one(path: Path) -> None:
    from socialwatch.store.db import connect

    conn = connect(path)
    try:
        conn.execute("SELECT 1").fetchone()
    finally:
        conn.close()


def _while_writing(
    path: Path, queries: dict[str, Callable[[], Any]], seconds: float, tmp: str, idle_runs: int = 3
) -> dict[str, Any]:
    """A writer process (the daemon's role) ingests continuously while this process reads and
    `socialwatch status` runs, as operators would."""
    config = Path(tmp) / "status.toml"
    config.write_text(f'[daemon]\ndatabase = "{path}"\n', encoding="utf-8")
    status_cmd = [*socialwatch_command(), "status", "--json", "--config", str(config)]
    idle_status = []
    for _ in range(idle_runs):
        s = wall()
        subprocess.run(status_cmd, capture_output=True, env=python_env())
        idle_status.append(wall() - s)
    errors: list[str] = []
    read_ms: list[float] = []
    status_s: list[float] = []
    writer = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.store_scale", "--writer", str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    assert writer.stdout is not None
    if writer.stdout.readline().strip() != "writing":  # the writer is ready and has started its first page
        raise RuntimeError("the writer process did not start")
    started = wall()
    names = list(queries)
    index = 0
    next_status = started
    while writer.poll() is None and wall() - started < seconds:
        if wall() >= next_status:
            s = wall()
            proc = subprocess.run(status_cmd, capture_output=True, text=True, env=python_env())
            status_s.append(wall() - s)
            if proc.returncode not in (0, 2) or not proc.stdout.strip().startswith("{"):
                errors.append(f"status exit {proc.returncode}: {proc.stderr[-300:]}")
            next_status = wall() + seconds / 3
            continue
        fn = queries[names[index % len(names)]]
        index += 1
        s = wall()
        try:
            fn()
        except Exception as exc:  # counted and reported: the point of this test
            errors.append(repr(exc))
        read_ms.append((wall() - s) * 1000)
    out, _ = writer.communicate(timeout=120)
    report = json.loads(out.strip().splitlines()[-1])
    elapsed = report["seconds"]
    return {
        "errors": len(errors) + len(report["errors"]),
        "error_samples": (errors + report["errors"])[:5],
        "reads": len(read_ms),
        "read_p50": percentile(read_ms, 50) if read_ms else None,
        "read_p99": percentile(read_ms, 99) if read_ms else None,
        "status_runs": len(status_s),
        "status_p50": percentile(status_s, 50) if status_s else None,
        "status_idle": percentile(idle_status, 50),
        "writer_items": report["items"],
        "writer_rate": report["items"] / elapsed,
        "seconds": elapsed,
    }


def _writer(path: Path, seconds: float) -> None:
    """The writer process: pages of new items through Store.ingest until ``seconds`` have passed."""
    from socialwatch.store.db import Store

    store = Store(path, migrate=False)
    feeder = Feeder(_pool(300), 5_000, seed=3)
    feeder.count = 10**9  # ids far above the load's
    errors: list[str] = []
    items = 0
    now = datetime.now(UTC)
    print("writing", flush=True)
    started = wall()
    while wall() - started < seconds:
        batch, _ = feeder.page()
        try:
            items += inbox.ingest(store, SOURCE, batch, batch[-1].item.native_id, now=now).new
        except Exception as exc:  # counted and reported
            errors.append(repr(exc))
    print(json.dumps({"items": items, "seconds": wall() - started, "errors": errors[:5]}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--writer":
        _writer(Path(sys.argv[2]), float(sys.argv[3]))
