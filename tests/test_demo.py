"""`socialwatch demo`: the whole loop against the built-in sandbox, with no accounts."""

from __future__ import annotations

import threading
import time

from socialwatch import demo


def test_demo_shows_alerts_and_an_approved_reply_then_stops_cleanly(tmp_path):
    lines: list[str] = []
    stop = threading.Event()
    result: dict[str, int] = {}

    def run() -> None:
        result.update(demo.run(port=0, rate=8, workdir=tmp_path, echo=lines.append, stop=stop))

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    wanted = ("  ✓ reply posted", "→ Instagram", "→ Facebook messenger", "→ X mention")
    while time.monotonic() < deadline and not all(any(line.startswith(w) for line in lines) for w in wanted):
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert any("Watch the Slack channel at http://127.0.0.1:" in line for line in lines)
    assert any(line.startswith("→ X mention") for line in lines)
    assert any(line.startswith("→ Facebook messenger") for line in lines)
    assert {line.split(" from ")[0] for line in lines if line.startswith("→ Instagram")} >= {
        "→ Instagram comment",
        "→ Instagram dm",
    }
    assert any(line.startswith("  ⚑ alert for") for line in lines)
    assert any(line.startswith("  ✓ reply posted") for line in lines), "\n".join(lines)
    assert result["alerts"] >= 1 and result["replies"] >= 1 and result["audit_ok"] == 1
    assert lines[-1].endswith("entries).") and "audit log verified" in lines[-1]
    assert (tmp_path / "socialwatch.db").exists()
