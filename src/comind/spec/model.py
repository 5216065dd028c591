"""The comind.yaml model (pydantic v2): shapes, types, defaults and limits.

Every model forbids unknown keys and is strict about types (YAML already gives
typed values; "5" is not a number). Rules that span sections (a flow's source queue
exists, names are DNS labels, no dependency cycles) live in ``references``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from comind.spec.pii import PiiFields, PiiHandling
from comind.spec.scalars import Cron, Duration, Size, parse_duration, seconds, within
from comind.spec.steps import QualityRules, Step
from comind.spec.strict import Strict

__all__ = [
    "Cron",
    "Duration",
    "PiiHandling",
    "Strict",
    "parse_duration",
]  # re-exported: callers parse --since with it


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
    poll_interval: Annotated[Duration, within(5)] = seconds(180)


class Environment(Strict):
    sync: SyncPolicy = SyncPolicy()
    branch: str | None = None
    # the commit this environment runs instead of its branch's newest (comind promote)
    revision: str | None = Field(None, pattern=r"^[0-9a-f]{7,64}$")


class Health(Strict):
    http: str | None = None
    tcp: int | None = Field(None, ge=1, le=65535)
    command: str | None = None
    initial_delay: Duration = seconds(0)
    period: Annotated[Duration, within(1)] = seconds(10)

    @model_validator(mode="after")
    def _one(self) -> Health:
        _exactly_one(self, ("http", "tcp", "command"), "health")
        return self


class Backup(Strict):
    schedule: Cron | None = None
    keep_full: int = Field(4, ge=1, le=1000)
    keep_days: int | None = Field(None, ge=1)
    pitr: bool = False
    # objectives, alerted against comind_backup_rpo_seconds / _rto_seconds; the WAL is
    # archived at least every minute, so a smaller RPO is a promise it could not keep
    rpo: Annotated[Duration, within(60, 30 * 86400)] | None = None
    rto: Annotated[Duration, within(10, 30 * 86400)] | None = None


DeletionPolicy = Literal["retain", "delete"]


class Database(Strict):
    name: str | None = None
    deletion_policy: DeletionPolicy = "retain"
    extensions: list[str] = []
    backup: Backup | None = None
    # the app role's CONNECTION LIMIT: one app cannot take every connection of the server
    max_connections: int = Field(20, ge=1, le=1000)


class Cache(Strict):
    ttl: Duration = seconds(300)


class Versions(Strict):
    """How long a versioned bucket keeps the versions that an overwrite or a delete replaced
    (S3's noncurrent-version expiration): each for ``keep_for`` after it was replaced, and
    the newest ``keep_newest`` of a key whatever their age."""

    keep_for: Annotated[Duration, within(60, 3650 * 86400)] = seconds(30 * 86400)
    keep_newest: int = Field(1, ge=0, le=1000)


class Bucket(Strict):
    name: str
    versioning: bool = False
    versions: Versions | None = None  # None: a versioned bucket keeps every version
    encrypted: bool = False
    deletion_policy: DeletionPolicy = "retain"

    @model_validator(mode="after")
    def _versions_need_versioning(self) -> Bucket:
        if self.versions is not None and not self.versioning:
            raise ValueError("versions: needs versioning: true (an unversioned bucket keeps "
                             "no replaced versions to expire)")  # fmt: skip
        return self


class DeadLetter(Strict):
    max_receives: int = Field(5, ge=1, le=1000)
    retention: Annotated[Duration, within(60, 14 * 86400)] = seconds(14 * 86400)


class Queue(Strict):
    visibility_timeout: Annotated[Duration, within(0, 43200)] = seconds(30)
    delay: Annotated[Duration, within(0, 900)] = seconds(0)
    retention: Annotated[Duration, within(60, 14 * 86400)] = seconds(4 * 86400)
    max_message_size: Size = Field(1048576, ge=1024, le=1048576)
    fifo: bool = False
    content_based_dedup: bool = False
    dlq: DeadLetter | None = None
    deletion_policy: DeletionPolicy = "retain"


class App(Strict):
    run: str
    # NAME@VERSION of the artifact registry: the app runs from that archive's content
    # instead of the repository's folder (comind artifact push)
    artifact: str | None = Field(
        None, pattern=r"^[a-z0-9][a-z0-9._-]{0,99}@[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$"
    )
    team: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    health: Health | None = None
    env: dict[str, str] = {}
    secrets: list[str] = []
    depends_on: list[str] = []
    publishes: list[str] = []  # topics its outbox may publish to (sdk.events.publish)
    database: Database | None = None
    cache: Cache | None = None
    bucket: Bucket | None = None
    queues: dict[str, Queue] = {}

    @model_validator(mode="after")
    def _outbox(self) -> App:
        if self.publishes and self.database is None:
            raise ValueError("publishes needs a database: the app's outbox is in it")
        return self


def _subscriber(value: Any) -> Any:
    return {"queue": value} if isinstance(value, str) else value


class Subscriber(Strict):
    queue: str
    filter: dict[str, Any] | None = None
    raw: bool = True


class Topic(Strict):
    subscribers: list[Annotated[Subscriber, BeforeValidator(_subscriber)]] = []


class Dataset(Strict):
    store: str
    schema_: str | None = Field(None, alias="schema")
    description: str | None = None
    owner: str | None = None
    pii: PiiFields = {}
    quality: QualityRules = []


class Partition(Strict):
    by: Literal["hour", "day", "month", "hash"]
    field: str
    buckets: int | None = Field(None, ge=2, le=4096)
    lookback: int = Field(1, ge=1, le=366)  # complete partitions each scheduled run (re)runs


_ATTRIBUTE = re.compile(r"^(?!aws\.|amazon\.)(?!.*\.\.)(?!\.)[A-Za-z0-9_.-]{1,256}(?<!\.)\Z", re.I)


def _attribute_name(name: str) -> str:
    """A name SQS and SNS take for a message attribute."""
    if not _ATTRIBUTE.match(name):
        raise ValueError(f"'{name}' is not a message attribute name (letters, digits, _ - . "
                         "up to 256; not starting with AWS. or Amazon.)")  # fmt: skip
    return name


class Sink(Strict):
    postgres: str | None = None
    objects: str | None = None
    queue: str | None = None
    topic: str | None = None
    redis: str | None = None
    upsert_on: list[str] = []
    format: Literal["parquet", "jsonl"] = "parquet"
    ttl: Annotated[Duration, within(1)] | None = None
    partition: Partition | None = None  # a postgres sink's table, range- or hash-partitioned
    # record fields each message carries as attributes (what subscription filters match)
    attributes: list[Annotated[str, AfterValidator(_attribute_name)]] = Field([], max_length=10)

    @model_validator(mode="after")
    def _one(self) -> Sink:
        _exactly_one(self, ("postgres", "objects", "queue", "topic", "redis"), "a sink")
        for option, target in (("upsert_on", "postgres"), ("format", "objects"), ("ttl", "redis")):
            if option in self.model_fields_set and getattr(self, target) is None:
                raise ValueError(f"{option} applies to {target} sinks only")
        if self.attributes and self.queue is None and self.topic is None:
            raise ValueError("attributes applies to queue and topic sinks only")
        if len(set(self.attributes)) != len(self.attributes):
            raise ValueError("attributes names a field twice")
        return self


class ErrorPolicy(Strict):
    retries: int = Field(3, ge=0, le=100)
    backoff: Literal["fixed", "exponential"] = "exponential"
    dead_letter: bool = True
    step_timeout: Annotated[Duration, within(1, 3600)] = seconds(30)


class Batching(Strict):
    size: int = Field(100, ge=1, le=100000)
    max_wait: Annotated[Duration, within(0, 3600)] = seconds(1)


class Window(Strict):
    kind: Literal["tumbling", "sliding"]
    size: Annotated[Duration, within(1)]
    slide: Annotated[Duration, within(1)] | None = None
    field: str
    allowed_lateness: Duration = seconds(0)
    # processing time without a new event after which the watermark moves on by itself
    idle_timeout: Annotated[Duration, within(1)] | None = None
    key: str | None = None
    sum: list[str] = []

    @property
    def idle(self) -> timedelta:
        """The idle timeout, by default the window's size plus its allowed lateness."""
        return self.idle_timeout or self.size + self.allowed_lateness

    @model_validator(mode="after")
    def _slide(self) -> Window:
        if self.kind == "sliding" and (self.slide is None or self.slide > self.size):
            raise ValueError("a sliding window needs slide: no longer than its size")
        if self.kind == "tumbling" and self.slide is not None:
            raise ValueError("a tumbling window has no slide (use kind: sliding)")
        return self


SOURCE_SCHEMES = ("queue", "topic", "postgres", "objects", "http")


@dataclass(frozen=True)
class SourceRef:
    """A flow's source URI, taken apart: ``queue://app/q`` is scheme ``queue``, target
    ``app/q`` (a ``?query`` after a postgres table is not part of the target)."""

    scheme: str
    target: str

    @property
    def app(self) -> str:
        return self.target.partition("/")[0]

    @property
    def name(self) -> str:
        return self.target.partition("/")[2]


def parse_source(uri: str) -> SourceRef:
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in SOURCE_SCHEMES:
        schemes = ", ".join(s + "://" for s in SOURCE_SCHEMES)
        raise ValueError(f"expected a source URI ({schemes}), got '{uri}'")
    return SourceRef(scheme, rest.partition("?")[0] if scheme == "postgres" else rest)


def _source_uri(uri: str) -> str:
    parse_source(uri)
    return uri


class QuarantinePolicy(Strict):
    """How long a flow's quarantined records are kept (the platform deletes older ones)."""

    retention: Annotated[Duration, within(60, 366 * 86400)] = seconds(7 * 86400)


class Flow(Strict):
    kind: Literal["stream", "batch", "event"]
    source: Annotated[str, AfterValidator(_source_uri)]
    steps: list[Step] = []
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
    quarantine: QuarantinePolicy = QuarantinePolicy()

    @property
    def source_ref(self) -> SourceRef:
        """The source, taken apart (it validated, so this cannot fail)."""
        return parse_source(self.source)

    @property
    def every_sink(self) -> list[Sink]:
        """The default sink, if any, and the named ones."""
        return [s for s in (self.sink, *self.sinks.values()) if s is not None]

    @property
    def written_datasets(self) -> list[str]:
        """The datasets its postgres sinks write, in order."""
        return [s.postgres for s in self.every_sink if s.postgres is not None]


class Alert(Strict):
    name: str
    expr: str
    for_: Duration = Field(seconds(0), alias="for")
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
