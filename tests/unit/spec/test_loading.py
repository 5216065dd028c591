"""Loading: the bundled example, overlays, positions in overlay files, file problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from comind.spec import SpecError, SpecIssue, deep_merge, load_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shop"


@pytest.mark.parametrize("env", [None, "dev", "stage", "prod"])
def test_the_shop_example_is_valid_in_every_environment(env: str | None) -> None:
    spec = load_spec(EXAMPLE, env=env)
    assert spec.platform.name == "shop"
    assert set(spec.apps) == {"orders", "payments", "analytics"}
    assert {f.kind for f in spec.flows.values()} == {"stream", "batch", "event"}
    assert len(spec.topics["order-placed"].subscribers) == 2
    assert all(q.dlq for app in spec.apps.values() for q in app.queues.values())


def test_the_prod_overlay_is_deep_merged() -> None:
    base, prod = load_spec(EXAMPLE), load_spec(EXAMPLE, env="prod")
    events_base = base.apps["orders"].queues["order-events"]
    events_prod = prod.apps["orders"].queues["order-events"]
    assert base.apps["orders"].cache is not None and base.apps["orders"].cache.ttl == 300
    assert prod.apps["orders"].cache is not None and prod.apps["orders"].cache.ttl == 900
    assert (events_base.retention, events_prod.retention) == (4 * 86400, 14 * 86400)
    assert events_prod.dlq is not None and events_prod.dlq.max_receives == 3
    assert events_prod.visibility_timeout == events_base.visibility_timeout  # kept from base
    assert prod.apps["orders"].queues.keys() == base.apps["orders"].queues.keys()


def test_deep_merge_replaces_lists_and_scalars() -> None:
    merged = deep_merge({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "d": {"x": 1}})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": {"x": 1}}


def test_an_error_in_an_overlay_points_into_the_overlay(tmp_path: Path) -> None:
    (tmp_path / "comind.yaml").write_text(
        "platform: {name: p}\nenvironments: {prod: {}}\napps:\n  web: {run: x, port: 80}\n"
    )
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "prod.yaml").write_text("apps:\n  web:\n    port: 99999\n")
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path, env="prod")
    assert [str(i) for i in err.value.issues] == [
        f"{tmp_path}/environments/prod.yaml:3:11: apps.web.port: must be <= 65535, got 99999"
    ]
    load_spec(tmp_path)  # the base alone is fine


def test_an_undeclared_environment_is_refused(tmp_path: Path) -> None:
    (tmp_path / "comind.yaml").write_text("platform: {name: p}\nenvironments: {dev: {}}\n")
    with pytest.raises(
        SpecError,
        match=r"comind.yaml:2:1: environments: environment 'qa' is "
        r"not declared \(declared: dev\)",
    ):
        load_spec(tmp_path, env="qa")


def test_a_missing_file_is_one_positioned_issue(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path)
    assert str(err.value) == (
        f"{tmp_path}/comind.yaml:1:1: file not found (a platform repo has comind.yaml at its root)"
    )


def test_a_spec_file_can_be_named_directly(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text("platform: {name: p}\n")
    assert load_spec(tmp_path / "other.yaml").platform.name == "p"


def test_issue_format() -> None:
    issue = SpecIssue(Path("comind.yaml"), 3, 7, "apps.web.port", "must be <= 65535")
    assert str(issue) == "comind.yaml:3:7: apps.web.port: must be <= 65535"
    assert str(SpecIssue(Path("c.yaml"), 1, 1, "", "invalid YAML")) == "c.yaml:1:1: invalid YAML"


def test_durations_and_aliases(tmp_path: Path) -> None:
    (tmp_path / "comind.yaml").write_text(
        "platform: {name: p}\napps:\n  web:\n    run: x\n    queues:\n"
        "      q: {visibility_timeout: 2m, retention: 1w, delay: 15}\n"
        "alerts:\n  - {name: A, expr: up == 0, for: 5m}\n"
    )
    spec = load_spec(tmp_path)
    queue = spec.apps["web"].queues["q"]
    assert (queue.visibility_timeout, queue.retention, queue.delay) == (120, 604800, 15)
    assert spec.alerts[0].for_ == 300
