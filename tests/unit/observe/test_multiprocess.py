"""Worker processes' metrics reach the platform's exposition, merged by name and labels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from comind.observe.multiprocess import ENV, registry, reset

WORKER = """
from prometheus_client import Counter, Histogram
c = Counter("comind_t_records_total", "r", ["flow"])
c.labels("a").inc(3)
c.labels("b").inc(1)
h = Histogram("comind_t_step_seconds", "s", ["flow"], buckets=(0.1, 1))
h.labels("a").observe(0.5)
"""


def run_worker(path: Path) -> None:
    subprocess.run([sys.executable, "-c", WORKER], env={**os.environ, ENV: str(path)}, check=True)


def samples(reg: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(reg).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_worker_counters_and_histograms_are_summed_with_the_platforms(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    reset(metrics)
    base = CollectorRegistry()
    own = Counter("comind_t_records_total", "r", ["flow"], registry=base)
    own.labels("a").inc(10)
    run_worker(metrics)
    run_worker(metrics)  # two worker processes
    got = samples(registry(base, metrics))
    assert got[("comind_t_records_total", (("flow", "a"),))] == 16
    assert got[("comind_t_records_total", (("flow", "b"),))] == 2
    assert got[("comind_t_step_seconds_count", (("flow", "a"),))] == 2
    assert got[("comind_t_step_seconds_bucket", (("flow", "a"), ("le", "1.0")))] == 2
    assert got[("comind_t_step_seconds_bucket", (("flow", "a"), ("le", "0.1")))] == 0


def test_without_worker_files_the_platform_registry_is_exposed_as_is(tmp_path: Path) -> None:
    base = CollectorRegistry()
    Counter("comind_t_only_total", "o", registry=base).inc()
    reset(tmp_path / "m")
    assert samples(registry(base, tmp_path / "m"))[("comind_t_only_total", ())] == 1
    assert samples(registry(base, tmp_path / "missing"))[("comind_t_only_total", ())] == 1


FORGER = """
from prometheus_client import Counter, Gauge
c = Counter("comind_t_records_total", "r", ["flow"])
c.labels("a").inc(5)  # its own
c.labels("b").inc(1000)  # another flow's
Gauge("comind_t_engine_up", "u", ["engine"], multiprocess_mode="max").labels("pg").set(0)
"""


def test_a_flow_reports_only_its_own_series_and_bad_files_are_left_out(tmp_path: Path) -> None:
    """Red team 21f H2: a flow's folder is its code's to write; one file fired the platform's
    critical alerts, a malformed one made /metrics a 500, a FIFO hung the scrape."""
    metrics = tmp_path / "metrics"
    reset(metrics)
    (metrics / "a").mkdir()
    env = {**os.environ, ENV: str(metrics / "a")}
    subprocess.run([sys.executable, "-c", FORGER], env=env, check=True)
    (metrics / "b").mkdir()
    (metrics / "b" / "counter_1.db").write_bytes(b"\xff" * 64)  # does not parse
    os.mkfifo(metrics / "a" / "gauge_max_2.db")  # would block a reader for ever
    secret = tmp_path / "secret.db"
    secret.write_bytes(b"root's")
    (metrics / "a" / "counter_3.db").symlink_to(secret)
    base = CollectorRegistry()
    Counter("comind_t_only_total", "o", registry=base).inc()
    got = samples(registry(base, metrics))
    assert got[("comind_t_records_total", (("flow", "a"),))] == 5
    assert ("comind_t_records_total", (("flow", "b"),)) not in got
    assert not [k for k in got if k[0] == "comind_t_engine_up"]
    assert got[("comind_t_only_total", ())] == 1  # the platform's own, still exposed
