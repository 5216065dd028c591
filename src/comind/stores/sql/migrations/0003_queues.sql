-- Queues with SQS semantics (comind.queue, backend "postgres").
CREATE TABLE comind.queues (
    id                   bigserial PRIMARY KEY,
    name                 text        NOT NULL UNIQUE,
    fifo                 boolean     NOT NULL DEFAULT false,
    visibility_timeout   integer     NOT NULL DEFAULT 30,
    delay_seconds        integer     NOT NULL DEFAULT 0,
    retention_seconds    integer     NOT NULL DEFAULT 345600,
    max_message_size     integer     NOT NULL DEFAULT 1048576,
    receive_wait_seconds integer     NOT NULL DEFAULT 0,
    content_based_dedup  boolean     NOT NULL DEFAULT false,
    dead_letter_target   text,
    max_receive_count    integer,
    extra_attributes     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    tags                 jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    purged_at            timestamptz
);

-- One row per message; deleted rows really go away, expired rows are swept.
CREATE TABLE comind.messages (
    id                bigserial   PRIMARY KEY,
    queue_id          bigint      NOT NULL REFERENCES comind.queues (id) ON DELETE CASCADE,
    message_id        uuid        NOT NULL,
    body              text        NOT NULL,
    attributes        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    group_id          text,
    dedup_id          text,
    sent_at           timestamptz NOT NULL DEFAULT now(),
    visible_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    receive_count     integer     NOT NULL DEFAULT 0,
    receipt           uuid,
    first_received_at timestamptz,
    last_received_at  timestamptz,
    last_error        text,
    dead_letter_info  jsonb
);
-- receive: the next visible messages of one queue, oldest first: an index range scan
CREATE INDEX messages_ready ON comind.messages (queue_id, visible_at, id);
-- FIFO: the head of each message group
CREATE INDEX messages_fifo ON comind.messages (queue_id, group_id, id) WHERE group_id IS NOT NULL;
-- retention sweep
CREATE INDEX messages_expiry ON comind.messages (expires_at);

-- FIFO de-duplication window (5 minutes)
CREATE TABLE comind.queue_dedup (
    queue_id   bigint      NOT NULL REFERENCES comind.queues (id) ON DELETE CASCADE,
    dedup_id   text        NOT NULL,
    message_id uuid        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (queue_id, dedup_id)
);

-- Message move (redrive) tasks
CREATE TABLE comind.queue_move_tasks (
    handle        uuid        PRIMARY KEY,
    source        text        NOT NULL,
    destination   text,
    max_per_second integer,
    status        text        NOT NULL DEFAULT 'RUNNING',
    moved         bigint      NOT NULL DEFAULT 0,
    to_move       bigint      NOT NULL DEFAULT 0,
    failure       text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);

-- Topics and their subscriptions (fan-out to queues)
CREATE TABLE comind.topics (
    id         bigserial   PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE comind.subscriptions (
    topic_id      bigint NOT NULL REFERENCES comind.topics (id) ON DELETE CASCADE,
    queue_name    text   NOT NULL,
    filter_policy jsonb,
    raw           boolean NOT NULL DEFAULT true,
    PRIMARY KEY (topic_id, queue_name)
);
