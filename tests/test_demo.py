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
    # Every customer fed, and the non-English ones on Facebook (whose text no platform tags) stored.
    while time.monotonic() < deadline and len(_non_english(tmp_path)) < len(NON_ENGLISH):
        time.sleep(0.2)
    while time.monotonic() < deadline and set(_x_non_english_alerted(tmp_path)) < X_NON_ENGLISH:
        time.sleep(0.2)
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
    # The demo's Spanish, German, French and Malay complaints on X: X's tags (und, in ...) checked, the
    # language told from the text, and every one of them alerted.
    alerted = _x_non_english_alerted(tmp_path)
    assert set(alerted) >= X_NON_ENGLISH, alerted
    assert all(label == "negative" for label in alerted.values()), alerted
    found = _non_english(tmp_path)
    assert set(found) == NON_ENGLISH, found
    for lang, suggestions in found.items():
        assert suggestions and all(s["lang"] == lang and s.get("english") for s in suggestions), (lang, suggestions)


#: The demo's Facebook customers writing in other languages, and the language each is answered in.
NON_ENGLISH = {"sw", "lv", "lt", "ta", "pt", "id"}


def _non_english(workdir) -> dict[str, list[dict]]:
    from socialwatch.alerts.cards import suggestions_of
    from socialwatch.store.db import Store

    if not (workdir / "socialwatch.db").exists():
        return {}
    try:
        store = Store(workdir / "socialwatch.db", migrate=False)
        with store.db() as db:
            rows = [dict(r) for r in db.execute("SELECT * FROM items WHERE platform = 'facebook' AND lang <> 'en'")]
    except Exception:  # the demo is still creating it
        return {}
    return {row["lang"]: suggestions_of(row) for row in rows if row["lang"] in NON_ENGLISH and row["suggestions"]}


#: The demo's non-English X mentions (all complaints), by language.
X_NON_ENGLISH = {"es", "de", "fr", "ms"}


def _x_non_english_alerted(workdir) -> dict[str, str]:
    from socialwatch.store.db import Store

    if not (workdir / "socialwatch.db").exists():
        return {}
    try:
        store = Store(workdir / "socialwatch.db", migrate=False)
        with store.db() as db:
            rows = [
                dict(r)
                for r in db.execute(
                    "SELECT i.lang, i.label FROM items i JOIN alert_outbox a ON a.item_id = i.id "
                    "WHERE i.platform = 'x' AND i.kind = 'mention'"
                )
            ]
    except Exception:  # the demo is still creating it
        return {}
    return {row["lang"]: row["label"] for row in rows if row["lang"] in X_NON_ENGLISH}
