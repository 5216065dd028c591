"""The audit log's hash chain checked, anchored outside the database, and exported.

The chain itself is made by the database (migration 0020: a trigger gives every entry a
gapless ``seq``, the previous entry's hash and its own). :meth:`AuditChain.verify` walks it
page by page (bounded memory) recomputing each hash and names the first entry that breaks
it: **edited** (its hash is not that of its content), **deleted** (a gap in ``seq``, or the
chain ends before its head or an anchor), **inserted** (its ``prev_hash`` is not the hash of
the entry before it: an entry was put in, or the one before was edited and re-hashed).

A database superuser could rebuild the whole chain after an edit. So the platform writes
the chain's head to the backup store every few minutes (:meth:`AuditChain.anchor`, objects
``audit-anchors/<seq>.json``, never overwritten): a rebuilt chain no longer has the hash an
anchor recorded for its ``seq``, and a truncated one ends before an anchor. A restore of
the platform database to an earlier moment rolls the audit log back too: verify then
reports the entries after the restore point as deleted, which they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge

from comind.backup.base import BUCKET
from comind.observe.metrics import REGISTRY
from comind.stores.objects import ObjectStore
from comind.stores.postgres import Pool
from comind.stores.queries import named

_sql = named("comind.governance", "audit")
PREFIX = "audit-anchors/"
PAGE = 1000
ZERO = bytes(32)

ANCHOR_SEQ = Gauge("comind_audit_anchor_seq", "The audit entry (seq) the newest anchor in the "
                   "backup store records.", registry=REGISTRY)  # fmt: skip
VERIFY_FAILURES = Counter("comind_audit_verify_failures_total", "Audit verifications that "
                          "found the chain broken.", registry=REGISTRY)  # fmt: skip


@dataclass(frozen=True)
class Broken:
    seq: int
    id: int | None
    problem: str


@dataclass(frozen=True)
class Verdict:
    intact: bool
    entries: int
    anchors: int
    first_broken: Broken | None

    def doc(self) -> dict[str, Any]:
        return asdict(self)


class AuditChain:
    def __init__(self, pool: Pool, store: ObjectStore) -> None:
        self.pool, self.store = pool, store

    def anchor(self) -> int:
        """The chain's head written to the backup store (once per seq); returns its seq."""
        with self.pool.connection() as conn:
            row = conn.execute(_sql("head")).fetchone()
        seq, digest = (int(row[0]), bytes(row[1])) if row else (0, ZERO)
        if seq:
            self.store.create_bucket(BUCKET)
            key = f"{PREFIX}{seq:020d}.json"
            if self.store.head(BUCKET, key) is None:
                at = datetime.now(UTC).isoformat(timespec="seconds")
                doc = {"seq": seq, "hash": digest.hex(), "at": at}
                self.store.put(BUCKET, key, json.dumps(doc).encode())
            ANCHOR_SEQ.set(seq)
        return seq

    def anchors(self) -> list[tuple[int, bytes]]:
        if self.store.bucket_config(BUCKET) is None:
            return []
        found = []
        for info in self.store.list(BUCKET, PREFIX):
            doc = json.loads(self.store.get(BUCKET, info.key))
            found.append((int(doc["seq"]), bytes.fromhex(doc["hash"])))
        return sorted(found)

    def verify(self) -> Verdict:
        anchors = self.anchors()
        count, broken = self._walk()
        if broken is None:
            broken = self._against_anchors(anchors, count)
        if broken is not None:
            VERIFY_FAILURES.inc()
        return Verdict(broken is None, count, len(anchors), broken)

    def _walk(self) -> tuple[int, Broken | None]:
        expected, prev, count = 1, ZERO, 0
        for row_id, seq, prev_hash, digest, recomputed, ambiguous in self._rows():
            count += 1
            if seq != expected:
                return count, Broken(expected, None, f"deleted: entries {expected} to {seq - 1} "
                                                     "are missing")  # fmt: skip
            if bytes(prev_hash) != prev:
                return count, Broken(seq, row_id, "inserted: its prev_hash is not the hash of "
                                     "the entry before it (an entry was put in here, or the "
                                     "one before was edited and re-hashed)")  # fmt: skip
            if bytes(digest) != bytes(recomputed):
                return count, Broken(seq, row_id, "edited: its content no longer has its hash")
            if ambiguous:
                return count, Broken(seq, row_id, "edited: a field holds the separator the hash "
                                     "joins fields with, or is null")  # fmt: skip
            expected, prev = seq + 1, bytes(digest)
        with self.pool.connection() as conn:
            head = conn.execute(_sql("head")).fetchone()
        if head and int(head[0]) >= expected:
            return count, Broken(expected, None, f"deleted: the chain ends at {expected - 1}, "
                                                 f"its head is {head[0]}")  # fmt: skip
        return count, None

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        after = 0
        while True:
            with self.pool.connection() as conn:
                rows = conn.execute(_sql("page"), {"after": after, "limit": PAGE}).fetchall()
            yield from rows
            if len(rows) < PAGE:
                return
            after = int(rows[-1][1])

    def _against_anchors(self, anchors: list[tuple[int, bytes]], count: int) -> Broken | None:
        with self.pool.connection() as conn:
            for seq, digest in anchors:
                row = conn.execute(_sql("at_seq"), {"seq": seq}).fetchone()
                if row is None:
                    return Broken(seq, None, f"deleted: an anchor in the backup store records "
                                  f"entry {seq}, the chain has {count}")  # fmt: skip
                if bytes(row[0]) != digest:
                    return Broken(seq, None, "rewritten: the chain no longer has the hash an "
                                  "anchor in the backup store recorded for this entry")  # fmt: skip
        return None

    def export(self, after: int, since: datetime, limit: int) -> list[dict[str, Any]]:
        """Entries after ``seq`` ``after`` and at or after ``since``, oldest first, each with
        its seq and hashes so that an auditor can re-check the chain offline."""
        keys = ("seq", "id", "at", "actor", "action", "target", "outcome", "detail",
                "prev_hash", "hash")  # fmt: skip
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("export"), {"after": after, "since": since,
                                                 "limit": limit}).fetchall()  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]
