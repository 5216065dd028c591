"""Object store throughput, encrypted bucket vs plain bucket, on the same data in the same run.

The file store of a temp directory (the platform's own, on its disk), one bucket with
``encrypted: true`` and one without, the keyring in a temp secrets directory. Workloads:
PUT and GET of 64 MiB objects (streamed in 1 MiB blocks, as the S3 endpoint streams), a
1 MiB range GET in the middle of each, and PUT and GET of 1,000 objects of 64 KiB. MB/s are
plaintext bytes over wall-clock seconds (the best of ``ROUNDS``: the machine is shared);
the ratio is encrypted over plain (goal: at least 0.7).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from comind.governance.keyring import Keyring
from comind.stores.objects import FileObjectStore

MIB = 1 << 20
BIG, BIG_COUNT, SMALL, SMALL_COUNT, ROUNDS = 64 * MIB, 3, 64 * 1024, 1000, 3
Row = tuple[str, float, float, float]  # workload, plain MB/s, encrypted MB/s, ratio


def _blocks(total: int, seed: bytes) -> Iterator[bytes]:
    block = (seed * (MIB // len(seed) + 1))[:MIB]
    for start in range(0, total, MIB):
        yield block[: min(MIB, total - start)]


def _best(work: Callable[[], int]) -> float:
    """MB/s of the fastest of ``ROUNDS`` runs of ``work`` (which returns its bytes)."""
    best = 0.0
    for _ in range(ROUNDS):
        began = time.perf_counter()
        size = work()
        best = max(best, size / MIB / (time.perf_counter() - began))
    return best


def _workloads(store: FileObjectStore, bucket: str) -> dict[str, float]:
    seed = os.urandom(4096)  # incompressible-looking, the same for both buckets

    def put_big() -> int:
        for n in range(BIG_COUNT):
            store.put_stream(bucket, f"big/{n}", _blocks(BIG, seed))
        return BIG * BIG_COUNT

    def get_big() -> int:
        return sum(len(b) for n in range(BIG_COUNT) for b in store.get_stream(bucket, f"big/{n}"))

    def get_range() -> int:
        middle = BIG // 2 + 12345
        got = 0
        for n in range(BIG_COUNT):
            got += sum(
                len(b) for b in store.open(bucket, f"big/{n}").blocks(middle, middle + MIB - 1)
            )
        return got

    small = seed * (SMALL // len(seed))

    def put_small() -> int:
        for n in range(SMALL_COUNT):
            store.put(bucket, f"small/{n:04d}", small)
        return SMALL * SMALL_COUNT

    def get_small() -> int:
        return sum(len(store.get(bucket, f"small/{n:04d}")) for n in range(SMALL_COUNT))

    return {
        f"PUT {BIG_COUNT} x 64 MiB": _best(put_big),
        f"GET {BIG_COUNT} x 64 MiB": _best(get_big),
        "GET 1 MiB range of each 64 MiB": _best(get_range),
        f"PUT {SMALL_COUNT:,} x 64 KiB": _best(put_small),
        f"GET {SMALL_COUNT:,} x 64 KiB": _best(get_small),
    }


def encryption() -> list[Row]:
    """The rows of the table: per workload, plain and encrypted MB/s and their ratio."""
    with tempfile.TemporaryDirectory(prefix="comind-bench-enc-") as tmp:
        store = FileObjectStore(Path(tmp) / "objects", Keyring(Path(tmp) / "secrets"))
        for bucket, encrypted in (("plain", False), ("sealed", True)):
            store.create_bucket(bucket)
            store.configure_bucket(bucket, {"encrypted": encrypted, "versioning": False})
        plain, sealed = _workloads(store, "plain"), _workloads(store, "sealed")
    return [(name, plain[name], sealed[name], sealed[name] / plain[name]) for name in plain]


def table(rows: list[Row]) -> str:
    lines = ["| workload | plain MB/s | encrypted MB/s | ratio |", "|---|---:|---:|---:|"]
    lines += [f"| {w} | {p:,.0f} | {e:,.0f} | {r:.2f} |" for w, p, e, r in rows]
    return "\n".join(lines)


def main() -> None:
    print(table(encryption()))


if __name__ == "__main__":
    main()
