"""A table of bad specs and the exact lines `comind validate` prints for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from comind.spec import SpecError, load_spec

BASE = "platform: {name: shop}\n"
APP = BASE + "apps:\n  orders:\n    run: python -m orders\n"
DB = APP + "    database: {}\n"
Q = APP + "    queues: {q: {}}\n"

# name -> (comind.yaml text, every expected line with the file shown as comind.yaml)
BAD_SPECS: dict[str, tuple[str, list[str]]] = {
    "unknown-top-level-key": (
        BASE + "aps: {}\n",
        [
            "comind.yaml:2:1: aps: unknown key 'aps'; did you mean 'apps'?",
        ],
    ),
    "misspelled-nested-key": (
        APP + "    queues:\n      events: {retension: 4d}\n",
        [
            "comind.yaml:6:16: apps.orders.queues.events.retension: unknown key 'retension'; did you mean 'retention'?",
        ],
    ),
    "misspelled-app-key": (
        APP + "    prot: 8000\n",
        [
            "comind.yaml:5:5: apps.orders.prot: unknown key 'prot'; did you mean 'port'?",
        ],
    ),
    "no-suggestion": (
        APP + "    colour: blue\n",
        [
            "comind.yaml:5:5: apps.orders.colour: unknown key 'colour'",
        ],
    ),
    "port-not-integer": (
        APP + "    port: http\n",
        [
            "comind.yaml:5:11: apps.orders.port: expected an integer, got 'http'",
        ],
    ),
    "port-out-of-range": (
        APP + "    port: 70000\n",
        [
            "comind.yaml:5:11: apps.orders.port: must be <= 65535, got 70000",
        ],
    ),
    "database-connection-limit-zero": (
        APP + "    database: {max_connections: 0}\n",
        [
            "comind.yaml:5:33: apps.orders.database.max_connections: must be >= 1, got 0",
        ],
    ),
    "rpo-below-what-archiving-can-keep": (
        APP + "    database: {backup: {rpo: 30s, rto: 1s}}\n",
        [
            "comind.yaml:5:30: apps.orders.database.backup.rpo: must be >= 1m, got 30s",
            "comind.yaml:5:40: apps.orders.database.backup.rto: must be >= 10s, got 1s",
        ],
    ),
    "publishes-an-undeclared-topic": (
        APP + "    publishes: [order-placed]\n    database: {}\n",
        [
            "comind.yaml:5:17: apps.orders.publishes[0]: no topic named 'order-placed'",
        ],
    ),
    "publishes-without-a-database": (
        APP + "    publishes: [t]\ntopics:\n  t: {}\n",
        [
            "comind.yaml:4:5: apps.orders: publishes needs a database: the app's outbox is in it",
        ],
    ),
    "quoted-number": (
        APP + "    port: '8000'\n",
        [
            "comind.yaml:5:11: apps.orders.port: expected an integer, got '8000' (remove the quotes)",
        ],
    ),
    "missing-run": (
        BASE + "apps:\n  orders:\n    port: 8000\n",
        [
            "comind.yaml:3:3: apps.orders: missing required key 'run'",
        ],
    ),
    "missing-platform-name": (
        "platform: {}\n",
        [
            "comind.yaml:1:1: platform: missing required key 'name'",
        ],
    ),
    "missing-platform": (
        "apps: {}\n",
        [
            "comind.yaml:1:1: missing required key 'platform'",
        ],
    ),
    "bad-flow-kind": (
        BASE + "flows:\n  f:\n    kind: streaming\n    source: http://ingest\n",
        [
            "comind.yaml:4:11: flows.f.kind: expected one of stream, batch, event, got 'streaming'",
        ],
    ),
    "bad-duration": (
        APP + "    queues:\n      events: {retention: four days}\n",
        [
            "comind.yaml:6:27: apps.orders.queues.events.retention: expected a duration like 300, 30s, 5m, 1h30m or 4d, got 'four days'",
        ],
    ),
    "retention-too-short": (
        APP + "    queues:\n      events: {retention: 10s}\n",
        [
            "comind.yaml:6:27: apps.orders.queues.events.retention: must be >= 1m, got 10s",
        ],
    ),
    "quarantine-retention-too-short": (
        APP + "flows:\n  f:\n    kind: stream\n    source: http://orders\n"
        "    quarantine: {retention: 10s}\n",
        [
            "comind.yaml:9:29: flows.f.quarantine.retention: must be >= 1m, got 10s",
        ],
    ),
    "quarantine-unknown-key": (
        APP + "flows:\n  f:\n    kind: stream\n    source: http://orders\n"
        "    quarantine: {keep: 3d}\n",
        [
            "comind.yaml:9:18: flows.f.quarantine.keep: unknown key 'keep'",
        ],
    ),
    "visibility-too-long": (
        APP + "    queues:\n      events: {visibility_timeout: 13h}\n",
        [
            "comind.yaml:6:36: apps.orders.queues.events.visibility_timeout: must be <= 12h, got 13h",
        ],
    ),
    "dlq-zero": (
        APP + "    queues:\n      events:\n        dlq: {max_receives: 0}\n",
        [
            "comind.yaml:7:29: apps.orders.queues.events.dlq.max_receives: must be >= 1, got 0",
        ],
    ),
    "bad-app-name": (
        BASE + "apps:\n  Orders_API:\n    run: x\n",
        [
            "comind.yaml:3:3: apps.Orders_API: name 'Orders_API' must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
        ],
    ),
    "bad-queue-name": (
        APP + "    queues:\n      Order.Events: {}\n",
        [
            "comind.yaml:6:7: apps.orders.queues.Order.Events: name 'Order.Events' must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
        ],
    ),
    "yaml-syntax": (
        BASE + "apps: {orders: {run: x}\n",
        [
            "comind.yaml:3:1: invalid YAML: expected ',' or '}', but got '<stream end>'",
        ],
    ),
    "yaml-tab": (
        BASE + "apps:\n\torders: {}\n",
        [
            "comind.yaml:3:1: invalid YAML: found character '\\t' that cannot start any token",
        ],
    ),
    "duplicate-key": (
        APP + "    port: 1\n    port: 2\n",
        [
            "comind.yaml:6:5: apps.orders.port: duplicate key (each key may appear once)",
        ],
    ),
    "empty-file": (
        "",
        [
            "comind.yaml:1:1: expected a mapping with 'platform', 'apps', ... at the top level, got an empty file",
        ],
    ),
    "top-level-list": (
        "- platform\n",
        [
            "comind.yaml:1:1: expected a mapping with 'platform', 'apps', ... at the top level, got a list",
        ],
    ),
    "health-two-probes": (
        APP + "    health: {http: /healthz, tcp: 80}\n",
        [
            "comind.yaml:5:13: apps.orders.health: health needs exactly one of http, tcp, command",
        ],
    ),
    "bad-cron": (
        APP + "    database:\n      backup: {schedule: every day}\n",
        [
            "comind.yaml:6:26: apps.orders.database.backup.schedule: expected a cron expression with 5 fields (e.g. '0 1 * * *'), got 'every day'",
        ],
    ),
    "flow-source-queue-missing": (
        APP + "flows:\n  f:\n    kind: stream\n    source: queue://orders/nope\n",
        [
            "comind.yaml:8:13: flows.f.source: no queue 'orders/nope' (expected app/queue of a declared queue)",
        ],
    ),
    "flow-source-bad-scheme": (
        BASE + "flows:\n  f:\n    kind: stream\n    source: kafka://x\n",
        [
            "comind.yaml:5:13: flows.f.source: expected a source URI (queue://, topic://, postgres://, objects://, http://), got 'kafka://x'",
        ],
    ),
    "topic-subscriber-missing": (
        APP + "topics:\n  t:\n    subscribers: [orders/missing]\n",
        [
            "comind.yaml:7:19: topics.t.subscribers[0]: no queue 'orders/missing' (expected app/queue of a declared queue)",
        ],
    ),
    "topic-filter-no-publisher-sets": (
        DB
        + "    queues: {q: {}, r: {}, s: {}}\ntopics:\n  t:\n    subscribers:\n"
        + "      - {queue: orders/r, filter: {country: [NL]}}\n"
        + "      - {queue: orders/s, filter: {kind: [{exists: false}]}}\n"
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n"
        + "    sink: {topic: t, attributes: [tier]}\n",
        [
            "comind.yaml:10:36: topics.t.subscribers[0].filter.country: never matches: topic 't' is fed by flow(s) f, whose sinks send no attribute 'country' (add it to a sink's attributes: list)",
        ],
    ),
    "sink-attributes-on-a-table": (
        DB
        + "flows:\n  f:\n    kind: batch\n    source: postgres://orders/t\n"
        + "    sink: {postgres: orders.x, attributes: [tier]}\n"
        + "datasets:\n  orders.x: {store: postgres://orders/x}\n",
        [
            "comind.yaml:10:11: flows.f.sink: attributes applies to queue and topic sinks only",
        ],
    ),
    "dataset-app-without-db": (
        APP + "datasets:\n  orders.x:\n    store: postgres://orders/x\n",
        [
            "comind.yaml:7:12: datasets.orders.x.store: app 'orders' declares no database",
        ],
    ),
    "dataset-unknown-app": (
        APP + "datasets:\n  orders.x:\n    store: postgres://billing/x\n",
        [
            "comind.yaml:7:12: datasets.orders.x.store: no app named 'billing'",
        ],
    ),
    "dataset-schema-missing": (
        APP
        + "    database: {}\ndatasets:\n  orders.x:\n    store: postgres://orders/x\n    schema: schemas/nope.json\n",
        [
            "comind.yaml:9:13: datasets.orders.x.schema: schema file 'schemas/nope.json' not found in the repo",
        ],
    ),
    "dataset-bad-pii": (
        APP
        + "    database: {}\ndatasets:\n  orders.x:\n    store: postgres://orders/x\n    pii: {email: scramble}\n",
        [
            "comind.yaml:9:18: datasets.orders.x.pii.email: expected one of hash, mask, redact, tokenize, encrypt or {OPERATOR: OPTIONS}, got 'scramble'",
        ],
    ),
    "sink-missing-dataset": (
        APP
        + "    queues: {q: {}}\nflows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    sink: {postgres: orders.nope}\n",
        [
            "comind.yaml:10:22: flows.f.sink.postgres: no dataset 'orders.nope'",
        ],
    ),
    "sink-two-targets": (
        APP
        + "    queues: {q: {}}\nflows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    sink: {queue: orders/q, topic: t}\n",
        [
            "comind.yaml:10:11: flows.f.sink: a sink needs exactly one of postgres, objects, queue, topic, redis",
        ],
    ),
    "batch-without-schedule": (
        APP + "    database: {}\nflows:\n  f:\n    kind: batch\n    source: postgres://orders/t\n",
        [
            "comind.yaml:7:3: flows.f: a batch flow needs a schedule (or on_demand: true)",
        ],
    ),
    "stream-with-schedule": (
        APP
        + "    queues: {q: {}}\nflows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    schedule: '0 1 * * *'\n",
        [
            "comind.yaml:10:15: flows.f.schedule: a stream flow runs continuously; remove schedule",
        ],
    ),
    "event-needs-topic": (
        APP + "    queues: {q: {}}\nflows:\n  f:\n    kind: event\n    source: queue://orders/q\n",
        [
            "comind.yaml:9:13: flows.f.source: an event flow's source must be topic://NAME",
        ],
    ),
    "unknown-step": (
        APP
        + "    queues: {q: {}}\nflows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    steps:\n      - transmogrify: x\n",
        [
            "comind.yaml:11:9: flows.f.steps[0]: expected one step of validate, cleanse, map, filter, enrich, route, anonymize, python, quality, encrypt, aggregate, detect_pii",
        ],
    ),
    "bad-detect-pii": (
        APP
        + "    queues: {q: {}}\nflows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    steps:\n"
        + "      - detect_pii: {action: drop, min_score: 2}\n",
        [
            "comind.yaml:11:30: flows.f.steps[0].detect_pii.action: expected one of quarantine, anonymize, got 'drop'",
            "comind.yaml:11:47: flows.f.steps[0].detect_pii.min_score: must be <= 1.0, got 2",
        ],
    ),
    "bad-step-configs": (
        APP
        + "    queues: {q: {}}\nflows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    steps:\n"
        + "      - cleanse: {trim: email, lowr: [a]}\n"
        + "      - enrich: {table: orders/customers, on: customer_id}\n"
        + "      - map: orders.flows\n",
        [
            "comind.yaml:11:25: flows.f.steps[0].cleanse.trim: expected a list, got 'email'",
            "comind.yaml:11:32: flows.f.steps[0].cleanse.lowr: unknown key 'lowr'; did you mean 'lower'?",
            "comind.yaml:12:9: flows.f.steps[1].enrich: missing required key 'by'",
            "comind.yaml:12:43: flows.f.steps[1].enrich.True: unknown key 'True' (YAML reads an unquoted on, off, yes or no as a boolean; quote the key)",
            "comind.yaml:13:14: flows.f.steps[2].map: expected module:function, got 'orders.flows'",
        ],
    ),
    # the repo is looked at once the shapes are right
    "bad-step-references": (
        Q
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    steps:\n"
        + "      - python: nowhere.mod:fn\n"
        + "      - validate: schemas/missing.json\n"
        + "      - enrich: {table: billing/customers, by: customer_id}\n"
        + "      - enrich: {table: orders/customers, by: customer_id}\n",
        [
            "comind.yaml:11:17: flows.f.steps[0].python: no module nowhere.mod in the repo (nowhere/mod.py)",
            "comind.yaml:12:19: flows.f.steps[1].validate: no JSON Schema file schemas/missing.json in the repo",
            "comind.yaml:13:25: flows.f.steps[2].enrich.table: no app named 'billing'",
            "comind.yaml:14:25: flows.f.steps[3].enrich.table: app 'orders' declares no database",
        ],
    ),
    "depends-on-missing": (
        APP + "    depends_on: [billing]\n",
        [
            "comind.yaml:5:18: apps.orders.depends_on[0]: no app named 'billing'",
        ],
    ),
    "depends-on-cycle": (
        BASE + "apps:\n  a: {run: x, depends_on: [b]}\n  b: {run: x, depends_on: [a]}\n",
        [
            "comind.yaml:3:27: apps.a.depends_on: dependency cycle: a -> b -> a",
        ],
    ),
    "duplicate-alert": (
        BASE + "alerts:\n  - {name: A, expr: up == 0}\n  - {name: A, expr: up == 1}\n",
        [
            "comind.yaml:4:12: alerts[1].name: alert 'A' is declared twice",
        ],
    ),
    "invalid-promql": (
        BASE + "alerts:\n  - name: A\n    expr: sum(rate(comind_x_total[5m]) > 1\n",
        [
            "comind.yaml:4:11: alerts[0].expr: invalid PromQL: unclosed left parenthesis: "
            "'sum(rate(comind_x_total[5m]) > 1'",
        ],
    ),
    "bad-severity": (
        BASE + "alerts:\n  - {name: A, expr: up == 0, severity: page}\n",
        [
            "comind.yaml:3:40: alerts[0].severity: expected one of info, warning, critical, got 'page'",
        ],
    ),
    "bad-quality-rule": (
        APP
        + "    database: {}\ndatasets:\n  orders.x:\n    store: postgres://orders/x\n    quality:\n      - sometimes: [id]\n",
        [
            "comind.yaml:10:9: datasets.orders.x.quality[0]: expected one rule of not_null, unique, range, regex, accepted, type, max_length, freshness, row_count, sql",
        ],
    ),
    "bad-dataset-rules": (
        APP
        + "    database: {}\ndatasets:\n  orders.x:\n    store: postgres://orders/x\n    quality:\n"
        + "      - {range: {total: [0, 1]}, severity: fatal}\n"
        + "      - type: {total: decimal}\n"
        + "      - row_count: {min: 5, max: 1}\n"
        + "      - sql: SELECT 1\n"
        + "      - freshness: {field: at, max_age: an hour}\n"
        + "      - {severity: warn}\n",
        [
            "comind.yaml:10:44: datasets.orders.x.quality[0].severity: expected one of error, warn, got 'fatal'",
            "comind.yaml:11:23: datasets.orders.x.quality[1].type.total: expected one of string, integer, number, boolean, timestamp, got 'decimal'",
            "comind.yaml:12:20: datasets.orders.x.quality[2].row_count: expected min <= max, got 5 > 1",
            "comind.yaml:13:14: datasets.orders.x.quality[3].sql: expected a query over {table} (the dataset's table)",
            "comind.yaml:14:41: datasets.orders.x.quality[4].freshness.max_age: expected a duration like 300, 30s, 5m, 1h30m or 4d, got 'an hour'",
            "comind.yaml:15:9: datasets.orders.x.quality[5]: expected one rule of not_null, unique, range, regex, accepted, type, max_length, freshness, row_count, sql",
        ],
    ),
    "dataset-rule-in-a-step": (
        Q
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    steps:\n"
        + "      - quality: [{not_null: id}, {row_count: {min: 1}}]\n",
        [
            "comind.yaml:11:18: flows.f.steps[0].quality: row_count needs the whole dataset: declare it under datasets.NAME.quality",
        ],
    ),
    "several-errors": (
        APP + "    port: http\n    prot: 1\nflows:\n  f: {kind: nope, source: x}\n",
        [
            "comind.yaml:5:11: apps.orders.port: expected an integer, got 'http'",
            "comind.yaml:6:5: apps.orders.prot: unknown key 'prot'; did you mean 'port'?",
            "comind.yaml:8:13: flows.f.kind: expected one of stream, batch, event, got 'nope'",
            "comind.yaml:8:27: flows.f.source: expected a source URI (queue://, topic://, postgres://, objects://, http://), got 'x'",
        ],
    ),
    "bad-platform-name": (
        "platform: {name: My Shop}\n",
        [
            "comind.yaml:1:18: platform.name: name 'My Shop' must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
        ],
    ),
    "bad-flow-name": (
        APP + "flows:\n  Enrich_Orders: {kind: stream, source: http://orders}\n",
        [
            "comind.yaml:6:3: flows.Enrich_Orders: name 'Enrich_Orders' must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
        ],
    ),
    "bad-topic-name": (
        BASE + "topics:\n  order.placed: {}\n",
        [
            "comind.yaml:3:3: topics.order.placed: name 'order.placed' must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
        ],
    ),
    "secret-file-missing": (
        APP + "    secrets: [stripe-key]\n",
        [
            "comind.yaml:5:15: apps.orders.secrets[0]: no sealed secret 'stripe-key' (expected secrets/orders/stripe-key.sealed.yaml in the repo)",
        ],
    ),
    "database-reserved-name": (
        APP + "    database: {name: comind}\n",
        [
            "comind.yaml:5:22: apps.orders.database.name: database name 'comind' is reserved by the platform (as are names starting with 'comind')",
        ],
    ),
    "database-reserved-prefix": (
        APP + "    database: {name: comind-template}\n",
        [
            "comind.yaml:5:22: apps.orders.database.name: database name 'comind-template' is reserved by the platform (as are names starting with 'comind')",
        ],
    ),
    "database-named-for-a-reserved-app-name": (
        BASE + "apps:\n  postgres:\n    run: x\n    database: {}\n",
        [
            "comind.yaml:5:15: apps.postgres.database: app 'postgres' needs a database name: 'postgres' is reserved by the platform",
        ],
    ),
    "app-reserved-name": (
        BASE + "apps:\n  comind:\n    run: x\n    cache: {}\n",
        [
            "comind.yaml:3:3: apps.comind: app name 'comind' is reserved by the platform (names starting with 'comind' are the platform's)",
        ],
    ),
    "app-named-platform": (
        BASE + "apps:\n  platform:\n    run: x\n",
        [
            "comind.yaml:3:3: apps.platform: app name 'platform' is reserved by the platform (its own resources go by it)",
        ],
    ),
    "bucket-reserved-name": (
        APP + "    bucket: {name: comind-backups}\n",
        [
            "comind.yaml:5:20: apps.orders.bucket.name: bucket name 'comind-backups' is reserved by the platform (names starting with 'comind-' are the platform's)",
        ],
    ),
    "database-bad-name": (
        APP + "    database: {name: Orders_DB}\n",
        [
            "comind.yaml:5:22: apps.orders.database.name: database name 'Orders_DB' must be a DNS label of 3 to 63 characters: lowercase letters, digits and '-'",
        ],
    ),
    "bucket-bad-name": (
        APP + "    bucket: {name: x}\n",
        [
            "comind.yaml:5:20: apps.orders.bucket.name: bucket name 'x' must be a DNS label of 3 to 63 characters: lowercase letters, digits and '-'",
        ],
    ),
    "secret-bad-name": (
        APP + "    secrets: [Stripe_Key]\n",
        [
            "comind.yaml:5:15: apps.orders.secrets[0]: name 'Stripe_Key' must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
        ],
    ),
    "dedup-without-fifo": (
        APP + "    queues:\n      q: {content_based_dedup: true}\n",
        [
            "comind.yaml:6:32: apps.orders.queues.q.content_based_dedup: content_based_dedup needs fifo: true",
        ],
    ),
    "queue-clashes-with-dlq": (
        APP + "    queues:\n      events: {dlq: {}}\n      events-dlq: {}\n",
        [
            "comind.yaml:7:7: apps.orders.queues.events-dlq: queue 'events-dlq' clashes with the dead-letter queue of 'events'",
        ],
    ),
    "duplicate-bucket": (
        BASE
        + "apps:\n  a: {run: x, bucket: {name: files}}\n  b: {run: x, bucket: {name: files}}\n",
        [
            "comind.yaml:4:30: apps.b.bucket.name: bucket 'files' is already declared by app 'a'",
        ],
    ),
    "duplicate-database": (
        BASE
        + "apps:\n  a: {run: x, database: {name: main}}\n  b: {run: x, database: {name: main}}\n",
        [
            "comind.yaml:4:32: apps.b.database.name: database 'main' is already declared by app 'a'",
        ],
    ),
    "objects-source-unknown-bucket": (
        BASE + "flows:\n  f: {kind: batch, on_demand: true, source: 'objects://lake/in/'}\n",
        [
            "comind.yaml:3:45: flows.f.source: no bucket 'lake' (declare it under an app's bucket: name)",
        ],
    ),
    "flow-source-topic-missing": (
        BASE + "flows:\n  f: {kind: event, source: 'topic://nope'}\n",
        [
            "comind.yaml:3:28: flows.f.source: no topic 'nope'",
        ],
    ),
    "sink-queue-missing": (
        Q
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    sink: {queue: orders/nope}\n",
        [
            "comind.yaml:10:19: flows.f.sink.queue: no queue 'orders/nope' (expected app/queue of a declared queue)",
        ],
    ),
    "sink-topic-missing": (
        Q
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    sink: {topic: nope}\n",
        [
            "comind.yaml:10:19: flows.f.sink.topic: no topic 'nope'",
        ],
    ),
    "postgres-source-without-database": (
        APP + "flows:\n  f: {kind: batch, on_demand: true, source: 'postgres://orders/t'}\n",
        [
            "comind.yaml:6:45: flows.f.source: no app 'orders' with a database",
        ],
    ),
    "hash-partition-without-buckets": (
        DB
        + "flows:\n  f:\n    kind: batch\n    on_demand: true\n    source: postgres://orders/t\n    partition: {by: hash, field: id}\n",
        [
            "comind.yaml:11:16: flows.f.partition: hash partitions need buckets: N",
        ],
    ),
    "bad-partition-by": (
        DB
        + "flows:\n  f:\n    kind: batch\n    on_demand: true\n    source: postgres://orders/t\n    partition: {by: week, field: day}\n",
        [
            "comind.yaml:11:21: flows.f.partition.by: expected one of hour, day, month, hash, got 'week'",
        ],
    ),
    "bad-backoff": (
        BASE
        + "flows:\n  f:\n    kind: stream\n    source: http://ingest\n    errors: {backoff: linear}\n",
        [
            "comind.yaml:6:23: flows.f.errors.backoff: expected one of fixed, exponential, got 'linear'",
        ],
    ),
    "dataset-name-not-store": (
        DB + "datasets:\n  enriched:\n    store: postgres://orders/enriched\n",
        [
            "comind.yaml:7:3: datasets.enriched: dataset name must be APP.TABLE of its store ('orders.enriched')",
        ],
    ),
    "dataset-bad-store": (
        DB + "datasets:\n  orders.x:\n    store: mysql://orders/x\n",
        [
            "comind.yaml:8:12: datasets.orders.x.store: expected postgres://APP/TABLE, got 'mysql://orders/x'",
        ],
    ),
    "misspelled-flow-key": (
        BASE
        + "flows:\n  f:\n    kind: batch\n    source: http://ingest\n    schedul: '0 1 * * *'\n",
        [
            "comind.yaml:6:5: flows.f.schedul: unknown key 'schedul'; did you mean 'schedule'?",
        ],
    ),
    "misspelled-health-probe": (
        APP + "    health: {htpp: /healthz}\n",
        [
            "comind.yaml:5:14: apps.orders.health.htpp: unknown key 'htpp'; did you mean 'http'?",
        ],
    ),
    "misspelled-alias-key": (
        BASE + "alerts:\n  - {name: A, expr: up == 0, fro: 5m}\n",
        [
            "comind.yaml:3:30: alerts[0].fro: unknown key 'fro'; did you mean 'for'?",
        ],
    ),
    "env-value-not-string": (
        APP + "    env: {WORKERS: 4}\n",
        [
            "comind.yaml:5:20: apps.orders.env.WORKERS: expected a string, got 4 (quote it to make it a string)",
        ],
    ),
    "max-message-size-too-big": (
        APP + "    queues:\n      q: {max_message_size: 2097152}\n",
        [
            "comind.yaml:6:29: apps.orders.queues.q.max_message_size: must be <= 1048576, got 2097152",
        ],
    ),
    "delay-too-long": (
        APP + "    queues:\n      q: {delay: 20m}\n",
        [
            "comind.yaml:6:18: apps.orders.queues.q.delay: must be <= 15m, got 20m",
        ],
    ),
    "tcp-probe-out-of-range": (
        APP + "    health: {tcp: 0}\n",
        [
            "comind.yaml:5:19: apps.orders.health.tcp: must be >= 1, got 0",
        ],
    ),
    "platform-not-a-mapping": (
        "platform: shop\n",
        [
            "comind.yaml:1:11: platform: expected a mapping, got 'shop'",
        ],
    ),
    "app-is-null": (
        BASE + "apps:\n  orders:\n",
        [
            "comind.yaml:3:3: apps.orders: expected a mapping, got nothing (null)",
        ],
    ),
    "yaml-unknown-tag": (
        APP + "    port: !port 80\n",
        [
            "comind.yaml:5:11: apps.orders.port: unsupported YAML tag '!port'",
        ],
    ),
    "yaml-bad-int": (
        APP + "    port: !!int eighty\n",
        [
            "comind.yaml:5:11: apps.orders.port: not a valid !!int: 'eighty'",
        ],
    ),
    "yaml-nul-character": (
        BASE + "apps: {}\x00\n",
        [
            "comind.yaml:2:9: invalid YAML: character #x0000 is not allowed",
        ],
    ),
    "fifo-not-bool": (
        APP + "    queues:\n      q: {fifo: 'true'}\n",
        [
            "comind.yaml:6:17: apps.orders.queues.q.fifo: expected true or false, got 'true' (remove the quotes)",
        ],
    ),
    "cron-out-of-range": (
        APP + "    database:\n      backup: {schedule: '61 25 * * *'}\n",
        [
            "comind.yaml:6:26: apps.orders.database.backup.schedule: invalid cron expression '61 25 * * *': out of range",
        ],
    ),
    "cron-never-fires": (
        DB + "flows:\n  f: {kind: batch, schedule: '0 0 31 2 *', source: 'postgres://orders/t'}\n",
        [
            "comind.yaml:7:30: flows.f.schedule: cron expression '0 0 31 2 *' never fires",
        ],
    ),
    "http-source-unknown-app": (
        APP + "flows:\n  f: {kind: stream, source: 'http://billing'}\n",
        [
            "comind.yaml:6:29: flows.f.source: no app named 'billing' (expected http://APP, the app the records are posted for)",
        ],
    ),
    "step-durations": (
        Q
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    steps:\n"
        + "      - enrich: {table: orders/customers, by: customer_id, ttl: 5 minutes}\n"
        + "      - cleanse: {dedupe: {key: [id], window: 0s}}\n"
        + "      - cleanse: {dedupe: {key: [], window: 10m}}\n",
        [
            "comind.yaml:11:65: flows.f.steps[0].enrich.ttl: expected a duration like 300, 30s, 5m, 1h30m or 4d, got '5 minutes'",
            "comind.yaml:12:47: flows.f.steps[1].cleanse.dedupe.window: must be >= 1s, got 0s",
            "comind.yaml:13:33: flows.f.steps[2].cleanse.dedupe.key: expected at least 1 items, got 0",
        ],
    ),
    "step-quality-arguments": (
        Q
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    steps:\n"
        + "      - quality: {range: {total: [10, 1]}, regex: {sku: '[A-'}, not_null: 5}\n",
        [
            "comind.yaml:11:34: flows.f.steps[0].quality.range.total: expected [LOW, HIGH] with LOW <= HIGH, got [10, 1]",
            "comind.yaml:11:57: flows.f.steps[0].quality.regex.sku: not a regular expression: unterminated character set at position 0: '[A-'",
            "comind.yaml:11:75: flows.f.steps[0].quality.not_null: expected a list, got 5",
        ],
    ),
    "route-to-unknown-sink": (
        Q
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    steps:\n"
        + "      - route: {field: country, map: {NL: eu, US: us}, default: rest}\n"
        + "    sinks: {eu: {queue: orders/q}}\n",
        [
            "comind.yaml:11:51: flows.f.steps[0].route.map.US: no sink 'us' in this flow (sinks: eu)",
            "comind.yaml:11:65: flows.f.steps[0].route.default: no sink 'rest' in this flow (sinks: eu)",
        ],
    ),
    "objects-sink-unknown-bucket": (
        Q
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    sink: {objects: lake/out/}\n",
        [
            "comind.yaml:10:21: flows.f.sink.objects: no bucket 'lake' (declare it under an app's bucket: name)",
        ],
    ),
    "partition-needs-a-postgres-source": (
        Q
        + "flows:\n  f:\n    kind: batch\n    on_demand: true\n    source: queue://orders/q\n"
        + "    partition: {by: day, field: at}\n",
        [
            "comind.yaml:11:16: flows.f.partition: partitioned runs read a postgres:// source",
        ],
    ),
    "validate-schema-not-a-json-schema": (
        Q
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n    steps:\n"
        + "      - validate: comind.yaml\n",
        [
            "comind.yaml:11:19: flows.f.steps[0].validate: comind.yaml is not JSON: Expecting value: line 1 column 1 (char 0)",
        ],
    ),
    "sink-options-of-another-kind": (
        Q
        + "flows:\n  f:\n    kind: stream\n    source: queue://orders/q\n"
        + "    sinks:\n      a: {queue: orders/q, ttl: 5m}\n      b: {topic: t, upsert_on: [id]}\n",
        [
            "comind.yaml:11:10: flows.f.sinks.a: ttl applies to redis sinks only",
            "comind.yaml:12:10: flows.f.sinks.b: upsert_on applies to postgres sinks only",
        ],
    ),
    "sink-bad-templates": (
        Q
        + "    bucket: {name: lake}\nflows:\n  f:\n    kind: stream\n    source: queue://orders/q\n"
        + "    sinks:\n      a: {redis: 'o:{id'}\n      b: {objects: 'lake/{date:%Y}/x'}\n      c: {redis: 'o:{a.b}'}\n",
        [
            "comind.yaml:12:18: flows.f.sinks.a.redis: not a template: expected '}' before end of string in 'o:{id' (write {{ and }} for literal braces)",
            "comind.yaml:13:20: flows.f.sinks.b.objects: placeholder {date} in 'lake/{date:%Y}/x': expected a plain {field}",
            "comind.yaml:14:18: flows.f.sinks.c.redis: placeholder {a.b} in 'o:{a.b}': expected a plain {field}",
        ],
    ),
    "redis-sink-keys-not-an-apps": (
        Q
        + "    cache: {}\n  other:\n    run: 'true'\nflows:\n  f:\n    kind: stream\n"
        + "    source: queue://orders/q\n    sinks:\n      a: {redis: '{id}:x'}\n"
        + "      b: {redis: 'comind:flow:g:enrich:{id}'}\n      c: {redis: 'other:{id}'}\n"
        + "      d: {redis: 'orders{id}'}\n      e: {redis: 'orders:order:{id}'}\n",
        [
            "comind.yaml:14:18: flows.f.sinks.a.redis: redis key '{id}:x' must start with APP: of an app with a cache (whose keys the flow writes), e.g. 'orders:order:{id}'",
            "comind.yaml:15:18: flows.f.sinks.b.redis: redis key 'comind:flow:g:enrich:{id}' must start with APP: of an app with a cache (whose keys the flow writes), e.g. 'orders:order:{id}'",
            "comind.yaml:16:18: flows.f.sinks.c.redis: redis key 'other:{id}' must start with APP: of an app with a cache (whose keys the flow writes), e.g. 'orders:order:{id}'",
            "comind.yaml:17:18: flows.f.sinks.d.redis: redis key 'orders{id}' must start with APP: of an app with a cache (whose keys the flow writes), e.g. 'orders:order:{id}'",
        ],
    ),
    "flow-words-that-would-be-ignored": (
        DB
        + "    queues: {q: {}}\ntopics: {t: {}}\nflows:\n"
        + "  e: {kind: event, source: 'topic://t', schedule: '@daily'}\n"
        + "  s: {kind: stream, source: 'queue://orders/q', cursor: id}\n"
        + "  b:\n    kind: batch\n    on_demand: true\n    source: postgres://orders/t\n"
        + "    partition: {by: day, field: at}\n    window: {kind: tumbling, size: 1m, field: at}\n",
        [
            "comind.yaml:9:51: flows.e.schedule: an event flow runs continuously; remove schedule",
            "comind.yaml:10:57: flows.s.cursor: cursor applies to a postgres:// source only",
            "comind.yaml:16:13: flows.b.window: a partitioned batch run reads its partition whole; aggregate it with an aggregate step",
        ],
    ),
    "compound-duration-with-spaces": (
        APP + "    queues:\n      q: {visibility_timeout: 1h 30m}\n",
        [
            "comind.yaml:6:31: apps.orders.queues.q.visibility_timeout: expected a duration like 300, 30s, 5m, 1h30m or 4d, got '1h 30m'",
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_SPECS))
def test_bad_spec_is_refused_with_exact_lines(tmp_path: Path, name: str) -> None:
    text, expected = BAD_SPECS[name]
    (tmp_path / "comind.yaml").write_text(text)
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path)
    shown = [line.replace(f"{tmp_path}/", "") for line in str(err.value).splitlines()]
    assert shown == expected
    assert err.value.exit_code == 2


def test_the_table_is_big_enough() -> None:
    assert len(BAD_SPECS) >= 30
