"""`socialwatch triage`: its JSONL contract, on ordinary and hostile input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from socialwatch.cli import main

OUTPUT_KEYS = {"sentiment", "label", "lang", "category", "priority", "needs_reply", "reasons", "suggestions"}


def run_triage(lines: list[str], *args: str) -> tuple[int, list[dict], str]:
    runner = CliRunner()
    result = runner.invoke(main, ["triage", *args], input="".join(line + "\n" for line in lines))
    out = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, out, result.stderr


def test_ordinary_lines_get_every_field(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config anywhere: built-in defaults
    monkeypatch.delenv("SOCIALWATCH_CONFIG", raising=False)
    lines = [
        json.dumps(
            {
                "id": "1",
                "text": "@acme you charged me twice, this is a scam and I want my money back",
                "author": {"handle": "pat", "name": "Pat Lee", "followers": 20},
            }
        ),
        json.dumps({"text": "Thank you so much, the support team was brilliant!"}),
        json.dumps({"text": "How do I reset my password?", "kind": "dm"}),
    ]
    code, out, _ = run_triage(lines)
    assert code == 0
    assert len(out) == 3
    for source, result in zip(lines, out, strict=True):
        original = json.loads(source)
        assert OUTPUT_KEYS <= set(result)
        assert {k: result[k] for k in original} == original  # input passed through untouched
        assert set(result["sentiment"]) == {"compound", "neg", "neu", "pos"}
        assert result["label"] in {"negative", "neutral", "positive", "unscored"}
        assert result["priority"] in {"urgent", "high", "normal", "low", "none"}
        assert isinstance(result["needs_reply"], bool)
        assert all(isinstance(r, str) for r in result["reasons"])
        assert all(isinstance(s, str) for s in result["suggestions"])
    complaint, praise, question = out
    assert complaint["label"] == "negative" and complaint["priority"] == "urgent" and complaint["needs_reply"]
    assert complaint["category"] == "billing"
    assert 2 <= len(complaint["suggestions"]) <= 3
    assert any("Pat" in s for s in complaint["suggestions"])
    assert praise["label"] == "positive" and praise["category"] == "praise" and not praise["needs_reply"]
    assert question["needs_reply"] and question["priority"] in {"normal", "high"}


def test_bad_lines_are_reported_in_place_and_processing_continues():
    lines = [
        "{not json",
        json.dumps([1, 2, 3]),
        json.dumps({"no_text": True}),
        json.dumps({"text": 42}),
        "NaN",
        json.dumps({"text": "fine, thanks"}),
        "",
    ]
    code, out, err = run_triage(lines)
    assert code == 1
    assert len(out) == len(lines)
    for number, result in enumerate(out[:5], 1):
        assert set(result) == {"error", "line"} and result["line"] == number
    assert "invalid JSON" in out[0]["error"]
    assert "expected a JSON object" in out[1]["error"]
    assert 'missing "text"' in out[2]["error"]
    assert out[5]["label"] == "positive"
    assert out[6] == {"error": out[6]["error"], "line": 7}
    assert "line 1:" in err and "line 7:" in err


def test_empty_huge_emoji_rtl_and_foreign_texts():
    huge = "The app keeps crashing and I lost all my work. " * 2200  # ~100 kB
    lines = [
        json.dumps({"text": ""}),
        json.dumps({"text": huge}),
        json.dumps({"text": "😡😡😡 @acme 👎👎"}),
        json.dumps({"text": "הזמנתי לפני שבועיים ועדיין לא קיבלתי כלום", "lang": "he"}),
        json.dumps({"text": "مرحبا، طلبي لم يصل بعد", "lang": "ar"}),
        json.dumps({"text": "Mi pedido llegó roto y nadie responde", "lang": "es"}),
        json.dumps({"text": "zero\u200bwidth\u200d and NUL \u0000 chars, terrible service"}),
    ]
    code, out, _ = run_triage(lines)
    assert code == 0
    assert len(out) == len(lines)
    assert out[0]["needs_reply"] is False and out[0]["label"] == "neutral"
    assert out[1]["text"] == huge and out[1]["label"] == "negative"
    assert out[2]["text"] == "😡😡😡 @acme 👎👎" and out[2]["label"] in {"negative", "neutral"}
    for result in out[3:5]:
        assert result["label"] == "unscored"  # no model reads them: not silently "neutral"
        assert result["needs_reply"] is True
    # The learned model reads Spanish (without its file, the rules route it as unscored).
    assert out[5]["label"] in ("negative", "unscored") and out[5]["needs_reply"] is True
    assert out[5]["label"] == "negative" or out[5]["model"] is None
    assert out[3]["lang"] == "he" and out[5]["lang"] == "es"
    assert out[6]["label"] == "negative"


def test_streams_line_by_line():
    """Output for a line appears before the next line is written: a pipe, not a batch."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialwatch", "triage"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdin and proc.stdout
    try:
        for text in ("first, I hate this", "second, love it"):
            proc.stdin.write(json.dumps({"text": text}) + "\n")
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())
            assert answer["text"] == text
    finally:
        proc.stdin.close()
        proc.wait(30)
    assert proc.returncode == 0


def test_file_argument(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"text": "where is my refund? nobody answers"}) + "\n")
    code, out, _ = run_triage([], str(path))
    assert code == 0 and len(out) == 1 and out[0]["category"] == "billing"


LANGUAGE_LINES = {
    "sw": "Oda yangu haijafika bado na hakuna anayejibu simu",
    "ms": "Pesanan saya belum sampai dan tiada jawapan dari khidmat pelanggan",
    "id": "Pesanan saya belum sampai dan tidak ada yang menjawab",
    "lv": "Mans pasūtījums vēl nav atnācis, neviens neatbild",
    "lt": "Mano užsakymas dar neatvyko, niekas neatsako",
    "ta": "என் ஆர்டர் இன்னும் வரவில்லை, யாரும் பதில் சொல்லவில்லை",
    "es": "Llevo una semana esperando mi pedido y nadie responde",
    "fr": "Ma commande est en retard et le service client ne répond pas",
    "de": "Meine Bestellung ist seit 10 Tagen nicht angekommen und niemand antwortet",
    "pt": "Minha encomenda ainda não chegou e ninguém responde",
    "en": "My order still has not arrived and nobody answers",
}


def test_messages_in_each_language_get_suggestions_in_that_language(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOCIALWATCH_CONFIG", raising=False)
    lines = [json.dumps({"text": text, "kind": "dm", "author": {"name": "Amani"}}) for text in LANGUAGE_LINES.values()]
    code, out, _ = run_triage(lines)
    assert code == 0
    english_openings = ("Hi ", "Thanks", "I'm sorry")
    for lang, result in zip(LANGUAGE_LINES, out, strict=True):
        assert result["needs_reply"] and result["suggestions"], (lang, result["reasons"])
        assert result["reply_lang"] == lang, (lang, result["lang"], result["reasons"])
        if lang != "en":
            assert not any(s.startswith(english_openings) for s in result["suggestions"]), (lang, result["suggestions"])


def test_the_contract_only_gains_fields(tmp_path, monkeypatch):
    """The JSONL contract is what it was, plus who decided the language and what the learned model said."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOCIALWATCH_CONFIG", raising=False)
    code, out, _ = run_triage(
        [json.dumps({"text": "meine Bestellung ist seit zehn Tagen nicht angekommen", "lang": "en"})]
    )
    assert code == 0
    before = {"text", "lang", "sentiment", "label", "category", "priority", "needs_reply", "reasons", "suggestions"}
    assert before | {"reply_lang", "lang_source", "model", "model_score", "model_threshold"} <= set(out[0])
    assert set(out[0]["sentiment"]) == {"compound", "neg", "neu", "pos"}
    assert out[0]["lang"] == "de" and out[0]["lang_source"] == "detected"
    assert out[0]["model"] == "triage-all" and 0 <= out[0]["model_score"] <= 1
