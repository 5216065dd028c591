"""Anonymizing declared PII fields: records/s on one core, the platform's operators against
the ones they replaced, on the same records in the same run.

Records carry an email, a phone number, a date of birth, an IP address and a national id.
``platform``: the PII guard a flow applies before its sinks (flows/privacy.py) with
hash (HMAC-SHA256 under the keyring's PII key), mask (keep 4), generalize month,
generalize network (/24) and encrypt (AES-256-GCM under a dataset data key).
``baseline``: the operators before issue 17 on the same five fields (plain SHA-256, mask,
and a set-to-null redact for the other three), i.e. the cost of doing it right.
``tokenize``: the same guard tokenizing the email through the token vault of a real
PostgreSQL (embedded), every value new (one round trip per value: the worst case).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from comind.flows.privacy import PiiGuard
from comind.flows.records import Record
from comind.governance.privacy import DataKeyRef, PiiKeys
from comind.spec.pii import PiiHandling

N = int(os.environ.get("BENCH_ANONYMIZE_RECORDS", "1000000"))
BATCH = 500
KEYS = PiiKeys(os.urandom(32), {"dataset/people": DataKeyRef("dk-bench", os.urandom(32))})
FIELDS = {
    "email": PiiHandling(operator="hash"),
    "phone": PiiHandling(operator="mask", keep=4),
    "born": PiiHandling(operator="generalize", generalize="month"),
    "ip": PiiHandling(operator="generalize", generalize="network"),
    "ssn": PiiHandling(operator="encrypt"),
}
Row = tuple[str, int, float, float]  # case, records, seconds, records/s


def person(i: int) -> dict[str, Any]:
    born, ip = f"19{i % 90 + 10}-0{i % 9 + 1}-1{i % 9}", f"10.{i % 250}.{i % 7}.{i % 200}"
    ssn = f"{i % 900 + 100}-{i % 90 + 10}-{i % 9000 + 1000}"
    return {"id": i, "email": f"user{i}@example.com", "phone": f"+31 6 {i:08d}", "born": born,
            "ip": ip, "ssn": ssn, "total": i % 1000}  # fmt: skip


def _sha(v: Any) -> str:
    return hashlib.sha256(str(v).encode()).hexdigest()


def _mask(v: Any) -> str:
    s = str(v)
    return "*" * (len(s) - 4) + s[-4:]


def baseline(records: list[Record]) -> None:
    for r in records:
        v = r.value
        v["email"], v["phone"] = _sha(v["email"]), _mask(v["phone"])
        v["born"] = v["ip"] = v["ssn"] = None


def _timed(case: str, n: int, apply: Callable[[list[Record]], None]) -> Row:
    values = [person(i) for i in range(n)]
    began = time.process_time()  # CPU seconds of this process: records/s per core
    for start in range(0, n, BATCH):
        apply([Record(v) for v in values[start : start + BATCH]])
    seconds = time.process_time() - began
    return case, n, seconds, n / seconds


def anonymization() -> list[Row]:
    guard = PiiGuard({f: ("dataset/people", h) for f, h in FIELDS.items()}, KEYS, None, "bench")
    rows = [_timed("baseline: sha256 + mask + null", N, baseline),
            _timed("platform: hash, mask, month, /24, encrypt", N, guard.apply)]  # fmt: skip
    rows.append(_tokenize(min(N, 20_000)))
    return rows


def _tokenize(n: int) -> Row:
    from comind.embedded.platform import EmbeddedPlatform
    from comind.embedded.settings import Settings
    from comind.governance.sealbox import SealBox
    from comind.governance.tokens import Tokenizer, TokenVault
    from comind.stores.migrations import migrate
    from comind.stores.postgres import make_pool, superuser

    with tempfile.TemporaryDirectory() as root:
        engines = EmbeddedPlatform(Settings(home=Path(root), api_port=0, wal_archive=False))
        engines.start()
        try:
            target = superuser(engines.postgres)
            migrate(target)
            pool = make_pool(target, max_size=2)
            TokenVault(pool, SealBox(os.urandom(32), "token-vault")).publish()
            tokenize = {"email": ("dataset/people", PiiHandling(operator="tokenize"))}
            guard = PiiGuard(tokenize, KEYS, Tokenizer(pool, KEYS.hmac), "bench")
            began = time.perf_counter()  # wall clock: the vault's round trips dominate
            row = _timed("tokenize (vault in PostgreSQL, every value new)", n, guard.apply)
            wall = time.perf_counter() - began
            pool.close()
            return row[0], n, wall, n / wall
        finally:
            engines.stop()


def table(rows: list[Row]) -> str:
    lines = ["| case | records | seconds | records/s |", "|---|---:|---:|---:|"]
    lines += [f"| {c} | {n:,} | {s:.2f} | {r:,.0f} |" for c, n, s, r in rows]
    return "\n".join(lines)


def main() -> None:
    print(table(anonymization()))


if __name__ == "__main__":
    main()
