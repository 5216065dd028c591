"""The comind.yaml model (pydantic v2): shapes, types, defaults and limits.

Every model forbids unknown keys and is strict about types (YAML already gives
typed values; "5" is not a number). Rules that span sections (a flow's source queue
exists, names are DNS labels, no dependency cycles) live in ``references``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)?$")
_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?LW#]+$")
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def parse_duration(value: Any) -> Any:
    """``90``, ``90s``, ``5m``, ``12h``, ``4d``, ``1w`` -> seconds (int)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return value
    if isinstance(value, int):
        return value
    match = _DURATION.match(value.strip())
    if not match or match[2] == "ms":
        raise ValueError(f"expected a duration like 30s, 5m, 12h or 4d, got {value!r}")
    return int(match[1]) * _UNITS[match[2]]


def _cron(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    fields = text.split()
    if text in _CRON_MACROS or (len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)):
        return text
    raise ValueError(f"expected a cron expression with 5 fields (e.g. '0 1 * * *'), got {value!r}")


DURATION = BeforeValidator(parse_duration)
Duration = Annotated[int, DURATION]
Cron = Annotated[str, BeforeValidator(_cron)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)


def _exactly_one(model: BaseModel, names: tuple[str, ...], what: str) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise ValueError(f"{what} needs exactly one of {', '.join(names)}")


class PlatformMeta(Strict):
    name: str
    description: str | None = None


class SyncPolicy(Strict):
    auto: bool = True
    self_heal: bool = True
    require_ci: bool = False
    require_signoff: bool = False
    prune: bool = True
    poll_interval: Duration = Field(180, ge=5)


class Environment(Strict):
    sync: SyncPolicy = SyncPolicy()
    branch: str | None = None


class Health(Strict):
    http: str | None = None
    tcp: int | None = Field(None, ge=1, le=65535)
    command: str | None = None
    initial_delay: Duration = Field(0, ge=0)
    period: Duration = Field(10, ge=1)

    @model_validator(mode="after")
    def _one(self) -> Health:
        _exactly_one(self, ("http", "tcp", "command"), "health")
        return self


class Backup(Strict):
    schedule: Cron | None = None
    keep_full: int = Field(4, ge=1, le=1000)
    keep_days: int | None = Field(None, ge=1)
    pitr: bool = False


DeletionPolicy = Literal["retain", "delete"]


class Database(Strict):
    name: str | None = None
    deletion_policy: DeletionPolicy = "retain"
    extensions: list[str] = []
    backup: Backup | None = None


class Cache(Strict):
    ttl: Duration = Field(300, ge=0)


class Bucket(Strict):
    name: str
    versioning: bool = False
    encrypted: bool = False
    deletion_policy: DeletionPolicy = "retain"


class DeadLetter(Strict):
    max_receives: int = Field(5, ge=1, le=1000)
    retention: Duration = Field(14 * 86400, ge=60, le=14 * 86400)


class Queue(Strict):
    visibility_timeout: Duration = Field(30, ge=0, le=43200)
    delay: Duration = Field(0, ge=0, le=900)
    retention: Duration = Field(4 * 86400, ge=60, le=14 * 86400)
    max_message_size: int = Field(1048576, ge=1024, le=1048576)
    fifo: bool = False
    content_based_dedup: bool = False
    dlq: DeadLetter | None = None
    deletion_policy: DeletionPolicy = "retain"


class App(Strict):
    run: str
    team: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    health: Health | None = None
    env: dict[str, str] = {}
    secrets: list[str] = []
    depends_on: list[str] = []
    database: Database | None = None
    cache: Cache | None = None
    bucket: Bucket | None = None
    queues: dict[str, Queue] = {}


def _subscriber(value: Any) -> Any:
    return {"queue": value} if isinstance(value, str) else value


class Subscriber(Strict):
    queue: str
    filter: dict[str, Any] | None = None
    raw: bool = True


class Topic(Strict):
    subscribers: list[Annotated[Subscriber, BeforeValidator(_subscriber)]] = []


PiiAction = Literal["hash", "mask", "redact", "tokenize", "encrypt"]
QUALITY_RULES = ("not_null", "unique", "range", "regex", "accepted")
STEP_KINDS = (
    "validate",
    "cleanse",
    "map",
    "filter",
    "enrich",
    "route",
    "anonymize",
    "python",
    "quality",
    "encrypt",
    "aggregate",
)


class Dataset(Strict):
    store: str
    schema_: str | None = Field(None, alias="schema")
    description: str | None = None
    owner: str | None = None
    pii: dict[str, PiiAction] = {}
    quality: list[dict[str, Any]] = []


class Partition(Strict):
    by: Literal["hour", "day", "month", "hash"]
    field: str
    buckets: int | None = Field(None, ge=2, le=4096)
    lookback: int = Field(1, ge=1, le=366)  # complete partitions each scheduled run (re)runs


class Sink(Strict):
    postgres: str | None = None
    objects: str | None = None
    queue: str | None = None
    topic: str | None = None
    redis: str | None = None
    upsert_on: list[str] = []
    format: Literal["parquet", "jsonl"] = "parquet"
    ttl: Duration | None = Field(None, ge=1)
    partition: Partition | None = None  # a postgres sink's table, range- or hash-partitioned

    @model_validator(mode="after")
    def _one(self) -> Sink:
        _exactly_one(self, ("postgres", "objects", "queue", "topic", "redis"), "a sink")
        return self


class ErrorPolicy(Strict):
    retries: int = Field(3, ge=0, le=100)
    backoff: Literal["fixed", "exponential"] = "exponential"
    dead_letter: bool = True
    step_timeout: Duration = Field(30, ge=1, le=3600)


class Batching(Strict):
    size: int = Field(100, ge=1, le=100000)
    max_wait: Duration = Field(1, ge=0, le=3600)


class Window(Strict):
    kind: Literal["tumbling", "sliding"]
    size: Duration = Field(ge=1)
    slide: Duration | None = Field(None, ge=1)
    field: str
    allowed_lateness: Duration = Field(0, ge=0)
    key: str | None = None
    sum: list[str] = []

    @model_validator(mode="after")
    def _slide(self) -> Window:
        if self.kind == "sliding" and (self.slide is None or self.slide > self.size):
            raise ValueError("a sliding window needs slide: no longer than its size")
        if self.kind == "tumbling" and self.slide is not None:
            raise ValueError("a tumbling window has no slide (use kind: sliding)")
        return self


class Flow(Strict):
    kind: Literal["stream", "batch", "event"]
    source: str
    steps: list[dict[str, Any]] = []
    sink: Sink | None = None
    sinks: dict[str, Sink] = {}
    schedule: Cron | None = None
    on_demand: bool = False
    partition: Partition | None = None
    errors: ErrorPolicy = ErrorPolicy()
    batch: Batching | None = None
    window: Window | None = None
    parallelism: int = Field(1, ge=1, le=64)
    cursor: str | None = None  # the growing column a postgres:// stream source reads by


class Alert(Strict):
    name: str
    expr: str
    for_: Duration = Field(0, alias="for", ge=0)
    severity: Literal["info", "warning", "critical"] = "warning"
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class Spec(Strict):
    """A whole comind.yaml (after environment overlays)."""

    platform: PlatformMeta
    environments: dict[str, Environment] = {}
    apps: dict[str, App] = {}
    topics: dict[str, Topic] = {}
    datasets: dict[str, Dataset] = {}
    flows: dict[str, Flow] = {}
    alerts: list[Alert] = []
