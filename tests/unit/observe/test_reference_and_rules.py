"""docs/metrics.md matches the registry; the generated alerting rules pass promtool's
checks and its unit tests (alerts fire and stay quiet when they should)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from comind.observe import dashboards, rules
from comind.platform.observe import metrics_markdown
from comind.spec import load_spec

ROOT = Path(__file__).resolve().parents[3]
RULE_TESTS = """\
rule_files: [rules.yaml]
evaluation_interval: 30s
tests:
  - interval: 30s
    input_series:
      - series: 'comind_engine_up{engine="postgres"}'
        values: '1 1 0 0 0 0'
      - series: 'comind_engine_up{engine="redis"}'
        values: '1 1 1 1 1 1'
      - series: 'comind_queue_messages{queue="orders/order-events-dlq",state="visible"}'
        values: '0 2 2 2 2 2 2 2 2 2 2 2 2'
      - series: 'comind_queue_messages{queue="orders/order-events",state="visible"}'
        values: '5 5 5 5 5 5 5 5 5 5 5 5 5'
      - series: 'comind_flow_records_total{flow="ingest-orders",outcome="dead_lettered"}'
        values: '0 0 0 0 1 1 1 1 1 1 1 1 1'
      - series: 'comind_flow_records_total{flow="ingest-orders",outcome="quarantined"}'
        values: '0+100x30'
      - series: 'comind_flow_records_total{flow="order-facts",outcome="quarantined"}'
        values: '0+10x30'
      - series: 'comind_backup_overdue_seconds'
        values: '0 0 0 3000 3601 3631'
      - series: 'comind_backup_rpo_seconds{database="orders"}'
        values: '10 40 200 400 500 600'
      - series: 'comind_backup_rpo_seconds{database="payments"}'
        values: '10 40 200 400 500 600'
      - series: 'comind_backup_restore_test_failed{kind="logical"}'
        values: '0 0 1 1 1 1'
    alert_rule_test:
      - eval_time: 1m
        alertname: ComindEngineDown
        exp_alerts: []
      - eval_time: 2m30s
        alertname: ComindEngineDown
        exp_alerts:
          - exp_labels: {severity: critical, engine: postgres}
            exp_annotations:
              summary: embedded engine postgres does not answer its health check
      - eval_time: 6m
        alertname: ComindDeadLettersPresent
        exp_alerts:
          - exp_labels: {severity: warning, queue: orders/order-events-dlq}
            exp_annotations: {summary: dead letters wait in orders/order-events-dlq}
      - eval_time: 1m
        alertname: ComindFlowDeadLetters
        exp_alerts: []
      - eval_time: 3m
        alertname: ComindFlowDeadLetters
        exp_alerts:
          - exp_labels: {severity: warning, flow: ingest-orders}
            exp_annotations:
              summary: flow ingest-orders dead-lettered records in the last 15 minutes
      - eval_time: 4m
        alertname: ComindFlowErrors
        exp_alerts: []
      - eval_time: 12m
        alertname: ComindFlowErrors
        exp_alerts:
          - exp_labels: {severity: warning, flow: ingest-orders}
            exp_annotations:
              summary: flow ingest-orders refuses over one record per second
                (quarantined or dead-lettered)
      - eval_time: 1m30s
        alertname: ComindBackupOverdue
        exp_alerts: []
      - eval_time: 2m
        alertname: ComindBackupOverdue
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: the scheduled backup has not completed for over an hour after
                its schedule fired
      - eval_time: 1m30s
        alertname: ComindBackupRPOExceeded
        exp_alerts: []
      - eval_time: 2m30s
        alertname: ComindBackupRPOExceeded
        exp_alerts:
          - exp_labels: {severity: critical, database: orders}
            exp_annotations:
              summary: "database orders: a restore now could lose more than its RPO of 5m"
      - eval_time: 1m
        alertname: ComindBackupRestoreTestFailed
        exp_alerts:
          - exp_labels: {severity: critical, kind: logical}
            exp_annotations:
              summary: "a logical backup failed its restore test: it may not restore
                (comind backup ls)"
"""


def test_the_metrics_reference_is_current() -> None:
    page = (ROOT / "docs" / "metrics.md").read_text()
    assert page == metrics_markdown(), "run: comind observe metrics --out docs/metrics.md"
    assert "`comind_queue_messages`" in page and "`comind_gitops_syncs_total`" in page


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: `make test` installs Debian's prometheus package"
    return found


def test_generated_rules_pass_promtool(tmp_path: Path) -> None:
    spec = load_spec(ROOT / "examples" / "shop")
    (tmp_path / "rules.yaml").write_text(rules.render(spec))
    check = subprocess.run([promtool(), "check", "rules", str(tmp_path / "rules.yaml")],
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    generated = sum(len(group["rules"]) for group in rules.rules(spec)["groups"])
    assert generated >= 14 and f"SUCCESS: {generated} rules found" in check.stdout
    (tmp_path / "tests.yaml").write_text(RULE_TESTS)
    test = subprocess.run([promtool(), "test", "rules", "tests.yaml"], cwd=tmp_path,
                          capture_output=True, text=True)  # fmt: skip
    assert test.returncode == 0, test.stdout + test.stderr


def test_a_broken_expression_is_caught_by_promtool(tmp_path: Path) -> None:
    broken = rules.rules(None)
    broken["groups"][0]["rules"][0]["expr"] = "comind_engine_up =="
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(broken))
    check = subprocess.run([promtool(), "check", "rules", str(tmp_path / "rules.yaml")],
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode != 0 and "could not parse expression" in check.stderr


def test_dashboards_read_only_metrics_the_platform_exports() -> None:
    exported = {line.split("`")[1] for line in metrics_markdown().splitlines()
                if line.startswith("| `")}  # fmt: skip
    for name in dashboards.DASHBOARDS:
        doc = dashboards.dashboard(name)
        assert doc["uid"] == f"comind-{name}" and doc["panels"]
        missing = dashboards.metric_names(name) - exported
        assert not missing, f"{name} reads metrics nobody exports: {missing}"
