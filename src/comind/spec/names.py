"""Names the platform derives from the spec: queues, roles and the flows' own queues.

PostgreSQL roles the platform keeps for itself all start with ``comind``: each app
database's data owner, each flow's writer, the flow workers' platform role, the backups'
role. App roles start with ``app_``, and an app's name may not start with ``comind``
(references.py), so an app's role, database, Redis key prefix or queue never lands on one of
these.
"""

from __future__ import annotations

import hashlib

FLOW_NAMESPACE = "_flows"  # the "app" part of the queues a flow owns
BACKUP_BUCKET = "comind-backups"  # the platform's backup store and WAL archive
PLATFORM_PREFIX = "comind-"  # bucket names the platform keeps for itself
RESERVED_APP_PREFIX = "comind"  # app names: their Redis prefix would be the platform's comind:
PLATFORM_APP = "platform"  # the "app" part of the platform's own resources' ids: no app's name
PLATFORM_ROLE_PREFIX = "comind_"  # data owners, flow writers, the workers' login
WORKER_ROLE = "comind_worker"  # the group of the flows' logins to the platform database
FLOW_WORKER_PREFIX = "comind_fw_"  # each flow's login to the platform database (row-secured)
BACKUP_ROLE = "comind_backup"  # base backups and logical dumps: reads everything, writes nothing


def queue_name(app: str, queue: str, fifo: bool) -> str:
    return f"{app}/{queue}.fifo" if fifo else f"{app}/{queue}"


def dead_letter_name(name: str) -> str:
    return name[:-5] + "-dlq.fifo" if name.endswith(".fifo") else name + "-dlq"


def flow_input_queue(flow: str) -> str:
    """Where a flow's topic subscription or HTTP ingest delivers."""
    return f"{FLOW_NAMESPACE}/{flow}"


def flow_dead_letter_queue(flow: str) -> str:
    return dead_letter_name(flow_input_queue(flow))


def flow_cache_prefix(flow: str) -> str:
    """Where a flow's enrich steps keep their cache entries in Redis (under the platform's
    ``comind:``, which no app's prefix can be)."""
    return f"comind:flow:{flow}:enrich:"


def flow_dedupe_prefix(flow: str) -> str:
    """Where a flow's cleanse steps keep the keys of the records it delivered within its
    dedupe window, shared by every worker of the flow and kept across restarts."""
    return f"comind:flow:{flow}:dedupe:"


def role_name(app: str) -> str:
    """The PostgreSQL role (and Redis user) of ``app``."""
    return _pg_name("app_", app)


def owner_role(dbname: str) -> str:
    """The NOLOGIN role owning the flow-written tables (and schema ``public``) of the app
    database ``dbname``: neither the app nor a flow's writer may own them."""
    return _pg_name("comind_owner_", dbname)


def flow_role(flow: str) -> str:
    """The login role a flow's workers write app databases with (and their Redis user)."""
    return _pg_name("comind_flow_", flow)


def flow_account(flow: str) -> str:
    """The OS account a flow's workers and jobs run as (no app is named with a dot)."""
    return f"flow.{flow}"


def flow_principal(flow: str) -> str:
    """Who a flow's key signs as at the platform's S3 endpoint (no app has a colon)."""
    return f"flow:{flow}"


def is_flow_principal(principal: str) -> bool:
    return principal.startswith("flow:")


def flow_worker_role(flow: str) -> str:
    """The login a flow's workers use the platform database with (queues, flow state):
    a member of the workers' group, kept to the flow's own rows."""
    return _pg_name(FLOW_WORKER_PREFIX, flow)


def flow_reader_role(flow: str, database: str) -> str:
    """The login role a flow's workers read the app tables of ``database`` with: SELECT on
    the tables the flow declares there, and nothing else anywhere."""
    return _pg_name("comind_fr_", f"{flow}.{database}")


def is_platform_role(role: str) -> bool:
    """A role the platform made (or the superuser): allowed into any app database."""
    return role == "postgres" or role.startswith(PLATFORM_ROLE_PREFIX)


def _pg_name(prefix: str, name: str) -> str:
    """At most 63 bytes, PostgreSQL's limit (a long name is shortened and made unique by a
    digest)."""
    full = f"{prefix}{name.replace('-', '_')}"
    if len(full) <= 63:
        return full
    return f"{full[:54]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
