"""Start-up and healing time of the embedded platform, against bare server starts.

Baseline: the same binaries started by hand the quickest way (``initdb`` with trust auth and
``postgres`` with defaults; ``redis-server`` with no config), timed until they answer a
query. Comind: ``EmbeddedPlatform.start`` (password auth, checksums, migrations, supervisor),
cold (empty state directory) and warm (existing data), and the time from ``kill -9`` of
PostgreSQL until the supervisor has it answering again.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import redis

from comind.embedded.osuser import require_traverse, service_user
from comind.embedded.platform import EmbeddedPlatform
from comind.embedded.ports import free_port
from comind.embedded.postgres import find_bin_dir
from comind.embedded.redis import find_binary
from comind.embedded.settings import Settings

ROUNDS = 5


def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        time.sleep(0.01)


def _pg_answers(port: int, password: str | None = None) -> bool:
    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user="postgres",
            password=password,
            dbname="postgres",
            connect_timeout=1,
        ) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def bare_postgres(root: Path) -> float:
    run_as, bin_dir, data = service_user(), find_bin_dir(None), root / "data"
    data.mkdir(mode=0o700, parents=True)
    run_as.chown(data)
    require_traverse(data, run_as)
    began = time.perf_counter()
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
        user=run_as.uid,
        group=run_as.gid,
    )
    port = free_port("127.0.0.1")
    proc = subprocess.Popen(
        [
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "unix_socket_directories=",
            "-c",
            "listen_addresses=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        user=run_as.uid,
        group=run_as.gid,
    )
    _until(lambda: _pg_answers(port))
    elapsed = time.perf_counter() - began
    proc.send_signal(signal.SIGINT)
    proc.wait()
    return elapsed


def bare_redis(root: Path) -> float:
    port = free_port("127.0.0.1")
    began = time.perf_counter()
    proc = subprocess.Popen(
        [str(find_binary(None)), "--port", str(port), "--dir", str(root), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=1)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    _until(answers)
    elapsed = time.perf_counter() - began
    client.close()
    proc.terminate()
    proc.wait()
    return elapsed


def comind_start(home: Path) -> tuple[float, EmbeddedPlatform]:
    platform = EmbeddedPlatform(Settings(home=home, api_port=0, check_interval=0.1))
    began = time.perf_counter()
    platform.start()
    return time.perf_counter() - began, platform


def heal(platform: EmbeddedPlatform) -> float:
    victim = platform.postgres.pid
    assert victim is not None
    began = time.perf_counter()
    os.kill(victim, signal.SIGKILL)
    _until(
        lambda: (
            platform.postgres.pid not in (None, victim)
            and platform.supervisor.states["postgres"].state == "healthy"
        )
    )
    return time.perf_counter() - began


def measure() -> dict[str, list[float]]:
    results: dict[str, list[float]] = {k: [] for k in (
        "bare postgres (initdb + start)", "bare redis-server start",
        "comind cold start (all engines)", "comind warm start (all engines)",
        "comind heal after kill -9 postgres")}  # fmt: skip
    for _ in range(ROUNDS):
        root = Path(tempfile.mkdtemp(prefix="comind-bench-"))
        root.chmod(0o711)  # PostgreSQL runs as another user as root: let it through
        try:
            results["bare postgres (initdb + start)"].append(bare_postgres(root / "bare"))
            results["bare redis-server start"].append(bare_redis(root))
            cold, platform = comind_start(root / "home")
            results["comind cold start (all engines)"].append(cold)
            results["comind heal after kill -9 postgres"].append(heal(platform))
            platform.stop()
            warm, platform = comind_start(root / "home")
            results["comind warm start (all engines)"].append(warm)
            platform.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return results


def table(results: dict[str, list[float]]) -> str:
    lines = ["| measurement | median s | min s | max s |", "|---|---:|---:|---:|"]
    for name, values in results.items():
        lines.append(
            f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |"
        )
    return "\n".join(lines)
