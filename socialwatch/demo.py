"""`socialwatch demo`: the whole loop with no accounts, against the built-in sandbox.

Starts the sandbox (X, Facebook, Instagram and Slack emulators on loopback), writes a config for it,
runs the real daemon (scheduler, sources, Slack alerts, Socket Mode, reply sender) and feeds
it realistic traffic: complaints, questions, praise, spam, DMs, comments, Messenger messages
and Instagram comments, tags and DMs in several languages. What happens is printed; the sandbox's web view shows the
Slack channel, where the reader can click Send as the demo approver. Unless told otherwise,
the demo approver also clicks Send on some alerts by itself, so the reply leg is visible
in the terminal too.
"""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from socialwatch.alerts import cards
from socialwatch.alerts.console import terminal_line
from socialwatch.alerts.outbox import Delivered
from socialwatch.sandbox import control
from socialwatch.store import audit_log, inbox

AUTO_APPROVE_EVERY = 3  # the demo approver answers one alert in three (the rest wait for you)
AUTO_APPROVE_DELAY = 4.0  # seconds after the alert, so you can see it arrive first


def traffic(path: Path | None = None) -> list[dict[str, Any]]:
    if path is not None:
        text = path.read_text(encoding="utf-8")
    else:
        text = resources.files("socialwatch").joinpath("samples/traffic.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def feed(sandbox: Any, entry: dict[str, Any], brand_handle: str) -> str:
    """Put one customer message into the emulated platform; returns a one-line description."""
    author = entry.get("author") or {}
    text = str(entry["text"]).replace("@sandboxbrand", f"@{brand_handle}")
    name = author.get("name") or "Visitor"
    platform, kind = entry["platform"], entry["kind"]
    # Graph's awkward shapes: an image and no text, an author Graph does not name.
    shape = {key: entry[key] for key in ("attachments", "from_hidden") if key in entry}
    username = author.get("handle") or "customer"
    if platform == "instagram" and kind == "comment":
        sandbox.add_ig_comment(text, username=None if shape.get("from_hidden") else username)
    elif platform == "instagram" and kind == "mention":
        sandbox.add_ig_mention(text, username=username)
    elif platform == "instagram":
        sandbox.add_ig_dm(text, username=username, attachments=shape.get("attachments"))
    elif platform == "x" and kind == "mention":
        sandbox.add_mention(
            text, handle=author.get("handle") or "customer", name=name, followers=int(author.get("followers") or 100)
        )
    elif platform == "x" and kind == "dm":
        sandbox.add_dm(
            text, handle=author.get("handle") or "customer", name=name, followers=int(author.get("followers") or 100)
        )
    elif kind == "comment":
        sandbox.add_comment(text, name=name, **shape)
    elif kind == "post":
        sandbox.add_visitor_post(text, name=name, **shape)
    else:
        sandbox.add_message(text, name=name, **shape)
    said = text or "(" + ", ".join(str(a.get("type", "attachment")) for a in shape.get("attachments", [])) + ")"
    who = f"someone {cards.PLATFORM_WORDS[platform]} does not name" if shape.get("from_hidden") else name
    return f"{cards.PLATFORM_WORDS[platform]} {kind} from {who}: {terminal_line(said, 90)}"


@dataclass
class Printer:
    echo: Callable[[str], None]
    alerts: int = 0
    replies: int = 0

    def alert(self, alert: dict[str, Any], delivered: Delivered) -> None:
        self.alerts += 1
        where = "the thread of their earlier alert" if delivered.thread_ts else "#social-alerts"
        who = terminal_line(alert.get("author_name") or alert.get("author_handle") or "someone unnamed", 40)
        self.echo(
            f"  ⚑ alert for {who}: [{alert['priority']}] {alert['category']} ({alert['label']}, "
            f"lang {alert.get('lang') or '?'}) → Slack {where}"
        )

    def reply(self, row: dict[str, Any]) -> None:
        status = row.get("status")
        if status == "sent":
            self.replies += 1
            self.echo(
                f"  ✓ reply posted on {row.get('platform')} (id {row.get('platform_reply_id')}), "
                f"approved by {row.get('approved_by_name') or row.get('approved_by')}"
            )
        elif status in ("failed", "needs_check"):
            self.echo(f"  ✗ reply {status}: {row.get('last_error') or ''}")


class _Tee:
    """The daemon's alert channel, plus a line on the terminal for each alert delivered."""

    def __init__(self, inner: Any, printer: Printer):
        self.inner, self.printer = inner, printer

    def deliver(self, alert: dict[str, Any]) -> Delivered:
        delivered: Delivered = self.inner.deliver(alert)
        self.printer.alert(alert, delivered)
        return delivered


def _auto_approver(base: str, approver: dict[str, str], stop: threading.Event, echo: Callable[[str], None]) -> None:
    """Plays a manager: clicks the first suggestion's Send button on every third new alert."""
    seen: set[str] = set()
    count = 0
    while not stop.wait(0.5):
        try:
            messages = control(base, "/_sandbox/slack/messages")["messages"]
        except OSError:
            continue
        for message in messages:
            key = ((message.get("metadata") or {}).get("event_payload") or {}).get("item_key")
            if not key or key in seen or message.get("ephemeral"):
                continue
            seen.add(key)
            has_send = f"{cards.SEND}_0" in json.dumps(message.get("blocks"))
            count += has_send
            if has_send and count % AUTO_APPROVE_EVERY == 1:
                timer = threading.Timer(AUTO_APPROVE_DELAY, _click, args=(base, message, approver, echo))
                timer.daemon = True
                timer.start()


def _click(base: str, message: dict[str, Any], approver: dict[str, str], echo: Callable[[str], None]) -> None:
    try:
        control(
            base,
            "/_sandbox/slack/actions",
            {"channel": message["channel"], "ts": message["ts"], "action_id": f"{cards.SEND}_0", "user": approver},
        )
        echo(f"  ☛ (demo) {approver['name']} clicks Send on an alert")
    except OSError:
        pass  # someone answered it in the web view first: the button is gone


def run(
    *,
    port: int = 8900,
    duration: float = 0.0,
    rate: float = 0.5,
    auto_approve: bool = True,
    data: Path | None = None,
    workdir: Path | None = None,
    echo: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    port_fallback: bool = True,
) -> dict[str, int]:
    """Run the demo until ``stop`` is set or ``duration`` seconds pass (0: until Ctrl-C). A taken ``port``
    gives way to a free one unless ``port_fallback`` is off (then ``sandbox.PortUnavailable``)."""
    from socialwatch.config.load import load_config
    from socialwatch.daemon import Daemon
    from socialwatch.sandbox import start_sandbox

    stop = stop or threading.Event()
    entries = traffic(data)
    sandbox = start_sandbox(port=port, fallback=port_fallback, echo=echo)
    with _workdir(workdir) as where, sandbox:
        directory = Path(where)
        info = sandbox.info()
        config = load_config(sandbox.write_config(directory / "socialwatch.toml", poll_interval=2))
        config.daemon.database = directory / "socialwatch.db"
        printer = Printer(echo)
        daemon = Daemon(config, notifier=None)
        daemon.channel = _Tee(daemon.channel, printer)
        forward = daemon.sender.on_change

        def on_reply(row: dict[str, Any]) -> None:
            printer.reply(row)
            if forward:
                forward(row)

        daemon.sender.on_change = on_reply
        echo(f"socialwatch demo: sandbox on {sandbox.url}, database {config.daemon.database}")
        echo(f"  Watch the Slack channel at {sandbox.url}/  (click Send as {info['slack']['approver']['name']})")
        echo("  Press Ctrl-C to stop.\n")
        daemon.start()
        if auto_approve:
            threading.Thread(
                target=_auto_approver,
                args=(sandbox.url, info["slack"]["approver"], stop, echo),
                daemon=True,
                name="demo-approver",
            ).start()
        deadline = time.monotonic() + duration if duration else None
        order = entries[:]
        random.Random(7).shuffle(order)
        index = 0
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                if index < len(order):
                    echo("→ " + feed(sandbox, order[index], info["x"]["handle"]))
                    index += 1
                stop.wait(1.0 / rate if rate > 0 else 1.0)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            daemon.shutdown()
            verified = audit_log.verify_audit(daemon.store)
            items = inbox.count_items(daemon.store)
        echo(
            f"\n{items} items stored, {printer.alerts} alerts in Slack, {printer.replies} replies posted; "
            f"audit log {'verified' if verified.ok else 'BROKEN'} ({verified.checked} entries)."
        )
        return {"items": items, "alerts": printer.alerts, "replies": printer.replies, "audit_ok": int(verified.ok)}


def _workdir(path: Path | None) -> contextlib.AbstractContextManager[str | Path]:
    """``path`` (kept afterwards), or a temporary directory removed at the end."""
    if path is None:
        return tempfile.TemporaryDirectory(prefix="socialwatch-demo-")
    path.mkdir(parents=True, exist_ok=True)
    return contextlib.nullcontext(path)
