"""An app attacking the platform through a flow's sink table (issue 15, finding 1).

The app's database is provisioned and the flow's sink table created exactly as the platform
does it (the database provider, the flow's access, the flow engines a worker gets, the
sink's own code). Then the app, with only its DATABASE_URL, tries the attack: a trigger on
the sink table that makes its role a superuser and runs a shell command, then an admin row
in the platform's token table. It must fail at every step: the app cannot add the trigger
(it neither owns the table nor holds TRIGGER on it), the flow's writes never run app code as
a superuser, and the app cannot reach the platform database.
"""

from __future__ import annotations

import dataclasses
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from provisioned import Provisioned, provisioned
from psycopg import sql

from comind.errors import ComindError
from comind.flows.build import FlowBuilder
from comind.flows.limits import DATABASE_POOL
from comind.flows.records import Record
from comind.platform import Platform
from comind.platform.worker import EngineAddresses, WorkerLogins, flow_engines
from comind.spec import load_spec
from comind.spec.names import flow_reader_role, role_name
from comind.stores.postgres import PgTarget, connect, superuser

FLOW = "copy-done"
READS = "read-tenants"
LINEAGE_EVENT = """INSERT INTO comind.lineage_events (event_time, event_type, run_id, job, payload)
VALUES (now(), 'START', gen_random_uuid(), %s, '{"eventType": "START"}')"""


@pytest.fixture
def shop(runtime: Platform, tmp_path: Path) -> Iterator[tuple[Path, str, Provisioned]]:
    """A one-app spec (database, dataset, flow) provisioned like a sync does."""
    app = f"p{uuid.uuid4().hex[:8]}"
    (tmp_path / "comind.yaml").write_text(textwrap.dedent(f"""
        platform: {{name: p}}
        apps:
          {app}:
            run: "true"
            database: {{name: {app}}}
            queues: {{jobs: {{}}}}
        datasets:
          {app}.done: {{store: postgres://{app}/done}}
        flows:
          {FLOW}:
            kind: stream
            source: queue://{app}/jobs
            sink: {{postgres: {app}.done, upsert_on: [id]}}
          {READS}:
            kind: batch
            on_demand: true
            source: postgres://{app}/tenants
            partition: {{by: day, field: at}}
            sink: {{postgres: {app}.done, upsert_on: [id]}}
        """))  # fmt: skip
    assert runtime.db is not None
    try:
        with provisioned(runtime, tmp_path) as found:
            yield tmp_path, app, found
    finally:
        with connect(runtime.db) as conn:  # what the attack leaves when it succeeds
            conn.execute("DELETE FROM comind.api_tokens WHERE id = 'evil'")


def _write(runtime: Platform, root: Path, logins: WorkerLogins, ids: range) -> None:
    """One batch through the sink of the flow, with the engines a worker of it gets."""
    home = runtime.engines.home
    with flow_engines(home, EngineAddresses.of(home), logins) as engines:
        sink = FlowBuilder(load_spec(root), root, engines).sinks(FLOW)["default"]
        sink.write([Record({"id": str(i)}) for i in ids])


def _plant_trigger(app_db: PgTarget, marker: Path) -> str | None:
    """As the app: a trigger on the sink table that escalates and runs a shell command.
    Returns the refusal, or None when the trigger is in place."""
    role = sql.Identifier(app_db.user)
    body = sql.SQL(
        "CREATE FUNCTION public.escalate() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
        "EXECUTE {}; EXECUTE {}; RETURN NEW; END $f$"
    ).format(
        sql.Literal(sql.SQL("ALTER ROLE {} SUPERUSER").format(role).as_string()),
        sql.Literal(f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'"),
    )
    try:
        with connect(app_db) as conn:
            conn.execute(body)
            conn.execute(
                "CREATE TRIGGER escalate BEFORE INSERT OR UPDATE ON done "
                "FOR EACH ROW EXECUTE FUNCTION public.escalate()"
            )
    except psycopg.errors.InsufficientPrivilege as exc:
        return str(exc)
    return None


def _token_rows(db: PgTarget) -> int:
    with connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM comind.api_tokens").fetchone()
    return int(row[0]) if row else 0


def _insert_admin_token(target: PgTarget) -> bool:
    """As the app, straight into the platform database: True when it got in."""
    try:
        with connect(target) as conn:
            conn.execute(
                "INSERT INTO comind.api_tokens (id, hash, role) VALUES ('evil', 'x', 'admin')"
            )
    except psycopg.Error:
        return False
    return True


def test_an_app_cannot_escalate_through_a_flow_sink_table(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    root, app, found = shop
    assert runtime.db is not None
    app_db = found.app_db(app)
    logins = WorkerLogins.from_env(found.worker_env(FLOW))  # as the platform starts workers
    tokens_before = _token_rows(runtime.db)
    _write(runtime, root, logins, range(3))  # the platform creates the sink table on first write
    marker = Path(tempfile.gettempdir()) / f"comind-pwned-{uuid.uuid4().hex}"  # server-writable

    refused = _plant_trigger(app_db, marker)
    _write(runtime, root, logins, range(3, 6))  # the next flow write would run the trigger
    with connect(superuser(runtime.engines.postgres)) as conn:
        row = conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (app_db.user,)
        ).fetchone()
    got_in = _insert_admin_token(app_db.with_db(runtime.db.dbname))
    ran_shell = marker.exists()
    marker.unlink(missing_ok=True)

    assert row is not None and row[0] is False, "the app's role became a superuser"
    assert not ran_shell, "app code ran a shell command through the flow's write"
    assert not got_in and _token_rows(runtime.db) == tokens_before
    assert refused is not None and "permission denied for table done" in refused
    with connect(app_db) as conn:  # what the app keeps: reading what its flows write
        assert conn.execute("SELECT count(*) FROM done").fetchone() == (6,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor swap in its own
            conn.execute("DROP TABLE done")


def test_a_flow_worker_logs_in_without_the_superuser_and_cannot_reach_tokens_or_secrets(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    """A worker runs app code (python steps): its logins are the flow's writer and the
    workers' platform role, neither of which may touch the token, secret or audit tables."""
    _, app, found = shop
    assert runtime.db is not None
    logins = WorkerLogins.from_env(found.worker_env(FLOW))
    host, port = runtime.db.host, runtime.db.port
    worker = PgTarget(host, port, logins.worker_user, logins.worker_password, runtime.db.dbname)
    writer = PgTarget(host, port, logins.flow_user, logins.flow_password, app)
    with connect(superuser(runtime.engines.postgres)) as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolinherit FROM pg_roles "
            "WHERE rolname = ANY(%s) ORDER BY 1",
            ([logins.flow_user, logins.worker_user],),
        ).fetchall()
    assert [r[1:4] for r in rows] == [(False, False, False)] * 2
    assert dict((r[0], r[4]) for r in rows)[logins.flow_user] is False  # NOINHERIT
    for table in ("api_tokens", "secrets", "audit_log", "app_credentials"):
        with connect(worker) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT 1 FROM comind.{table} LIMIT 1")
    with connect(worker) as conn:  # lineage events: appended, never read back or changed
        conn.execute(LINEAGE_EVENT, (FLOW,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # another's: refused
            conn.execute(LINEAGE_EVENT, (app,))
    for statement in ("SELECT 1 FROM comind.lineage_events", "DELETE FROM comind.lineage_events"):
        with connect(worker) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    with connect(runtime.db) as conn:
        assert conn.execute("DELETE FROM comind.lineage_events WHERE job = %s", (FLOW,)).rowcount
    with connect(worker) as conn:  # the quarantine key: read to seal PII to, never replaced
        assert conn.execute("SELECT count(*) FROM comind.quarantine_key").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE comind.quarantine_key SET public = 'x'")
    with pytest.raises(psycopg.OperationalError):  # the writer reaches app databases only
        connect(writer.with_db(runtime.db.dbname)).close()


def test_a_flow_reads_an_apps_tables_with_a_reader_of_its_own_and_no_more(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    """Red team 21d F1: planning a query on an app's table runs the functions its indexes
    call, as whoever plans: read as the flow's writer, an app's code took the writer over.
    Red team 21e G2: read as the app's own login, a flow running another app's code handed
    that code the app's database. The flow's reader of the app's database may read the
    tables the flow declares there, whole (red team 21c N5: a tenants' policy made a flow
    fail for ever), and nothing else: no other table, no other database, no owner's role."""
    _, app, found = shop
    res = next(r for r in found.resources if r.kind == "flow" and r.name == READS)
    reader = found.access.readers(res)[app]
    env = WorkerLogins.from_env(found.worker_env(READS))
    assert env.readers[app] == (reader.user, reader.password)
    assert reader.user == flow_reader_role(READS, app) and reader.dbname == app
    with connect(found.app_db(app)) as conn:
        conn.execute("CREATE TABLE public.tenants (id int, at timestamptz)")
        conn.execute("INSERT INTO public.tenants SELECT generate_series(1, 4), now()")
        conn.execute("ALTER TABLE public.tenants ENABLE ROW LEVEL SECURITY")
        conn.execute("CREATE POLICY mine ON public.tenants USING (false)")
        conn.execute("CREATE TABLE public.private (secret text)")
    found.access.apply(res)  # the table exists now: the next sync grants it
    with connect(reader) as conn:
        assert conn.execute("SELECT count(*) FROM public.tenants").fetchone() == (4,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM public.private")
    with connect(reader) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role_name(app))))
    with pytest.raises(psycopg.OperationalError):  # no other database
        connect(reader.with_db("postgres")).close()
    with connect(superuser(runtime.engines.postgres)) as conn:
        row = conn.execute("SELECT rolbypassrls FROM pg_roles WHERE rolname = %s",
                           (env.flow_user,)).fetchone()  # fmt: skip
        members = conn.execute("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r "
                               "ON r.oid = m.member WHERE r.rolname = %s",
                               (reader.user,)).fetchone()  # fmt: skip
        limits = conn.execute("SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname = "
                              "ANY(%s)", ([env.flow_user, reader.user],)).fetchall()  # fmt: skip
    assert row == (False,)  # the writer reads no app table, and bypasses nothing
    assert members == (0,)  # the reader is no member of any role
    # red team 21g F2: a flow's code took every connection of the cluster; its pools in its one
    # database, for its instance and two jobs, and two to spare
    assert dict(limits) == {
        env.flow_user: DATABASE_POOL * 3 + 2,
        reader.user: DATABASE_POOL * 3 + 2,
    }
    # the flow stops reading the app's database: its reader goes with the next apply
    writes = [t for t in res.spec["tables"] if t.get("write")]
    found.access.apply(dataclasses.replace(res, spec={**res.spec, "tables": writes}))
    with connect(superuser(runtime.engines.postgres)) as conn:
        left = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (reader.user,))
        assert left.fetchone() is None


def test_an_app_holding_its_tables_catalog_row_holds_up_no_sync(
    shop: tuple[Path, str, Provisioned],
) -> None:
    """Red team 21f H4: an app's own GRANT, uncommitted, locks its table's catalog row; the
    provisioning GRANT waited for ever, and every sync behind it. Now it gives up."""
    _, app, found = shop
    res = next(r for r in found.resources if r.kind == "flow" and r.name == READS)
    with connect(found.app_db(app)) as conn:
        conn.execute("CREATE TABLE public.tenants (id int, at timestamptz)")
    holder = psycopg.connect(found.app_db(app).conninfo())
    holder.execute("GRANT SELECT ON public.tenants TO PUBLIC")  # its transaction stays open
    admin = found.access.pg.admin
    found.access.pg.admin = dataclasses.replace(admin, lock_wait="300ms")
    try:
        with pytest.raises(psycopg.errors.LockNotAvailable):
            found.access.apply(res)
    finally:
        holder.close()
        found.access.pg.admin = admin
    found.access.apply(res)  # once the app lets go, the next sync converges
    assert found.access.observe(res) == ()


def test_a_sink_table_the_app_owns_again_is_drift_and_is_handed_back(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    """As a restore into the app's role, or the layout before issue 15, leaves it."""
    root, app, found = shop
    app_db = found.app_db(app)
    _write(runtime, root, WorkerLogins.from_env(found.worker_env(FLOW)), range(2))
    with connect(superuser(runtime.engines.postgres).with_db(app)) as conn:
        conn.execute(
            sql.SQL("ALTER TABLE public.done OWNER TO {}").format(sql.Identifier(app_db.user))
        )
    flow = next(r for r in found.resources if r.kind == "flow")
    assert found.access.observe(flow) == (
        f"{app}/done: owned by {app_db.user}, not comind_owner_{app}",
    )
    found.access.apply(flow)
    assert found.access.observe(flow) == ()
    assert _plant_trigger(app_db, Path(tempfile.gettempdir()) / "never") is not None


SHADOWED = ("pg_get_userbyid(oid) RETURNS name", "to_regclass(text) RETURNS regclass",
            "has_table_privilege(name, oid, text) RETURNS boolean",
            "format_type(oid, integer) RETURNS text")  # fmt: skip


def _shadow_the_catalog(app_db: PgTarget) -> None:
    """As the app (it owns its database): functions named like the catalog's that make the
    app superuser when a superuser calls them, first in the database's search path."""
    escalate = sql.SQL("ALTER ROLE {} SUPERUSER").format(sql.Identifier(app_db.user))
    with connect(app_db) as conn:
        conn.execute("CREATE SCHEMA evil")
        for signature in SHADOWED:
            name, _, returns = signature.partition(" RETURNS ")
            args = name[name.index("(") + 1 : -1].split(", ")
            params = ", ".join(f"a{i} {t}" for i, t in enumerate(args))
            call = ", ".join(f"a{i}" for i in range(len(args)))
            conn.execute(sql.SQL(
                "CREATE FUNCTION evil.{}(" + params + ") RETURNS " + returns + " LANGUAGE plpgsql "
                "AS $f$ BEGIN IF (SELECT rolsuper FROM pg_catalog.pg_roles "
                "WHERE rolname = current_user) THEN EXECUTE {}; END IF; "
                "RETURN pg_catalog.{}(" + call + "); END $f$"
            ).format(sql.Identifier(name[: name.index("(")]), sql.Literal(escalate.as_string()),
                     sql.Identifier(name[: name.index("(")])))  # fmt: skip
        conn.execute("GRANT USAGE ON SCHEMA evil TO PUBLIC")
        conn.execute(sql.SQL("ALTER DATABASE {} SET search_path = evil, pg_catalog, public")
                     .format(sql.Identifier(app_db.dbname)))  # fmt: skip


def test_an_app_cannot_put_its_functions_in_the_platforms_path(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    """The red team's escalation: the app's database search path led the superuser's drift
    check to a pg_get_userbyid of the app's, which made the app superuser."""
    root, app, found = shop
    app_db = found.app_db(app)
    _write(runtime, root, WorkerLogins.from_env(found.worker_env(FLOW)), range(2))
    _shadow_the_catalog(app_db)
    database = next(r for r in found.resources if r.kind == "database")
    flow = next(r for r in found.resources if r.kind == "flow")
    for provider, res in ((found.databases, database), (found.access, flow)):
        provider.observe(res)
        provider.apply(res)
    _write(runtime, root, WorkerLogins.from_env(found.worker_env(FLOW)), range(2, 4))
    with connect(superuser(runtime.engines.postgres)) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (app_db.user,))
        assert row.fetchone() == (False,), "the app's role became a superuser"
    # every platform login into the app's database searches the catalog alone: the app owns
    # schema public too, and an overload there matching a call's types better would win
    with connect(superuser(runtime.engines.postgres).with_db(app_db.dbname)) as conn:
        assert conn.execute("SHOW search_path").fetchone() == ("pg_catalog,pg_temp",)


def test_a_sink_table_the_app_made_first_is_not_written_nor_adopted_with_its_trigger(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    """The red team made the sink table before the flow's first write, with a trigger, and
    granted the owner role all on it: the flow's writes ran the trigger as its writer."""
    root, app, found = shop
    app_db = found.app_db(app)
    owner = sql.Identifier(f"comind_owner_{app}")
    with connect(app_db) as conn:
        conn.execute("CREATE TABLE public.done (id text PRIMARY KEY)")
        conn.execute("CREATE TABLE public.spied (who text)")
        conn.execute("GRANT INSERT ON public.spied TO PUBLIC")
        conn.execute(
            "CREATE FUNCTION public.spy() RETURNS trigger LANGUAGE plpgsql AS $f$ "
            "BEGIN INSERT INTO public.spied VALUES (current_user); RETURN NULL; END $f$"
        )
        conn.execute("CREATE TRIGGER spy AFTER INSERT ON public.done "
                     "FOR EACH STATEMENT EXECUTE FUNCTION public.spy()")  # fmt: skip
        conn.execute(sql.SQL("GRANT ALL ON public.done TO {} WITH GRANT OPTION").format(owner))
    with pytest.raises(ComindError, match="owned by"):
        _write(runtime, root, WorkerLogins.from_env(found.worker_env(FLOW)), range(2))
    flow = next(r for r in found.resources if r.kind == "flow")
    with pytest.raises(ComindError, match="trigger spy"):
        found.access.apply(flow)  # the next sync says what stops it from taking the table
    with connect(app_db) as conn:
        assert conn.execute("SELECT count(*) FROM public.spied").fetchone() == (0,)
        owned = "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.done'::regclass"
        assert conn.execute(owned).fetchone() == (app_db.user,)
