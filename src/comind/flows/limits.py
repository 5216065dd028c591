"""How much a flow's processes hold at once: what its logins' connection limits are made of
(gitops/providers/flow_access.py) and what the API and CLI accept. No imports: the CLI reads
it without loading the flow engine."""

# a process's connections to each app database its flow uses, as its writer and as its
# reader (flows/build.py pools)
DATABASE_POOL = 4
# partitions a backfill runs at once; each holds its claim on a session of its own
MAX_PARALLEL = 32
