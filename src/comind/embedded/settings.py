"""Typed settings of the embedded platform, read from ``COMIND_*`` environment variables.

Command-line flags override these; tests build a ``Settings`` directly so a
developer's shell cannot change their outcome.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the platform keeps its state and where its engines listen."""

    model_config = SettingsConfigDict(env_prefix="COMIND_", extra="ignore")

    home: Path = Field(default=Path(".comind"), description="State directory.")
    host: str = Field(default="127.0.0.1", description="Address every engine binds to.")
    api_port: int = Field(default=8470, ge=0, le=65535, description="0 picks a free port.")
    pg_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port once.")
    redis_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port once.")
    pg_bin: Path | None = Field(default=None, description="Directory holding pg_ctl/initdb.")
    postgres_url: str | None = Field(
        default=None, repr=False, description="A PostgreSQL of your own to run on instead of "
        "the embedded one (postgresql://SUPERUSER:PASSWORD@HOST:PORT/postgres?sslmode=...).",
    )  # fmt: skip
    redis_url: str | None = Field(
        default=None, repr=False, description="A Redis of your own to run on instead of the "
        "embedded one (redis://ADMIN:PASSWORD@HOST:PORT, rediss:// for TLS).",
    )  # fmt: skip
    redis_bin: Path | None = Field(default=None, description="Path of a redis-server binary.")
    redis_maxmemory: str = Field(
        default="0", pattern=r"^[0-9]+(kb|mb|gb)?$",
        description="Redis' memory cap (e.g. 2gb; 0: none). Past it, Redis evicts the least "
        "recently used keys that have a TTL (apps' cached values; counted per app).",
    )  # fmt: skip
    check_interval: float = Field(default=1.0, gt=0, description="Seconds between checks.")
    start_timeout: float = Field(default=60.0, gt=0, description="Seconds an engine may take.")
    sample_interval: float = Field(
        default=10.0, gt=0, description="Seconds between samples of the built-in time series."
    )
    quality_interval: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between SQL checks of the datasets that "
        "stream and event flows write (their quality rules).",
    )
    engine_tls: bool = Field(
        default=False,
        description="PostgreSQL accepts only TLS with a certificate of the platform's engine "
        "CA, clients verify it (on whenever the API or the engines listen beyond loopback).",
    )
    audit_anchor_interval: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between anchors of the audit chain's head in the backup store.",
    )
    log_retention_days: int = Field(default=7, ge=1, description="Days of logs kept.")
    artifact_keep: int = Field(default=10, ge=1, le=10_000, description="Versions of each "
                               "artifact kept (and any an environment runs).")  # fmt: skip
    alert_webhooks: str = Field(
        default="", description="Comma-separated URLs that receive alert notifications."
    )
    s3_port: int = Field(default=0, ge=0, le=65535, description="S3 endpoint port (0: free).")
    backup_store: str | None = Field(
        default=None, description="s3://BUCKET/PREFIX: backups, the WAL archive and audit "
        "anchors go there as they are written (on COMIND_S3_ENDPOINT, else AWS; credentials: "
        "the AWS_* variables); unset: the state directory's objects/comind-backups.",
    )  # fmt: skip
    object_store: str | None = Field(
        default=None, pattern=r"^(file|s3(:[a-z0-9][a-z0-9.-]*)?)$",
        description="`s3` or `s3:PREFIX`: the platform's buckets (the apps', artifacts, flow "
        "output, and backups unless COMIND_BACKUP_STORE says otherwise) are S3 buckets on "
        "COMIND_S3_ENDPOINT (else AWS), each named PREFIX + its name (credentials: the AWS_* "
        "variables); unset or `file`: the state directory's objects/.",
    )  # fmt: skip
    s3_endpoint: str | None = Field(
        default=None, description="URL of the S3 service s3:// sources are read from (MinIO, "
        "another platform's endpoint; unset: AWS). Credentials: the AWS_* variables.",
    )  # fmt: skip
    refresh_interval: float = Field(
        default=10.0, gt=0, description="Seconds between drift checks of the synced resources."
    )
    replica_key: SecretStr | None = Field(
        default=None, min_length=32, description="Run as one of several control-plane "
        "replicas on the same external engines (COMIND_POSTGRES_URL): the key, at least 32 "
        "characters and the same on every replica, that seals the secrets they share.",
    )  # fmt: skip
    webhook_secret: str | None = Field(
        default=None, repr=False, description="Git webhook secret (default: generated, kept)."
    )
    sealing_renew_days: int = Field(default=30, gt=0, description="Sealing key lifetime.")
    wal_archive: bool = Field(default=True, description="Archive WAL continuously (PITR).")
    backup_tests: bool = Field(default=True, description="Restore-test every backup.")
    backup_test_within: float = Field(
        default=3600.0, gt=0, description="Seconds within which each backup must have been "
        "restore-tested (later: comind_backup_restore_test_overdue_seconds, alerted).",
    )  # fmt: skip
    backup_test_budget: float = Field(
        default=7200.0, gt=0, description="Seconds a restore test may run on its restored "
        "copy before the copy is stopped and the test recorded as failed.",
    )  # fmt: skip
    backup_retest_hours: float = Field(
        default=24.0, gt=0, description="Hours after which the newest backup of each kind is "
        "restore-tested again.",
    )  # fmt: skip
    with_prometheus: bool = Field(
        default=False, description="Also run Prometheus (and Alertmanager) from PATH."
    )
    archive_timeout: int = Field(
        default=60, ge=0, description="Seconds after which a partly filled WAL segment is archived."
    )

    openlineage_url: str | None = Field(
        default=None, description="OpenLineage HTTP endpoint (e.g. Marquez) for run events."
    )
    openlineage_api_key: str | None = Field(
        default=None, repr=False, description="Bearer API key of the OpenLineage endpoint."
    )

    @property
    def webhook_urls(self) -> list[str]:
        """COMIND_ALERT_WEBHOOKS as a list."""
        return [u.strip() for u in self.alert_webhooks.split(",") if u.strip()]
