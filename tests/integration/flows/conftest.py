"""A flow engine over real engines: the test's platform database (``pg``) holds queues and
flow state, ``app_db`` is the app's own database, and a spec written into ``tmp_path``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowkit import FlowKit, flow_pii_keys
from psycopg import sql

from comind.embedded.platform import EmbeddedPlatform
from comind.flows.build import FlowEngines
from comind.queue.layer import MessageLayer
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import PgTarget, connect, superuser
from comind.stores.redis import default_user

ORDER_SCHEMA = {
    "type": "object",
    "required": ["id", "email", "total"],
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "total": {"type": "number", "minimum": 0},
        "customer_id": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}


@pytest.fixture
def shop_db(platform: EmbeddedPlatform) -> Iterator[PgTarget]:
    """The app's own database, named as the spec allows (a DNS label)."""
    name = f"shop-{uuid.uuid4().hex[:10]}"
    admin = superuser(platform.postgres)
    with connect(admin) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield admin.with_db(name)
    with connect(admin) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def kit(
    pg: PgTarget, shop_db: PgTarget, platform: EmbeddedPlatform, tmp_path: Path
) -> Iterator[FlowKit]:
    app_db = shop_db
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "order.json").write_text(json.dumps(ORDER_SCHEMA))
    layer = MessageLayer.open(pg, max_connections=6)
    objects = FileObjectStore(tmp_path / "objects")
    objects.create_bucket("lake")
    superuser_target = PgTarget(app_db.host, app_db.port, app_db.user, app_db.password, pg.dbname)
    engines = FlowEngines(
        layer,
        superuser_target,
        objects,
        default_user(platform.redis),
        pii_keys=flow_pii_keys(layer, tmp_path),
    )
    try:
        yield FlowKit(tmp_path, layer, engines, app_db)
    finally:
        engines.close()
        layer.close()
