"""The platform's side of OpenLineage run events and of kept run records.

Events are emitted by whichever process runs a flow: the flow workers (their emitter is
configured from the environment the platform gives them, ``COMIND_OPENLINEAGE_*``) and the
platform itself for runs an operator asks for. Stored events and trace spans are pruned by
the platform's retention sweep.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta

from comind.embedded.settings import Settings
from comind.governance.lineage_emitter import (
    API_KEY_ENV,
    URL_ENV,
    LineageEmitter,
    http_transport,
    register_secrets,
)
from comind.governance.lineage_event_store import RETENTION_DAYS, LineageEventStore
from comind.monitoring.spans import SpanStore
from comind.stores.postgres import Pool

SPAN_RETENTION = timedelta(days=1)  # traces of recent batches, not an archive
EVENT_RETENTION = timedelta(days=RETENTION_DAYS)


def lineage_env(settings: Settings) -> dict[str, str]:
    """What a flow worker needs to send its events to the configured endpoint too (its
    secrets registered for redaction here; the worker registers them again from its env)."""
    register_secrets(settings.openlineage_url, settings.openlineage_api_key)
    pairs = ((URL_ENV, settings.openlineage_url), (API_KEY_ENV, settings.openlineage_api_key))
    return {name: value for name, value in pairs if value}


def platform_emitter(settings: Settings, pool: Pool) -> LineageEmitter:
    """An emitter for runs the platform makes itself (closed with the run's engines)."""
    transport = http_transport(settings.openlineage_url, settings.openlineage_api_key)
    return LineageEmitter(LineageEventStore(pool), transport)


def worker_emitter(pool: Pool, env: Mapping[str, str] = os.environ) -> LineageEmitter:
    """A flow worker's emitter: stores through its platform-database login, sends to the
    endpoint its environment names."""
    transport = http_transport(env.get(URL_ENV), env.get(API_KEY_ENV))
    return LineageEmitter(LineageEventStore(pool), transport)


def prune_records(pool: Pool, now: datetime) -> None:
    """Retention of the run records kept in the platform database: spans and events."""
    SpanStore(pool).prune(now - SPAN_RETENTION)
    LineageEventStore(pool).prune(now - EVENT_RETENTION)
