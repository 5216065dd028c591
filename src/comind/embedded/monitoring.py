"""A real Prometheus (and Alertmanager) beside the embedded platform (``comind up
--with-prometheus``), when their binaries are on PATH (Debian: ``prometheus``,
``prometheus-alertmanager``).

Prometheus scrapes the platform's ``/metrics`` with the generated rules; Alertmanager, when
present, receives its alerts and forwards them to the platform's alert webhooks. Both bind
loopback only (they have no authentication of their own), keep their data under the state
directory's ``monitoring/`` and are supervised like the other engines.
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from comind.embedded.engine import EngineError, ProcessEngine
from comind.embedded.home import StateDir
from comind.embedded.osuser import RunAs
from comind.embedded.ports import free_port

HOST = "127.0.0.1"
SCRAPE_SECONDS = 5  # the platform samples itself every 10 s; scrape at least as often


def find(*names: str) -> Path | None:
    for name in names:
        if found := shutil.which(name):
            return Path(found)
    return None


@dataclass(frozen=True)
class Scrape:
    """What Prometheus scrapes: the platform's base URL, the file holding the token it sends
    (``/metrics`` wants a viewer token) and, for a self-signed certificate, the file to verify
    it with."""

    url: str
    token_file: Path
    ca_file: Path | None = None


class _HttpEngine(ProcessEngine):
    """A monitoring server on a free loopback port, ready once ``/-/ready`` answers."""

    def __init__(self, home: StateDir, binary: Path, start_timeout: float) -> None:
        self.dir = home.monitoring(self.name)
        self.dir.mkdir(parents=True, exist_ok=True)
        super().__init__(log=home.engine_log(self.name), cwd=self.dir, run_as=RunAs(),
                         start_timeout=start_timeout)  # fmt: skip
        self.binary, self.port = binary, 0

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def check(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def read_version(self) -> str:
        return self.binary.name


class AlertmanagerEngine(_HttpEngine):
    name = "alertmanager"

    def __init__(self, home: StateDir, binary: Path, webhooks: list[str], timeout: float) -> None:
        super().__init__(home, binary, timeout)
        self.webhooks = webhooks

    def prepare(self) -> None:
        self.port = free_port(HOST)
        receiver = {"name": "comind", "webhook_configs": [{"url": u} for u in self.webhooks]}
        config = {"route": {"receiver": "comind", "group_wait": "1s", "group_interval": "10s",
                            "repeat_interval": "4h"}, "receivers": [receiver]}  # fmt: skip
        (self.dir / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    def argv(self) -> list[str]:
        return [str(self.binary), f"--config.file={self.dir / 'alertmanager.yml'}",
                f"--storage.path={self.dir / 'data'}", f"--web.listen-address={self.address}",
                f"--web.external-url={self.url}", "--cluster.listen-address="]  # fmt: skip


class PrometheusEngine(_HttpEngine):
    name = "prometheus"

    def __init__(
        self, home: StateDir, binary: Path, scrape: Scrape, rules: str, timeout: float,
        alertmanager: AlertmanagerEngine | None = None,
    ) -> None:  # fmt: skip
        super().__init__(home, binary, timeout)
        self.scrape, self.rules, self.alertmanager = scrape, rules, alertmanager

    def prepare(self) -> None:
        self.port = free_port(HOST)
        (self.dir / "rules.yml").write_text(self.rules)
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(self.config(), sort_keys=False))

    def config(self) -> dict[str, object]:
        target = urlsplit(self.scrape.url)
        job: dict[str, object] = {"job_name": "comind", "scheme": target.scheme,
                                  "static_configs": [{"targets": [target.netloc]}],
                                  "authorization": {"credentials_file":
                                                    str(self.scrape.token_file)}}  # fmt: skip
        if self.scrape.ca_file is not None:
            job["tls_config"] = {"ca_file": str(self.scrape.ca_file)}
        config: dict[str, object] = {
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s",
                       "evaluation_interval": f"{SCRAPE_SECONDS}s"},
            "rule_files": ["rules.yml"],
            "scrape_configs": [job],
        }  # fmt: skip
        if self.alertmanager is not None:
            config["alerting"] = {"alertmanagers": [
                {"static_configs": [{"targets": [self.alertmanager.address]}]}]}  # fmt: skip
        return config

    def argv(self) -> list[str]:
        return [str(self.binary), f"--config.file={self.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.dir / 'data'}", "--storage.tsdb.retention.time=15d",
                f"--web.listen-address={self.address}",
                f"--web.external-url={self.url}"]  # fmt: skip


def alertmanager_binary() -> Path | None:
    return find("prometheus-alertmanager", "alertmanager")


def monitoring_engines(
    home: StateDir, scrape: Scrape, rules: str, webhooks: list[str], timeout: float
) -> list[ProcessEngine]:
    """Alertmanager (when installed) and Prometheus, in start order; EngineError when
    Prometheus is not installed."""
    prometheus = find("prometheus")
    if prometheus is None:
        raise EngineError("--with-prometheus: no prometheus on PATH (Debian: apt install "
                          "prometheus)")  # fmt: skip
    found = alertmanager_binary()
    manager = AlertmanagerEngine(home, found, webhooks, timeout) if found else None
    engine = PrometheusEngine(home, prometheus, scrape, rules, timeout, manager)
    return [e for e in (manager, engine) if e is not None]
