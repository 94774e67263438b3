"""Customers across channels: author identities linked into one customer, their history, link suggestions.

A customer groups author identities (``x:<user id>``, ``facebook:<id>``, ``instagram:<id>``: the author
keys of ``items`` and ``authors``); an identity not in ``customer_identities`` is a customer of its own.
Links are made and undone by a person, each in one transaction with its audit entry
(``customer.linked``, ``customer.unlinked``; the identities go beside the chain, so a later erasure
can take them). Evidence (``scoring.identity``: digests of e-mail addresses, phone and order numbers,
handles) is stored with each item and matched across platforms into *suggestions*: a link is never
made from evidence alone. Keyed on the author key only, so any platform fits.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socialwatch.models import Processed, iso, platform_name, utcnow
from socialwatch.store import audit_log
from socialwatch.store.db import Store

KEY_HINT = "write an identity as platform:id (x:1234567890, facebook:5551234) or platform:@handle (x:@jane)"
#: What each kind of evidence is called where a person reads a suggestion.
EVIDENCE_WORDS = {
    "email": "same e-mail address",
    "phone": "same phone number",
    "reference": "same order or case number",
    "handle": "handle named in a message",
}
#: The author key prefix of a forgotten customer's items (``forgotten:<erasure id>``): no identity is left.
FORGOTTEN = "forgotten"
_KEY = re.compile(r"^(?P<platform>[a-z][a-z0-9_]{0,31}):(?P<rest>\S{1,128})$")

BrandOf = Callable[[str], str]  # account name -> brand ("" for the one brand)


class CustomerError(ValueError):
    """A request about customers that cannot be done; ``str()`` says why and what to do. Nothing changed."""


@dataclass(frozen=True)
class Identity:
    key: str
    platform: str
    handle: str | None
    name: str | None
    contacts: int
    first_seen: str | None
    last_seen: str | None
    linked_at: str | None = None
    linked_by: str | None = None
    evidence: str | None = None

    @property
    def display(self) -> str:
        """ "X @jane", "Facebook Jane Doe", or the key when nothing else is known."""
        who = f"@{self.handle}" if self.handle else (self.name or self.key.partition(":")[2])
        return f"{platform_name(self.platform)} {who}"


@dataclass(frozen=True)
class LinkResult:
    customer_id: int
    identities: tuple[str, ...]
    changed: bool  # False: they were one customer already


@dataclass(frozen=True)
class Suggestion:
    """Another identity that may be the same person, and why."""

    key: str
    platform: str
    reasons: tuple[str, ...]  # evidence kinds (EVIDENCE_WORDS)

    @property
    def why(self) -> str:
        return ", ".join(EVIDENCE_WORDS.get(r, r) for r in self.reasons)


# --- keys -------------------------------------------------------------------------------------


def key_digest(key: str) -> str:
    """How a forgotten identity is remembered (so `show` can say it was forgotten): a one-way digest."""
    return hashlib.sha256(f"socialwatch forgotten identity\n{key}".encode()).hexdigest()


def resolve(store: Store, text: str) -> str:
    """The author key ``text`` names (platform:id, or platform:@handle of a known author); CustomerError
    for anything else, saying how to write one."""
    with store.db() as db:
        return resolve_on(db.conn, text)


def resolve_on(conn: sqlite3.Connection, text: str) -> str:
    given = (text or "").strip()
    match = _KEY.match(given)
    if not match:
        raise CustomerError(f"{given!r} is not an identity; {KEY_HINT}")
    platform, rest = match["platform"], match["rest"]
    if platform == FORGOTTEN:
        raise CustomerError(f"{given} stands for a forgotten customer's history; it cannot be looked up or linked")
    if rest.startswith("@"):
        rows = conn.execute(
            "SELECT key FROM authors WHERE platform = ? AND lower(handle) = lower(?) ORDER BY last_seen DESC",
            [platform, rest[1:]],
        ).fetchall()
        if not rows:
            raise CustomerError(f"no {platform_name(platform)} author with the handle {rest} is stored; {KEY_HINT}")
        if len(rows) > 1:
            raise CustomerError(
                f"{len(rows)} {platform_name(platform)} authors have used the handle {rest} "
                f"({', '.join(r[0] for r in rows[:5])}); give the id instead"
            )
        return str(rows[0][0])
    key = f"{platform}:{rest}"
    known = conn.execute(
        "SELECT 1 FROM authors WHERE key = ? UNION ALL SELECT 1 FROM customer_identities WHERE author_key = ? "
        "UNION ALL SELECT 1 FROM items WHERE author_key = ? LIMIT 1",
        [key, key, key],
    ).fetchone()
    if known is None:
        raise CustomerError(f"unknown identity {key}: no item from it is stored; {KEY_HINT}")
    return key


def identity_keys_on(conn: sqlite3.Connection, key: str) -> list[str]:
    """Every identity of ``key``'s customer, ``key`` first ([key] when it is linked to none)."""
    rows = conn.execute(
        "SELECT sib.author_key FROM customer_identities ci "
        "JOIN customer_identities sib ON sib.customer_id = ci.customer_id "
        "WHERE ci.author_key = ? AND sib.author_key <> ? ORDER BY sib.author_key",
        [key, key],
    ).fetchall()
    return [key, *(str(r[0]) for r in rows)]


def identity_keys(store: Store, key: str) -> list[str]:
    with store.db() as db:
        return identity_keys_on(db.conn, key)


def _customer_id(conn: sqlite3.Connection, key: str) -> int | None:
    row = conn.execute("SELECT customer_id FROM customer_identities WHERE author_key = ?", [key]).fetchone()
    return None if row is None else int(row[0])


def identities(store: Store, key: str) -> list[Identity]:
    """The customer's identities with what is known of each (``key``'s first)."""
    with store.db() as db:
        conn = db.conn
        keys = identity_keys_on(conn, key)
        found = []
        for each in keys:
            row = conn.execute(
                "SELECT a.handle, a.name, a.contacts, a.first_seen, a.last_seen, "
                "ci.linked_at, ci.linked_by_name, ci.evidence FROM (SELECT ? AS key) k "
                "LEFT JOIN authors a ON a.key = k.key LEFT JOIN customer_identities ci ON ci.author_key = k.key",
                [each],
            ).fetchone()
            found.append(Identity(each, each.partition(":")[0], row[0], row[1], int(row[2] or 0), *row[3:]))
    return found


# --- linking ----------------------------------------------------------------------------------


def _brands(conn: sqlite3.Connection, keys: Sequence[str], brand_of: BrandOf) -> dict[str, set[str]]:
    """brand -> accounts the identities wrote to."""
    marks = ",".join("?" * len(keys))
    found: dict[str, set[str]] = {}
    for (account,) in conn.execute(f"SELECT DISTINCT account FROM items WHERE author_key IN ({marks})", list(keys)):
        found.setdefault(brand_of(str(account)), set()).add(str(account))
    return found


def _check_brands(
    conn: sqlite3.Connection, first: Sequence[str], second: Sequence[str], brand_of: BrandOf | None
) -> None:
    if brand_of is None:
        return
    mine, theirs = _brands(conn, first, brand_of), _brands(conn, second, brand_of)
    if mine and theirs and not (mine.keys() & theirs.keys()):

        def said(brands: Mapping[str, set[str]]) -> str:
            return "; ".join(f"{brand or 'the brand'} ({', '.join(sorted(a))})" for brand, a in sorted(brands.items()))

        raise CustomerError(
            f"{first[0]} writes to {said(mine)} and {second[0]} to {said(theirs)}: [customers] brands keeps "
            "these brands' customers apart, so they cannot be one customer"
        )


def link(
    store: Store,
    first: str,
    second: str,
    *,
    actor_id: str,
    actor_name: str,
    brand_of: BrandOf | None = None,
    evidence: str | None = None,
    now: datetime | None = None,
) -> LinkResult:
    """Make ``first`` and ``second`` (identities as written by a person) one customer, merging their
    customers if both had one; audited. CustomerError, with nothing changed, for unknown identities,
    an identity linked to itself, or two brands that the config keeps apart."""
    now = now or utcnow()
    with store.transaction() as db:
        conn = db.conn
        a, b = resolve_on(conn, first), resolve_on(conn, second)
        if a == b:
            raise CustomerError(f"{first} and {second} are the same identity ({a}); link it to another one")
        mine, theirs = identity_keys_on(conn, a), identity_keys_on(conn, b)
        ca, cb = _customer_id(conn, a), _customer_id(conn, b)
        if ca is not None and ca == cb:
            return LinkResult(ca, tuple(sorted(mine)), changed=False)
        _check_brands(conn, mine, theirs, brand_of)
        when = iso(now)
        customer = ca if ca is not None else cb
        if customer is None:
            customer = int(
                conn.execute(
                    "INSERT INTO customers (created_at, created_by) VALUES (?, ?) RETURNING id", [when, actor_id]
                ).fetchone()[0]
            )
        merged = cb if ca is not None and cb is not None else None
        if merged is not None:
            conn.execute("UPDATE customer_identities SET customer_id = ? WHERE customer_id = ?", [customer, merged])
            conn.execute("DELETE FROM customers WHERE id = ?", [merged])
        conn.executemany(
            "INSERT OR IGNORE INTO customer_identities "
            "(author_key, customer_id, platform, linked_at, linked_by, linked_by_name, evidence) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(k, customer, k.partition(":")[0], when, actor_id, actor_name, evidence) for k in (a, b)],
        )
        # A person says they are one: an earlier "not the same" between them no longer holds.
        conn.executemany(
            "DELETE FROM customer_separations WHERE key_a = ? AND key_b = ?",
            [tuple(sorted((x, y))) for x in mine for y in theirs],
        )
        everyone = tuple(sorted({*mine, *theirs}))
        audit_log.append_audit_on(
            conn,
            now,
            actor_id,
            actor_name,
            "customer.linked",
            None,
            {
                "customer": customer,
                "identities": [a, b],
                "evidence": evidence,
                "merged_customer": merged,
                "size": len(everyone),
            },
        )
    return LinkResult(customer, everyone, changed=True)


def unlink(store: Store, key: str, *, actor_id: str, actor_name: str, now: datetime | None = None) -> list[str]:
    """Take ``key`` out of its customer (audited); the identities it leaves, which are never suggested
    for it again. A customer left with one identity is dissolved."""
    now = now or utcnow()
    with store.transaction() as db:
        conn = db.conn
        resolved = resolve_on(conn, key)
        customer = _customer_id(conn, resolved)
        if customer is None:
            raise CustomerError(f"{resolved} is not linked to another identity; nothing to unlink")
        others = identity_keys_on(conn, resolved)[1:]
        conn.execute("DELETE FROM customer_identities WHERE author_key = ?", [resolved])
        if len(others) <= 1:
            conn.execute("DELETE FROM customer_identities WHERE customer_id = ?", [customer])
            conn.execute("DELETE FROM customers WHERE id = ?", [customer])
        conn.executemany(
            "INSERT OR REPLACE INTO customer_separations (key_a, key_b, decided_by, decided_at) VALUES (?, ?, ?, ?)",
            [(*sorted((resolved, other)), actor_id, iso(now)) for other in others],
        )
        audit_log.append_audit_on(
            conn,
            now,
            actor_id,
            actor_name,
            "customer.unlinked",
            None,
            {"customer": customer, "identity": resolved, "identities": others, "dissolved": len(others) <= 1},
        )
    return others


# --- one history --------------------------------------------------------------------------------


def contacts_before(store: Store, item: Mapping[str, Any], brand_of: BrandOf | None = None) -> dict[str, Any]:
    """What the customer behind ``item`` (an ``items`` row) did before it, on every linked identity:
    ``{"contacts": n + 1, "by_platform": {platform: n}, "negative_count", "last": {...} | None}``."""
    with store.db() as db:
        conn = db.conn
        keys = identity_keys_on(conn, str(item["author_key"]))
        marks = ",".join("?" * len(keys))
        where = f"author_key IN ({marks}) AND id <> ? AND created_at <= ?"
        params = [*keys, item["id"], item["created_at"]]
        by_platform: dict[str, int] = {}
        negative = 0
        for platform, count, negatives in conn.execute(
            f"SELECT platform, COUNT(*), COALESCE(SUM(label = 'negative'), 0) FROM items WHERE {where} "
            "GROUP BY platform ORDER BY COUNT(*) DESC, platform",
            params,
        ):
            by_platform[str(platform)] = int(count)
            negative += int(negatives)
        last = conn.execute(
            f"SELECT platform, created_at, label, status, first_reply_at FROM items WHERE {where} "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            params,
        ).fetchone()
        suggested = suggestions_on(conn, keys, brand_of)
        names = {s.key: _display_on(conn, s.key) for s in suggested[:3]}
    return {
        "contacts": sum(by_platform.values()) + 1,
        "by_platform": by_platform,
        "previous_label": last["label"] if last else None,
        "negative_count": negative + int(item.get("label") == "negative"),
        "last": dict(last) if last else None,
        "suggested": [{"key": s.key, "who": names[s.key], "why": s.why} for s in suggested[:3]],
    }


def _display_on(conn: sqlite3.Connection, key: str) -> str:
    row = conn.execute("SELECT handle, name FROM authors WHERE key = ?", [key]).fetchone()
    handle, name = (row[0], row[1]) if row else (None, None)
    return Identity(key, key.partition(":")[0], handle, name, 0, None, None).display


def items_of(store: Store, keys: Sequence[str], limit: int | None = None) -> list[dict[str, Any]]:
    """The items of these identities, newest first, each with its latest manager reply."""
    marks = ",".join("?" * len(keys))
    with store.db() as db:
        rows = db.execute(
            f"""SELECT i.id, i.platform, i.native_id, i.kind, i.account, i.author_key, i.created_at, i.text,
                       i.label, i.category, i.priority, i.status, i.purged_at, r.text AS reply_text,
                       r.status AS reply_status, r.sent_at AS reply_sent_at
                FROM items i LEFT JOIN reply_outbox r ON r.id = (
                    SELECT MAX(id) FROM reply_outbox WHERE item_id = i.id AND COALESCE(origin, 'manager') = 'manager')
                WHERE i.author_key IN ({marks})
                ORDER BY i.created_at DESC, i.id DESC LIMIT ?""",
            [*keys, -1 if limit is None else limit],
        ).fetchall()
    return [dict(r) for r in rows]


def forgotten(store: Store, key: str) -> dict[str, Any] | None:
    """The erasure that forgot ``key`` (who asked, when), if one did."""
    with store.db() as db:
        row = db.execute(
            "SELECT e.* FROM forgotten_identities f JOIN erasures e ON e.id = f.erasure_id WHERE f.key_digest = ?",
            [key_digest(key)],
        ).fetchone()
    return dict(row) if row else None


# --- evidence and suggestions -----------------------------------------------------------------------

_MATCHING_KINDS = """((mine.kind = other.kind AND mine.kind IN ('email', 'phone', 'reference'))
        OR (mine.kind = 'handle' AND other.kind = 'handle_named')
        OR (mine.kind = 'handle_named' AND other.kind = 'handle'))"""


def record_evidence_on(conn: sqlite3.Connection, fresh: Iterable[tuple[int, Processed]]) -> None:
    """The evidence of newly stored items, in the ingest's transaction."""
    rows = [
        (entry.item.author_key, e.kind, e.digest, entry.item.platform, item_id)
        for item_id, entry in fresh
        for e in entry.assessment.evidence
    ]
    if rows:
        conn.executemany(
            "INSERT OR IGNORE INTO customer_evidence (author_key, kind, digest, platform, item_id) VALUES (?,?,?,?,?)",
            rows,
        )


def suggestions_on(conn: sqlite3.Connection, keys: Sequence[str], brand_of: BrandOf | None = None) -> list[Suggestion]:
    """Identities on other platforms whose evidence matches the customer's, minus those a person said
    are someone else, and (with ``brand_of``) those of another brand."""
    marks = ",".join("?" * len(keys))
    rows = conn.execute(
        f"""SELECT other.author_key, other.platform,
                   group_concat(DISTINCT CASE WHEN mine.kind = 'handle_named' THEN 'handle' ELSE mine.kind END)
            FROM customer_evidence mine
            JOIN customer_evidence other ON other.digest = mine.digest AND other.platform <> mine.platform
            WHERE mine.author_key IN ({marks}) AND other.author_key NOT IN ({marks}) AND {_MATCHING_KINDS}
              AND NOT EXISTS (SELECT 1 FROM customer_separations s
                              WHERE (s.key_a = mine.author_key AND s.key_b = other.author_key)
                                 OR (s.key_b = mine.author_key AND s.key_a = other.author_key))
            GROUP BY other.author_key ORDER BY COUNT(*) DESC, other.author_key LIMIT 20""",
        [*keys, *keys],
    ).fetchall()
    found = [Suggestion(str(r[0]), str(r[1]), tuple(sorted(str(r[2]).split(",")))) for r in rows]
    if brand_of is None:
        return found
    kept = []
    for suggestion in found:
        try:
            _check_brands(conn, keys, [suggestion.key], brand_of)
        except CustomerError:
            continue
        kept.append(suggestion)
    return kept


def suggestions(store: Store, key: str, brand_of: BrandOf | None = None) -> list[Suggestion]:
    with store.db() as db:
        return suggestions_on(db.conn, identity_keys_on(db.conn, key), brand_of)


def open_suggestions(
    store: Store, brand_of: BrandOf | None = None, limit: int = 200
) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every pair of identities on two platforms with matching evidence that are not one customer yet:
    (key, other key, evidence kinds), the best supported first."""
    with store.db() as db:
        conn = db.conn
        rows = conn.execute(
            f"""SELECT mine.author_key, other.author_key,
                       group_concat(DISTINCT CASE WHEN mine.kind = 'handle_named' THEN 'handle' ELSE mine.kind END)
                FROM customer_evidence mine
                JOIN customer_evidence other ON other.digest = mine.digest AND other.platform <> mine.platform
                     AND mine.author_key < other.author_key
                LEFT JOIN customer_identities ca ON ca.author_key = mine.author_key
                LEFT JOIN customer_identities cb ON cb.author_key = other.author_key
                WHERE {_MATCHING_KINDS} AND (ca.customer_id IS NULL OR cb.customer_id IS NULL
                                             OR ca.customer_id <> cb.customer_id)
                  AND NOT EXISTS (SELECT 1 FROM customer_separations s
                                  WHERE s.key_a = mine.author_key AND s.key_b = other.author_key)
                GROUP BY mine.author_key, other.author_key ORDER BY COUNT(*) DESC, mine.author_key LIMIT ?""",
            [limit],
        ).fetchall()
        found = []
        for a, b, kinds in rows:
            if brand_of is not None:
                try:
                    _check_brands(conn, identity_keys_on(conn, a), identity_keys_on(conn, b), brand_of)
                except CustomerError:
                    continue
            found.append((str(a), str(b), tuple(sorted(str(kinds).split(",")))))
    return found
