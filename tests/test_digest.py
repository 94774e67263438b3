"""The daily digest and `socialwatch report` on a seeded week: figures checked against the seed
plan, the Slack post and its chart uploads (files_upload_v2) in the sandbox's Slack emulator, the HTML
report as one self-contained file, the digest without matplotlib, and the daemon's charts drawn in a
child process (the same PNGs; matplotlib never imported by the daemon; a failing child costs only the
charts)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import builders
import pytest
from click.testing import CliRunner
from slack_sdk import WebClient

from socialwatch.alerts.slack import SlackPoster
from socialwatch.cli import main
from socialwatch.config.load import parse_config
from socialwatch.config.schema import Config
from socialwatch.models import Assessment, Item, Kind, Processed, iso
from socialwatch.reports import charts, daily, render, summary
from socialwatch.sandbox import Sandbox
from socialwatch.scoring.pipeline import Pipeline
from socialwatch.store import audit_log, inbox, incident_log
from socialwatch.store.db import Store

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # Sunday 1 March, 09:00 in Berlin
NOW = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # Monday 9 March, 09:00 in Berlin: digest time
PERIOD = (NOW - timedelta(hours=24), NOW)
NEGATIVE = [
    "@acme app is down again, nothing loads",
    "@acme you charged me twice, I want my money back",
    "@acme my parcel never arrived, terrible service",
    "@acme 503 error all morning, fix it",
]
NEUTRAL = ["@acme how do I change my delivery address?", "@acme when will the new plan be available?"]
POSITIVE = ["@acme thanks, love the new update!", "Great support today, thank you @acme"]
DELAYS = [4, 12, 30, 50, 120, 400, 900]  # minutes to the first reply


@dataclass
class Seeded:
    path: Path
    config: Config
    plan: list[tuple[Item, Assessment, datetime | None]]  # item, its assessment, when it was answered
    dismissed: set[str]


def make_config(**digest_keys: Any) -> Config:
    return parse_config({"daemon": {"timezone": "Europe/Berlin"}, "digest": {"time": "09:00", "top": 5, **digest_keys}})


def _item(n: int, text: str, created: datetime, rng: random.Random, author: str | None = None) -> Item:
    platform, kind = rng.choice(
        [("x", Kind.MENTION), ("x", Kind.DM), ("facebook", Kind.COMMENT), ("facebook", Kind.DM)]
    )
    if author:
        platform, kind = "x", Kind.MENTION
    body = text.replace("@acme ", "") if kind is Kind.DM else text
    return builders.item(
        body,
        platform=platform,
        kind=kind,
        native_id=f"{platform[:2]}{n}",
        author_id=author or f"u{n}",
        handle=author or f"user{n}",
        name=None,
        followers=20,
        created=created,
        url=None if kind is Kind.DM else f"https://example.com/p/{n}",
    )


def seed(path: Path) -> Seeded:
    """A week and a day of traffic: 24 items a day (more negative in the last day), replies after random
    delays (some never), an outage spike grouped into an incident, one repeat complainer, one dismissal."""
    config = make_config()
    rng = random.Random(2026)
    pipeline = Pipeline(config, detect=lambda text: "en")
    items: list[Item] = []
    n = 0
    for day in range(8):
        negative_share = 0.5 if day == 7 else 0.3
        for _ in range(24):
            n += 1
            roll = rng.random()
            pool = NEGATIVE if roll < negative_share else NEUTRAL if roll < negative_share + 0.3 else POSITIVE
            created = START + timedelta(days=day, minutes=rng.randrange(0, 24 * 60))
            items.append(_item(n, rng.choice(pool), created, rng))
    spike = [(_item(1000 + i, NEGATIVE[0], datetime(2026, 3, 8, 13, 4 * i, tzinfo=UTC), rng)) for i in range(12)]
    al = [
        _item(2000 + i, NEGATIVE[1], datetime(2026, 3, 8, hour, 0, tzinfo=UTC), rng, author="al")
        for i, hour in enumerate((9, 11, 17))
    ]
    store = Store(path)
    assessed = pipeline.assess_batch(items + spike + al, {})
    inbox.ingest(
        store,
        "seed",
        [Processed(i, a, alert=a.needs_attention, source="seed") for i, a in assessed],
        None,
        now=START + timedelta(days=8),
    )
    plan: list[tuple[Item, Assessment, datetime | None]] = []
    with store.transaction() as db:
        conn = db.conn
        ids = {f"{r[1]}:{r[2]}": r[0] for r in conn.execute("SELECT id, platform, native_id FROM items")}
        for item, assessment in assessed:
            item_id = ids[item.key]
            if assessment.needs_attention:
                # The alert went out a minute after the post (what dispatch + mark_alert_posted record).
                alerted = iso(item.created_at + timedelta(minutes=1))
                conn.execute(
                    "UPDATE alert_outbox SET status = 'posted', posted_at = ?, slack_channel = 'C0SBXALERT', "
                    "slack_ts = ? WHERE item_id = ?",
                    [alerted, f"1700000000.{item_id:06d}", item_id],
                )
                conn.execute("UPDATE items SET alerted_at = ?, status = 'alerted' WHERE id = ?", [alerted, item_id])
            sent = None
            if assessment.needs_reply and rng.random() > 0.15:
                candidate = item.created_at + timedelta(minutes=rng.choice(DELAYS))
                sent = candidate if candidate <= NOW else None
            if sent is not None:
                # As the reply sender records a manager's reply: outbox row sent, item replied.
                conn.execute(
                    "INSERT INTO reply_outbox (item_id, dedupe_key, text, approved_by, approved_by_name, approved_at, "
                    "status, origin, sent_at, platform_reply_id) VALUES (?, ?, 'Sorry!', 'U0APPROVER', 'alex', ?, "
                    "'sent', 'manager', ?, ?)",
                    [item_id, item.key, iso(sent), iso(sent), f"r{item_id}"],
                )
                conn.execute(
                    "UPDATE items SET first_reply_at = ?, status = 'replied' WHERE id = ?", [iso(sent), item_id]
                )
            plan.append((item, assessment, sent))
    # One unanswered complaint of the period is dismissed (not ours to answer): it leaves the SLA figures.
    dismissed = next(i for i, a, s in plan if a.needs_reply and s is None and PERIOD[0] <= i.created_at < NOW)
    assert inbox.dismiss_item(
        store,
        ids[dismissed.key],
        actor_id="U0APPROVER",
        actor_name="alex",
        reason="not ours",
        now=NOW - timedelta(hours=1),
    )
    outbox = [
        r["id"]
        for r in _rows(
            store,
            "SELECT o.id FROM alert_outbox o JOIN items i ON i.id = o.item_id "
            "WHERE i.native_id LIKE '%100_' OR i.native_id LIKE '%101_'",
        )
    ]
    incident_log.open_incident(store, "outage", outbox, now=datetime(2026, 3, 8, 13, 20, tzinfo=UTC))
    return Seeded(path, config, plan, {dismissed.key})


def _rows(store: Store, sql: str) -> list[dict[str, Any]]:
    with store.db() as db:
        return [dict(r) for r in db.execute(sql).fetchall()]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(tmp_path_factory.mktemp("digest") / "sw.db")


class RecordingPoster(SlackPoster):
    """The real SlackPoster, remembering what it uploaded (to compare with what Slack stored)."""

    uploaded: list[tuple[str, bytes]]

    def upload(
        self, channel: str, files: list[tuple[str, bytes]], *, comment: str, thread_ts: str | None = None
    ) -> None:
        self.uploaded = list(files)
        super().upload(channel, files, comment=comment, thread_ts=thread_ts)


def expected(seeded: Seeded) -> dict[str, Any]:
    """The period's figures computed from the seed plan, independently of the digest's SQL."""
    in_period = [(i, a, s) for i, a, s in seeded.plan if PERIOD[0] <= i.created_at < PERIOD[1]]
    counted = [(i, a, s) for i, a, s in in_period if a.needs_reply and i.key not in seeded.dismissed]
    met = sum(1 for i, a, s in counted if s is not None and a.sla_due_at is not None and s <= a.sla_due_at)
    breached = sum(
        1
        for i, a, s in counted
        if (s is not None and a.sla_due_at is not None and s > a.sla_due_at)
        or (s is None and a.sla_due_at is not None and a.sla_due_at <= NOW)
    )
    minutes = [(s - i.created_at).total_seconds() / 60 for i, a, s in in_period if a.needs_reply and s is not None]
    return {
        "total": len(in_period),
        "negative": sum(1 for _, a, _ in in_period if a.sentiment.label == "negative"),
        "met": met,
        "breached": breached,
        "minutes": minutes,
        "waiting": sum(1 for i, a, s in counted if s is None),
        "previous_negative_share": sum(
            1
            for i, a, _ in seeded.plan
            if i.created_at < PERIOD[0]
            and i.created_at >= PERIOD[0] - timedelta(days=7)
            and a.sentiment.label == "negative"
        )
        / sum(1 for i, _, _ in seeded.plan if PERIOD[0] - timedelta(days=7) <= i.created_at < PERIOD[0]),
    }


# --- the figures ------------------------------------------------------------------------------------


def test_digest_figures_match_the_seeded_week(seeded: Seeded) -> None:
    want = expected(seeded)
    result = summary.build(Store(seeded.path, migrate=False), seeded.config, *PERIOD, BERLIN, now=NOW)
    assert result.total == want["total"] == 24 + 12 + 3
    assert result.sentiment["negative"] == want["negative"]
    assert sum(result.by_platform.values()) == result.total and set(result.by_kind) <= {"mention", "dm", "comment"}
    assert result.sla.met == want["met"] and result.sla.breached == want["breached"] and want["breached"] > 0
    assert result.sla.compliance == pytest.approx(want["met"] / (want["met"] + want["breached"]))
    assert result.sla.median_minutes == pytest.approx(statistics.median(want["minutes"]))
    assert result.sla.p90_minutes == pytest.approx(statistics.quantiles(want["minutes"], n=10, method="inclusive")[8])
    # The alert went out a minute after each post.
    assert result.sla.median_from_alert_minutes == pytest.approx(statistics.median(want["minutes"]) - 1)
    assert result.unanswered_total == want["waiting"] and len(result.unanswered) == 5
    assert all(w.overdue for w in result.unanswered[:1])
    # More negative than the week before: the trend says so, in percentage points.
    assert result.previous_share["negative"] == pytest.approx(want["previous_negative_share"])
    assert result.trend_points["negative"] == pytest.approx(
        round((want["negative"] / want["total"] - want["previous_negative_share"]) * 100, 1)
    )
    assert result.trend_points["negative"] > 10
    assert result.repeat_authors[0].author == "@al" and result.repeat_authors[0].negative == 3
    assert result.categories[0].name == "outage"  # the spike makes outage the top negative category
    kinds = {(s.kind, s.category) for s in result.spikes}
    assert ("incident", "outage") in kinds and ("hour", "outage") in kinds
    hour = next(s for s in result.spikes if s.kind == "hour")
    assert hour.start == "2026-03-08T13:00:00.000000Z" and hour.negative >= 12
    assert len(result.timeline) == 24 and sum(sum(c.values()) for _, c in result.timeline) == result.total
    text = render.render_text(result)
    assert "Response times (SLA)" in text and f"{result.sla.met} met, {result.sla.breached} breached" in text
    assert json.loads(render.render_json(result))["sla"]["met"] == want["met"]


def test_post_daily_posts_blocks_and_uploads_the_charts_once(
    seeded: Seeded, sandbox: Sandbox, slack: tuple[WebClient, dict[str, Any]]
) -> None:
    client, info = slack
    config = make_config(channel=info["channel"])
    store = Store(seeded.path, migrate=False)
    poster = RecordingPoster(client)
    posted = daily.post_daily(store, config, poster, NOW + timedelta(minutes=5))
    assert posted is not None and posted.period == "2026-03-09T09:00"
    assert posted.charts == ("sentiment.png", "response-times.png")
    history = client.conversations_history(channel=info["channel"])["messages"]
    message = next(m for m in history if m["ts"] == posted.ts)
    assert message["text"].startswith("Social digest:")
    headers = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert any(h.startswith("*Response times (SLA)*") for h in headers)
    with urllib.request.urlopen(f"{sandbox.url}/_sandbox/slack/files", timeout=5) as resp:
        files = json.loads(resp.read())["files"]
    assert sorted(f["filename"] for f in files) == ["response-times.png", "sentiment.png"]
    assert all(f["completed"] for f in files)
    sent = {name: hashlib.sha256(data).hexdigest() for name, data in poster.uploaded}
    assert {f["filename"]: f["sha256"] for f in files} == sent
    thread = client.conversations_replies(channel=info["channel"], ts=posted.ts)["messages"]
    assert len(thread) == 2 and len(thread[1]["files"]) == 2  # the charts, shared in the digest's thread

    # Running again (the job runs often; a restart) posts nothing more for this period.
    assert daily.post_daily(Store(seeded.path, migrate=False), config, poster, NOW + timedelta(hours=3)) is None
    entries = [
        r
        for r in audit_log.audit_rows(store)
        if r["action"] == "digest.posted" and r["data"]["period"] == "2026-03-09T09:00"
    ]
    assert len(entries) == 1 and entries[0]["data"]["charts"] == ["sentiment.png", "response-times.png"]


def test_html_report_is_one_self_contained_file(seeded: Seeded, tmp_path: Path) -> None:
    before = hashlib.sha256(seeded.path.read_bytes()).hexdigest()
    out = tmp_path / "report.html"
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "report",
            "--database",
            str(seeded.path),
            "--since",
            "2026-03-02",
            "--until",
            "2026-03-08",
            "--tz",
            "Europe/Berlin",
            "--format",
            "html",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    page = out.read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 2 and all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    # Self-contained: nothing is fetched when the file is opened.
    assert not re.search(r"<(script|link|iframe)\b", page) and "src='http" not in page and 'src="http' not in page
    assert "@import" not in page and "url(" not in page
    assert "Response times by priority" in page and "Mon 02 Mar 00:00" in page
    # JSON and text from the same command; the database was only read.
    as_json = json.loads(
        runner.invoke(
            main,
            [
                "report",
                "--database",
                str(seeded.path),
                "--since",
                "2026-03-08T09:00",
                "--until",
                "2026-03-09T09:00",
                "--tz",
                "Europe/Berlin",
                "--format",
                "json",
            ],
        ).output
    )
    assert as_json["total"] == expected(seeded)["total"] and as_json["since"] == iso(PERIOD[0])
    text = runner.invoke(main, ["report", "--database", str(seeded.path), "--since", "2026-03-01"]).output
    assert text.startswith("socialwatch report:") and "Unanswered" in text
    bad = runner.invoke(main, ["report", "--database", str(seeded.path), "--since", "yesterday"])
    assert bad.exit_code == 2 and "not a date or time" in bad.output
    assert hashlib.sha256(seeded.path.read_bytes()).hexdigest() == before


def test_without_matplotlib_the_digest_goes_out_without_charts(
    seeded: Seeded,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    slack: tuple[WebClient, dict[str, Any]],
    sandbox: Sandbox,
) -> None:
    client, info = slack
    monkeypatch.setattr(charts, "available", lambda: False)
    result = summary.build(Store(seeded.path, migrate=False), seeded.config, *PERIOD, BERLIN, now=NOW)
    with caplog.at_level(logging.INFO, logger="socialwatch.reports.render"):
        assert render.render_charts(result) == {}
    assert "matplotlib is not installed" in caplog.text
    page = render.render_html(result)
    assert "data:image/png" not in page and "Charts need matplotlib" in page
    posted = daily.post_daily(
        Store(seeded.path, migrate=False),
        make_config(channel=info["channel"]),
        SlackPoster(client),
        NOW + timedelta(days=1),
        force=True,
    )
    assert posted is not None and posted.charts == ()
    with urllib.request.urlopen(f"{sandbox.url}/_sandbox/slack/files", timeout=5) as resp:
        assert json.loads(resp.read())["files"] == []


def test_charts_show_the_data(seeded: Seeded) -> None:
    result = summary.build(Store(seeded.path, migrate=False), seeded.config, *PERIOD, BERLIN, now=NOW)
    images = render.render_charts(result)
    from PIL import Image  # matplotlib's own dependency

    for name, data in images.items():
        picture = Image.open(io.BytesIO(data)).convert("RGB")
        assert picture.width > 600 and picture.height > 250, name
        colours = {colour for _, colour in picture.getcolors(maxcolors=1 << 20)}
        # The negative bars (sentiment) and the SLA target ticks (response times) are drawn in red.
        assert (214, 69, 69) in colours, name
    empty = summary.build(
        Store(seeded.path, migrate=False),
        seeded.config,
        NOW + timedelta(days=30),
        NOW + timedelta(days=31),
        BERLIN,
        now=NOW,
    )
    assert empty.total == 0 and set(render.render_charts(empty)) == {"sentiment.png", "response-times.png"}


# --- charts in a child process (the daemon never imports matplotlib) -----------


def _copy(seeded: Seeded, tmp_path: Path) -> Path:
    """A copy of the seeded database (WAL included), for tests that post a digest of their own."""
    target = tmp_path / "copy.db"
    source, copy = sqlite3.connect(seeded.path), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    return target


def _fake_python(tmp_path: Path, body: str) -> str:
    """An executable standing in for the chart process's interpreter (it ignores its arguments)."""
    path = tmp_path / "fake-python"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_charts_from_the_child_process_are_the_same_pngs(seeded: Seeded) -> None:
    result = summary.build(Store(seeded.path, migrate=False), seeded.config, *PERIOD, BERLIN, now=NOW)
    spec = render.chart_spec(result)
    assert json.loads(json.dumps(spec)) == spec  # JSON values only: nothing pickled, nothing lost
    in_process = render.render_charts(result, in_process=True)
    child = render.render_charts(result)  # the daemon's path
    assert list(child) == ["sentiment.png", "response-times.png"]
    assert child == in_process  # byte for byte: same filenames, same images
    empty = summary.build(
        Store(seeded.path, migrate=False),
        seeded.config,
        NOW + timedelta(days=30),
        NOW + timedelta(days=31),
        BERLIN,
        now=NOW,
    )
    assert render.render_charts(empty) == render.render_charts(empty, in_process=True)


DAEMON_DIGEST = """
import json, sys
from datetime import datetime
import socialwatch.daemon  # everything the daemon imports

from socialwatch.config.load import parse_config
from socialwatch.store.db import Store
from socialwatch.reports import daily

before = "matplotlib" in sys.modules

class Poster:  # stands in for Slack: the charts are what this is about
    files = {}
    def post(self, channel, text, *, blocks=None, thread_ts=None, metadata=None):
        return "1700000000.000100"
    def upload(self, channel, files, *, comment, thread_ts=None):
        self.files = {name: data[:8].hex() for name, data in files}

poster = Poster()
config = parse_config({"daemon": {"timezone": "Europe/Berlin"}, "digest": {"time": "09:00", "channel": "C0DIGEST"}})
posted = daily.post_daily(Store(sys.argv[1], migrate=False), config, poster, datetime.fromisoformat(sys.argv[2]),
                           force=True)
print(json.dumps({"before": before, "charts": list(posted.charts), "files": poster.files,
                  "after": "matplotlib" in sys.modules}))
"""


def test_the_daemons_digest_never_imports_matplotlib(seeded: Seeded, tmp_path: Path) -> None:
    # Its own interpreter: other tests in this process draw charts in process (the report).
    done = subprocess.run(
        [sys.executable, "-c", DAEMON_DIGEST, str(_copy(seeded, tmp_path)), (NOW + timedelta(minutes=5)).isoformat()],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["charts"] == ["sentiment.png", "response-times.png"]
    assert seen["files"] == {name: "89504e470d0a1a0a" for name in seen["charts"]}  # PNGs were uploaded
    assert seen["before"] is False and seen["after"] is False


def test_a_failing_chart_process_costs_only_the_charts(
    seeded: Seeded,
    tmp_path: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    slack: tuple[WebClient, dict[str, Any]],
) -> None:
    client, info = slack
    # As if matplotlib were missing where the child runs (the parent still finds it).
    monkeypatch.setattr(
        sys,
        "executable",
        _fake_python(tmp_path, "echo \"ModuleNotFoundError: No module named 'matplotlib'\" >&2; exit 1"),
    )
    store = Store(_copy(seeded, tmp_path), migrate=False)
    with caplog.at_level(logging.INFO, logger="socialwatch.reports"):
        posted = daily.post_daily(
            store, make_config(channel=info["channel"]), SlackPoster(client), NOW + timedelta(minutes=5), force=True
        )
    assert posted is not None and posted.charts == ()
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert "digest charts not rendered" in warning.getMessage()
    assert "exited with 1" in warning.getMessage() and "No module named 'matplotlib'" in warning.getMessage()
    # The digest itself went out, and is recorded, so the next run does not post it again.
    history = client.conversations_history(channel=info["channel"])["messages"]
    assert any(m["ts"] == posted.ts and m["text"].startswith("Social digest:") for m in history)
    with urllib.request.urlopen(f"{sandbox.url}/_sandbox/slack/files", timeout=5) as resp:
        assert json.loads(resp.read())["files"] == []
    entry = [r for r in audit_log.audit_rows(store) if r["action"] == "digest.posted"][-1]
    assert entry["data"]["ts"] == posted.ts and entry["data"]["charts"] == []
    # ... and compliance sees why there were no charts.
    assert entry["data"]["charts_error"].startswith("not drawn:") and "exited with 1" in entry["data"]["charts_error"]


SPEC: dict[str, Any] = {
    "response-times.png": {
        "kind": "response",
        "samples": [["urgent", 3.0]],
        "targets": {"urgent": 15.0},
        "title": "replies",
    }
}


@pytest.mark.parametrize(
    "body, says",
    [
        ("echo 'Traceback: it broke' >&2; exit 3", "exited with 3; stderr: Traceback: it broke"),
        ("kill -9 $$", "killed by signal 9"),
        ("echo 'not json'", "no usable result"),
        ("echo '{}'", "no usable result"),  # a chart missing
        ('printf \'{"response-times.png": "%s"}\' $(printf GIF89a | base64)', "non-PNG data for response-times.png"),
        ("exec sleep 30", "did not finish within 0.5 s"),
    ],
)
def test_chart_process_failures_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, says: str
) -> None:
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, body))
    with pytest.raises(charts.RenderError, match=re.escape(says)):
        charts.render_in_child(SPEC, timeout=0.5 if "sleep" in body else charts.RENDER_TIMEOUT)


def test_a_spec_the_child_cannot_draw_fails_with_its_traceback() -> None:
    bad = {
        "sentiment.png": {
            "kind": "sentiment",
            "buckets": [],
            "bucket_hours": 1,
            "zone": "Nowhere/Atlantis",
            "title": "x",
        }
    }
    with pytest.raises(charts.RenderError, match=r"(?s)exited with 1; stderr: .*No time zone found with key Nowhere"):
        charts.render_in_child(bad)


def test_child_environment_for_a_service_without_a_writable_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "CACHE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MPLBACKEND", "TkAgg")
    writable = tmp_path / "home"
    writable.mkdir()
    monkeypatch.setenv("HOME", str(writable))
    env = charts.child_env()
    assert env["MPLBACKEND"] == "Agg" and "MPLCONFIGDIR" not in env  # matplotlib's own directories do
    # DynamicUser: a home that cannot be written (here: "under" a file, which even root cannot write).
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path / "file" / "home"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    env = charts.child_env()
    private = tmp_path / "tmp" / f"socialwatch-matplotlib-{os.getuid()}"
    assert env["MPLCONFIGDIR"] == str(private) and private.stat().st_mode & 0o777 == 0o700
    assert charts.child_env()["MPLCONFIGDIR"] == str(private)  # the same one every time: one font cache
    assert set(charts.render_in_child(SPEC)) == {"response-times.png"}  # and the child draws with it
    # systemd's CacheDirectory= is preferred; an MPLCONFIGDIR of the admin's is kept.
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    assert charts.child_env()["MPLCONFIGDIR"] == str(tmp_path / "cache" / "matplotlib")
    monkeypatch.setenv("MPLCONFIGDIR", str(writable))
    assert charts.child_env()["MPLCONFIGDIR"] == str(writable)


def test_schedule_periods_and_trigger() -> None:
    config = make_config(days=["mon", "tue", "wed", "thu", "fri"])
    # Monday 08:59 Berlin: the latest slot is Friday's (the weekend has none).
    assert daily.scheduled_before(config, NOW - timedelta(minutes=1)) == datetime(2026, 3, 6, 8, 0, tzinfo=UTC)
    assert daily.scheduled_before(config, NOW) == NOW
    assert daily.period_for(config, NOW) == PERIOD
    yesterday = make_config(covers="yesterday")
    assert daily.period_for(yesterday, NOW) == (
        datetime(2026, 3, 7, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 23, 0, tzinfo=UTC),
    )
    trigger = daily.trigger(config)
    assert trigger.get_next_fire_time(None, NOW + timedelta(minutes=1)) == datetime(2026, 3, 10, 9, 0, tzinfo=BERLIN)
