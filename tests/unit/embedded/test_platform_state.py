"""state.json as a typed document: what the current platform writes reads back unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comind.embedded.home import StateDir
from comind.embedded.state import About, EngineStatus, PlatformState
from comind.errors import ComindError


def _engine(address: str, **changes: Any) -> dict[str, Any]:
    return {"state": "healthy", "pid": 4242, "address": address, "version": "16.4",
            "restarts": 0, "uptime_seconds": 12.3, "last_error": None, **changes}  # fmt: skip


# what EmbeddedPlatform.status() wrote before the API served, then once it served over TLS
STARTING = {"running": True, "version": "0.1.0", "pid": 100, "home": "/srv/comind",
            "started_at": 1764800000.5,
            "engines": {"postgres": _engine("127.0.0.1:5432"),
                        "redis": _engine("127.0.0.1:6379", restarts=2, last_error="died"),
                        "objects": _engine("file:///srv/comind/objects", pid=None)}}  # fmt: skip
SERVING = {**STARTING, "platform": "shop", "repo": "examples/shop", "env": None,
           "api_url": "https://10.0.0.5:8470", "metrics_url": "https://10.0.0.5:8470/metrics",
           "sqs_url": "https://10.0.0.5:8470", "s3_url": "https://10.0.0.5:8471",
           "apps": ["orders", "payments"], "api_listen": "0.0.0.0:8470",
           "tls_cert": "/srv/comind/tls/cert.pem", "tls_self_signed": True}  # fmt: skip


@pytest.mark.parametrize("written", [STARTING, SERVING], ids=["starting", "serving"])
def test_a_state_as_written_today_reads_back_to_the_same_json(
    tmp_path: Path, written: dict[str, Any]
) -> None:
    home = StateDir(tmp_path)
    home.state_file.write_text(json.dumps(written, indent=2, sort_keys=True))
    state = home.read_state()
    assert state is not None
    assert state.dump() == written
    home.write_state(state)
    assert json.loads(home.state_file.read_text()) == written


def test_the_fields_read_as_attributes() -> None:
    state = PlatformState.parse(SERVING, origin="test")
    assert state.engines["redis"].restarts == 2
    assert state.address("postgres") == ("127.0.0.1", 5432)
    assert state.healthy() and state.tls_self_signed and state.env is None
    assert not PlatformState.parse(STARTING, origin="test").healthy()


def test_what_the_api_did_not_set_stays_absent() -> None:
    about = About(platform="shop", api_url="http://127.0.0.1:8470", repo="r", env=None,
                  metrics_url="m", sqs_url="q", s3_url="s", apps=[])  # fmt: skip
    fields = {k: v for k, v in STARTING.items() if k != "engines"}
    engines = {"postgres": EngineStatus.model_validate(_engine("127.0.0.1:5432"))}
    dumped = PlatformState.of(about=about, engines=engines, **fields).dump()
    assert dumped["env"] is None and dumped["engines"]["postgres"]["last_error"] is None
    assert not {"api_listen", "tls_cert", "tls_self_signed"} & set(dumped)
    assert "api_url" not in PlatformState.of(about=None, engines=engines, **fields).dump()


def test_a_stopped_platform_shows_its_last_engines_stopped() -> None:
    stopped = PlatformState.parse(SERVING, origin="test").stopped(Path("/elsewhere")).dump()
    assert stopped == {**SERVING, "running": False, "home": "/elsewhere", "engines": {
        name: {**engine, "state": "stopped", "pid": None, "uptime_seconds": 0}
        for name, engine in SERVING["engines"].items()}}  # fmt: skip


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({**SERVING, "api_ulr": "x"}, "api_ulr: Extra inputs are not permitted"),
        ({**SERVING, "pid": "many"}, "pid: Input should be a valid integer"),
        ({k: v for k, v in SERVING.items() if k != "engines"}, "engines: Field required"),
        ([1, 2], "the document: Input should be a valid dictionary"),
    ],
)
def test_a_malformed_state_file_is_one_line_naming_it(
    tmp_path: Path, document: Any, says: str
) -> None:
    home = StateDir(tmp_path)
    home.state_file.write_text(json.dumps(document))
    with pytest.raises(ComindError) as caught:
        home.read_state()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"state file {home.state_file} is malformed: ")
    assert says in message


def test_every_path_of_the_state_directory_is_under_its_root(tmp_path: Path) -> None:
    home = StateDir(tmp_path)
    paths = [home.git, home.up_log, home.app_logs, home.engine_log("redis"), home.tls,
             home.restores, home.worker_metrics, home.state_file]  # fmt: skip
    assert all(tmp_path in path.parents for path in paths)
