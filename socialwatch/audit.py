"""The audit log's hash chain: how an entry is hashed, where personal text goes, and how a log is checked.

Each entry's hash covers its own fields and the previous entry's hash, so altering,
inserting or deleting any entry breaks every hash after it. A chain alone cannot see
its last entries being cut off, so the store also keeps a *head* (last seq and hash,
written in the same transaction as each entry) and ``verify_log`` checks the chain
ends exactly there.

Personal text (what a customer wrote, suggested and final reply texts, names) does
not live in the hashed row: ``split_content`` replaces it with a salted SHA-256
commitment and the text goes to a side table that retention may purge. The chain
keeps the commitments for ever, so purging never breaks it, and while a text is
present verify checks it against its commitment. SQL lives in store/audit_log.py; this module
is pure.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from socialwatch.models import parse_time

GENESIS = "0" * 64
SYSTEM = "system"

#: Top-level ``details`` keys whose values (a string, or a list of strings) are personal text:
#: they are stored beside the chain, not in it, so that retention can purge them.
#: ("reasons" quote the customer: "billing: 'charged me twice'".)
CONTENT_FIELDS = frozenset(
    {
        "text",
        "suggestions",
        "suggestion",
        "suggested",
        "final",
        "author_name",
        "author_handle",
        "reasons",
        # Author keys (x:<user id>) of linked customers: erased with the customer when they are forgotten.
        "identity",
        "identities",
    }
)
#: The entry a customer's erasure on request writes; its ``erased_entries`` ([[first, last], ...]) name
#: the entries whose texts went, and verify accepts exactly those texts missing.
ERASURE_ACTION = "customer.forgotten"
#: The marker that stands in the hashed row for a text stored beside it.
CONTENT_KEY = "content_sha256"


def canonical(details: Mapping[str, Any] | None) -> str:
    """The one JSON spelling of ``details`` that is hashed and stored."""
    return json.dumps(details or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_hash(
    prev_hash: str,
    seq: int,
    ts: str,
    actor_id: str,
    actor_name: str,
    action: str,
    item_key: str | None,
    details_json: str,
) -> str:
    # A list encoding keeps field boundaries unambiguous ("ab"+"c" != "a"+"bc").
    material = json.dumps(
        [prev_hash, seq, ts, actor_id, actor_name, action, item_key, details_json],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


# --- personal text beside the chain -------------------------------------------------------


@dataclass(frozen=True)
class ContentPiece:
    """One text moved out of an entry's details: ``field`` is ``key`` or ``key.N`` for list elements."""

    field: str
    nonce: str
    text: str

    @property
    def digest(self) -> str:
        return content_hash(self.nonce, self.text)


class Nonces:
    """Random 128-bit salts as hex, like ``secrets.token_hex(16)``, drawn from the OS 64 at a time:
    one ``os.urandom`` call per page of entries instead of one per text."""

    def __init__(self, batch: int = 64) -> None:
        self._batch = batch
        self._pool: list[str] = []

    def __call__(self) -> str:
        if not self._pool:
            raw = os.urandom(16 * self._batch).hex()
            self._pool = [raw[i : i + 32] for i in range(0, len(raw), 32)]
        return self._pool.pop()


def content_hash(nonce: str, text: str) -> str:
    # Salted, and the salt is purged with the text: once purged, a short text ("yes", a name)
    # cannot be recovered by hashing guesses; while present, anyone can recompute it.
    return hashlib.sha256(f"{nonce}\n{text}".encode()).hexdigest()


def split_content(details: Mapping[str, Any] | None, nonce: Any = None) -> tuple[dict[str, Any], list[ContentPiece]]:
    """Details as they are hashed (texts replaced by commitments) and the texts to store beside them."""
    make_nonce = nonce or (lambda: secrets.token_hex(16))
    hashed: dict[str, Any] = {}
    pieces: list[ContentPiece] = []

    def commit(name: str, text: str) -> dict[str, str]:
        piece = ContentPiece(name, make_nonce(), text)
        pieces.append(piece)
        return {CONTENT_KEY: piece.digest}

    for key, value in (details or {}).items():
        if key in CONTENT_FIELDS and isinstance(value, str):
            hashed[key] = commit(key, value)
        elif key in CONTENT_FIELDS and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            hashed[key] = [commit(f"{key}.{index}", text) for index, text in enumerate(value)]
        else:
            hashed[key] = value
    return hashed, pieces


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(CONTENT_KEY), str)


def content_refs(details_json: str) -> dict[str, str]:
    """field -> committed digest, for every text an entry keeps beside the chain."""
    try:
        details = json.loads(details_json)
    except ValueError:
        return {}
    refs: dict[str, str] = {}
    if not isinstance(details, dict):
        return refs
    for key, value in details.items():
        if _is_ref(value):
            refs[key] = value[CONTENT_KEY]
        elif isinstance(value, list):
            for index, element in enumerate(value):
                if _is_ref(element):
                    refs[f"{key}.{index}"] = element[CONTENT_KEY]
    return refs


def hydrate(details_json: str, content: Mapping[str, str | None]) -> dict[str, Any]:
    """The details as they were written: commitments replaced by their texts (None once purged)."""
    details = json.loads(details_json)
    if not isinstance(details, dict):
        return {"value": details}
    out: dict[str, Any] = {}
    for key, value in details.items():
        if _is_ref(value):
            out[key] = content.get(key)
        elif isinstance(value, list) and any(_is_ref(v) for v in value):
            out[key] = [content.get(f"{key}.{i}") if _is_ref(v) else v for i, v in enumerate(value)]
        else:
            out[key] = value
    return out


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """The last entry's sequence number and hash: what ``audit head`` prints and ``--anchor`` takes."""

    seq: int
    hash: str
    ts: str | None = None

    def render(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        seq, sep, digest = text.strip().partition(":")
        if not sep or not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{text!r} is not SEQ:HASH (as printed by `socialwatch audit head`)")
        return cls(int(seq), digest)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head: Head | None = None  # the last good entry
    warnings: tuple[str, ...] = field(default_factory=tuple)


def verify_chain(rows: Iterable[Mapping[str, Any]]) -> VerifyResult:
    """Check the chain alone (rows ordered by seq); report the first sequence number that does not fit."""
    return verify_log(rows, head=None, check_content=False)


def verify_log(
    rows: Iterable[Mapping[str, Any]],
    *,
    head: Head | None,
    purges: Sequence[tuple[int, str]] = (),
    anchors: Sequence[Head] = (),
    check_content: bool = True,
    erasures: Sequence[tuple[int, Sequence[Sequence[int]]]] = (),
) -> VerifyResult:
    """Check a whole log: chain, texts beside it, the stored head and anchors kept elsewhere.

    ``rows`` are audit rows in seq order; with ``check_content`` each carries ``content``:
    field -> (nonce, text) of the texts still stored for it. ``purges`` are the (seq, cutoff) of
    the ``retention.purged`` entries: a text may be missing only if a later purge's cutoff lies
    after its entry's time; any other missing text was deleted behind socialwatch's back. ``head``
    None means the store has no head (an old schema): a cut-off tail then goes unnoticed, and a
    warning says so. ``erasures`` are the (seq, [[first, last], ...]) of the ``customer.forgotten``
    entries: the texts of the entries they name (all before them) were erased on request.
    """
    expected = {a.seq: a.hash for a in anchors}
    covered = _purge_coverage(purges, erasures)
    prev_hash = GENESIS
    prev_seq = 0
    last_ts: str | None = None
    checked = 0

    def bad(seq: int, problem: str) -> VerifyResult:
        good = Head(prev_seq, prev_hash, last_ts) if prev_seq else None
        return VerifyResult(False, checked, seq, problem, good)

    for row in rows:
        seq = int(row["seq"])
        if seq != prev_seq + 1:
            gap = (
                f"entry {prev_seq + 1} is missing"
                if seq == prev_seq + 2
                else f"entries {prev_seq + 1} to {seq - 1} are missing"
            )
            return bad(prev_seq + 1, f"{gap} (deleted from the log)")
        own = entry_hash(
            row["prev_hash"],
            seq,
            row["ts"],
            row["actor_id"],
            row["actor_name"],
            row["action"],
            row["item_key"],
            row["details"],
        )
        if own != row["hash"]:
            return bad(seq, "its contents do not match its hash (the entry was altered)")
        if row["prev_hash"] != prev_hash:
            if seq == 1:
                return bad(1, "the first entry does not start from the genesis hash")
            # Both rows are self-consistent, so one was rewritten with a recomputed hash; entry `seq`
            # still records the original hash of its predecessor, which points at the predecessor.
            return bad(
                seq - 1,
                f"entry {seq} recorded a different hash for it: it was altered and its "
                f"hash recomputed (or entry {seq} was replaced)",
            )
        if seq in expected and expected[seq] != row["hash"]:
            return bad(
                seq,
                "its hash differs from the anchor recorded outside the database "
                "(the log was rewritten at or before this entry)",
            )
        if check_content:
            problem = _check_content(row, seq, covered)
            if problem:
                return bad(seq, problem)
        prev_hash, prev_seq, last_ts = row["hash"], seq, row["ts"]
        checked += 1

    beyond = [a for a in anchors if a.seq > prev_seq]
    if beyond:
        return bad(
            prev_seq + 1,
            f"the log ends at entry {prev_seq} but an anchor recorded outside the "
            f"database names entry {beyond[0].seq} (entries were deleted from the end)",
        )
    warnings: tuple[str, ...] = ()
    if head is None:
        if check_content:
            warnings = (
                "the database keeps no head anchor (run `socialwatch check` to migrate it); "
                "entries deleted from the end would go unnoticed",
            )
    elif head.seq > prev_seq:
        return bad(
            prev_seq + 1,
            f"the log ends at entry {prev_seq} but its head says {head.seq}: entries "
            f"{prev_seq + 1} to {head.seq} were deleted from the end",
        )
    elif head.seq < prev_seq:
        return bad(
            head.seq + 1,
            f"entries {head.seq + 1} to {prev_seq} come after the recorded head: they "
            "were added behind socialwatch's back",
        )
    elif head.hash != prev_hash:
        return bad(prev_seq, "the last entry's hash differs from the recorded head (altered)")
    return VerifyResult(True, checked, head=Head(prev_seq, prev_hash, last_ts) if prev_seq else None, warnings=warnings)


def _purge_coverage(
    purges: Sequence[tuple[int, str]], erasures: Sequence[tuple[int, Sequence[Sequence[int]]]] = ()
) -> Callable[[int, str], bool]:
    """Whether a purge recorded after entry ``seq`` had a cutoff later than the entry's time ``ts``, or an
    erasure recorded after it names it."""
    erased = _erased_seqs(erasures)
    ordered = sorted((int(seq), when) for seq, cutoff in purges if (when := parse_time(cutoff)) is not None)
    # latest[i]: the latest cutoff among ordered[i:], so one bisect answers each question.
    latest: list[Any] = [None] * len(ordered)
    running = None
    for index in range(len(ordered) - 1, -1, -1):
        cutoff = ordered[index][1]
        running = cutoff if running is None or cutoff > running else running
        latest[index] = running
    seqs = [seq for seq, _ in ordered]

    def covered(seq: int, ts: str) -> bool:
        index = bisect.bisect_right(seqs, seq)
        when = parse_time(ts)
        if index < len(seqs) and when is not None and when < latest[index]:
            return True
        return seq in erased

    return covered


def _erased_seqs(erasures: Sequence[tuple[int, Sequence[Sequence[int]]]]) -> set[int]:
    """The entries whose texts an erasure entry says it erased; only entries before it count."""
    found: set[int] = set()
    for record_seq, ranges in erasures:
        for pair in ranges:
            if len(pair) == 2:
                found.update(range(int(pair[0]), min(int(pair[1]), int(record_seq) - 1) + 1))
    return found


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """[[first, last], ...] of consecutive runs: how an erasure entry names the entries it erased."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def _check_content(row: Mapping[str, Any], seq: int, covered: Callable[[int, str], bool]) -> str | None:
    refs = content_refs(row["details"])
    stored: Mapping[str, Sequence[str]] = row.get("content") or {}
    for name in sorted(stored):
        if name not in refs:
            return f"stored text {name!r} is not committed to by the entry (added behind socialwatch's back)"
    for name, digest in refs.items():
        if name in stored:
            nonce, text = stored[name]
            if content_hash(nonce, text) != digest:
                return f"text {name!r} does not match the hash the entry committed to (altered)"
        elif not covered(seq, row["ts"]):
            return f"text {name!r} is gone but no retention purge or erasure covers this entry (deleted)"
    return None


# --- export -------------------------------------------------------------------------------

#: One row per reply (``audit export``); documented column by column in docs/compliance.md.
REPLY_COLUMNS = (
    "reply_id",
    "item_key",
    "platform",
    "kind",
    "account",
    "public",
    "author_handle",
    "author_name",
    "post_url",
    "post_text",
    "category",
    "priority",
    "sentiment",
    "suggestion_kind",
    "suggested_text",
    "final_text",
    "edited",
    "approver_id",
    "approver_name",
    "status",
    "platform_reply_id",
    "posted_at",
    "received_at",
    "alerted_at",
    "approved_at",
    "replied_at",
    "response_seconds",
    "sla_due_at",
    "sla_met",
    "error",
    "purged",
    "sent_audit_seq",
    "chain_check",
)
#: One row per audit entry (``audit export --events``).
EVENT_COLUMNS = ("seq", "ts", "actor_id", "actor_name", "action", "item_key", "details", "prev_hash", "hash")


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((parse_time(end) - parse_time(start)).total_seconds(), 3)  # type: ignore[operator]


def reply_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """An export row from a store reply record: adds whether it was edited, response time and SLA."""
    row = {name: record.get(name) for name in REPLY_COLUMNS}
    suggested, final = record.get("suggested_text"), record.get("final_text")
    row["public"] = None if record.get("public") is None else bool(record["public"])
    row["edited"] = None if suggested is None or record.get("purged_at") else suggested != final
    # From the customer's post to our reply going out: what the customer experienced.
    row["response_seconds"] = _seconds_between(record.get("posted_at"), record.get("replied_at"))
    due, replied = record.get("sla_due_at"), record.get("replied_at")
    if due and replied:
        row["sla_met"] = parse_time(replied) <= parse_time(due)  # type: ignore[operator]
    row["purged"] = bool(record.get("purged_at"))
    return row


def event_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An export row from an audit row: the details as written, purged texts as null."""
    row = {name: entry.get(name) for name in EVENT_COLUMNS}
    row["details"] = entry.get("data", entry.get("details"))
    return row


def write_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: str, out: IO[str]) -> int:
    """Stream rows as CSV (header first; nested values as JSON) or JSONL; returns the row count."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(name)) for name in columns])
            count += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps({name: row.get(name) for name in columns}, ensure_ascii=False, default=str) + "\n")
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}; use csv or jsonl")
    return count


#: A spreadsheet runs a cell starting with one of these as a formula ("=HYPERLINK(...)" in a
#: customer's post); such CSV cells get a leading apostrophe. JSONL stays verbatim. "@" only
#: counts with a call in it ("@SUM(...)"): every X mention starts with "@handle".
FORMULA_STARTS = ("=", "+", "-", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(value, str) and (value.startswith(FORMULA_STARTS) or (value.startswith("@") and "(" in value)):
        return "'" + value
    return value
