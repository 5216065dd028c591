"""Sinks other than PostgreSQL and Redis: object-store files, queues and topics (the
PostgreSQL sink is :mod:`comind.flows.pgsink`, the Redis sink :mod:`comind.flows.redissink`).

Every sink writes a batch in a way a replay repeats harmlessly: files get names derived
from the batch's content (or its partition) and are written atomically (temp + rename),
Redis keys are overwritten, and queue/topic sinks are at-least-once like every source.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from comind.flows.pgsink import Replace, SinkDataError
from comind.flows.records import Record
from comind.queue.errors import InvalidMessageContents, InvalidParameterValue, QueueError
from comind.queue.model import Attribute, OutgoingMessage, check_attributes
from comind.queue.postgres import PostgresQueues
from comind.queue.postgres_topics import PostgresTopics
from comind.stores.objects import ObjectStore


class Sink(Protocol):
    name: str

    def write(self, records: list[Record], *, replace: Replace | None = None) -> int: ...


def encode(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


class ObjectsSink:
    """Parquet (or JSON lines) files under ``bucket/prefix``: Hive-style ``key=value/``
    partition folders, or the template's ``{date}``/``{partition}`` placeholders."""

    def __init__(
        self, store: ObjectStore, template: str, *, fmt: str = "parquet", name: str = "objects"
    ) -> None:
        self.store, self.fmt, self.name = store, fmt, name
        self.bucket, _, self.template = template.partition("/")

    def write(self, records: list[Record], *, replace: Replace | None = None) -> int:
        if not records:
            return 0
        day = datetime.now(UTC).date().isoformat()
        digest = hashlib.sha256("\n".join(encode(r.value) for r in records).encode()).hexdigest()
        return self._put(records, {"date": day, "dt": day}, f"part-{digest[:16]}")

    def write_partition(self, records: list[Record], partition: dict[str, str]) -> int:
        """The partition's one file, replaced whole (a re-run rewrites it)."""
        return self._put(records, partition, "part-00000")

    def key_for(self, partition: dict[str, str], part: str) -> str:
        ext = ".parquet" if self.fmt == "parquet" else ".jsonl"
        if "{" in self.template:
            return self.template.format_map(_Fill(partition, part))
        hive = "/".join(f"{k}={v}" for k, v in partition.items() if k != "date")
        return "/".join(p for p in (self.template.rstrip("/"), hive, part + ext) if p)

    def _put(self, records: list[Record], partition: dict[str, str], part: str) -> int:
        key = self.key_for(partition, part)
        self.store.put(self.bucket, key, self._encode([r.value for r in records]))
        return len(records)

    def _encode(self, values: list[dict[str, Any]]) -> bytes:
        if self.fmt != "parquet":
            return "".join(encode(v) + "\n" for v in values).encode()
        try:
            table = pa.Table.from_pylist(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SinkDataError(f"{self.bucket}/{self.template}: {exc}") from None
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()


class _Fill(dict[str, str]):
    def __init__(self, partition: dict[str, str], part: str) -> None:
        super().__init__(partition, part=part)

    def __missing__(self, key: str) -> str:
        return self.get("partition", key)


def message_attributes(value: Mapping[str, object], names: Sequence[str]) -> dict[str, Attribute]:
    """The top-level fields ``names`` of a record as message attributes (what subscription
    filters match): strings and booleans as String, numbers as Number. A field missing,
    null, not a scalar or not one SQS takes (NaN, an infinity, 39 digits, a control
    character) is left out, so a filter on it does not match and the record still goes:
    one odd value never holds up the sink."""
    found: dict[str, Attribute] = {}
    for name in names:
        field = value.get(name)
        if isinstance(field, bool):
            attribute = Attribute("String", "true" if field else "false")
        elif isinstance(field, int | float):
            attribute = Attribute("Number", str(field))
        elif isinstance(field, str) and field:
            attribute = Attribute("String", field)
        else:
            continue
        with contextlib.suppress(QueueError):
            check_attributes({name: attribute})
            found[name] = attribute
    return found


class QueueSink:
    def __init__(self, queues: PostgresQueues, queue: str, *, name: str = "queue",
                 attributes: Sequence[str] = ()) -> None:  # fmt: skip
        self.queues, self.queue, self.name, self.attributes = queues, queue, name, attributes

    def write(self, records: list[Record], *, replace: Replace | None = None) -> int:
        messages = [OutgoingMessage(encode(r.value), message_attributes(r.value, self.attributes))
                    for r in records]  # fmt: skip
        with _refused_as_data(self.name):
            for i in range(0, len(messages), 10):
                self.queues.send(self.queue, messages[i : i + 10])
        return len(messages)


class TopicSink:
    def __init__(self, topics: PostgresTopics, topic: str, *, name: str = "topic",
                 attributes: Sequence[str] = ()) -> None:  # fmt: skip
        self.topics, self.topic, self.name, self.attributes = topics, topic, name, attributes

    def write(self, records: list[Record], *, replace: Replace | None = None) -> int:
        pool = self.topics.pool
        with _refused_as_data(self.name), pool.connection() as conn, conn.transaction():
            for record in records:
                attributes = message_attributes(record.value, self.attributes)
                self.topics.publish(self.topic, encode(record.value), attributes, conn=conn)
        return len(records)


@contextlib.contextmanager
def _refused_as_data(sink: str) -> Iterator[None]:
    """A message the queue layer refuses for what it holds (too long, characters SQS does
    not take) is the record's fault, not the sink's: the runner then writes the batch one
    record at a time and dead-letters that one, instead of retrying the batch for ever."""
    try:
        yield
    except (InvalidParameterValue, InvalidMessageContents) as exc:
        raise SinkDataError(f"{sink}: {exc.message}") from None
