"""Logs: JSON lines with extra fields, and registered secrets never written."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from comind.observe import logs


def test_json_log_lines_carry_fields_and_redact_secrets(tmp_path: Path) -> None:
    logs.setup(log_dir=tmp_path, terminal=False)
    logs.redact("s3cr3t-value-123")
    log = logging.getLogger("comind.test")
    log.info("connecting with %s", "s3cr3t-value-123", extra={"engine": "postgres"})
    try:
        raise RuntimeError("password=s3cr3t-value-123 rejected")
    except RuntimeError:
        log.exception("failed")
    lines = (tmp_path / "comind.jsonl").read_text().splitlines()
    first, second = json.loads(lines[0]), json.loads(lines[1])
    assert first["message"] == "connecting with ***"
    assert first["engine"] == "postgres"
    assert first["level"] == "info"
    assert "s3cr3t-value-123" not in "".join(lines)
    assert "password=*** rejected" in second["exception"]
