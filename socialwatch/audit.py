"""The audit log's hash chain: how an entry is hashed, and how a chain is checked.

Each entry's hash covers its own fields and the previous entry's hash, so altering,
inserting or deleting any entry breaks every hash after it. SQL lives in store.py;
this module is pure.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

GENESIS = "0" * 64
SYSTEM = "system"


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


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(rows: Iterable[Mapping[str, Any]]) -> VerifyResult:
    """Check rows ordered by seq; report the first sequence number that does not fit."""
    prev = GENESIS
    expected_seq = 1
    checked = 0
    for row in rows:
        seq = int(row["seq"])
        if seq != expected_seq:
            missing = expected_seq if seq > expected_seq else seq
            return VerifyResult(False, checked, missing, f"sequence gap: expected {expected_seq}, found {seq}")
        if row["prev_hash"] != prev:
            return VerifyResult(False, checked, seq, "prev_hash does not match the previous entry's hash")
        computed = entry_hash(
            prev, seq, row["ts"], row["actor_id"], row["actor_name"], row["action"], row["item_key"], row["details"]
        )
        if computed != row["hash"]:
            return VerifyResult(False, checked, seq, "hash does not match the entry's contents")
        prev = row["hash"]
        expected_seq += 1
        checked += 1
    return VerifyResult(True, checked)
