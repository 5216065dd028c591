-- Control-plane replicas (issue 19): the secrets every replica shares, sealed under a key
-- only the replicas hold (COMIND_REPLICA_KEY), and which replica leads now (for status:
-- leadership itself is a PostgreSQL advisory lock held by the leader's session).
CREATE TABLE comind.replica_secrets (
    id           smallint PRIMARY KEY CHECK (id = 1),
    sealed       bytea NOT NULL,
    digest       text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE comind.replica_leader (
    id      smallint PRIMARY KEY CHECK (id = 1),
    replica text NOT NULL,
    api_url text NOT NULL,
    since   timestamptz NOT NULL DEFAULT now()
);
