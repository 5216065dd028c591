"""The GitOps control plane against the real engines: sync, no-op, drift and self-heal,
refused revisions, isolation between apps, prune and orphans."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import redis
from tests.waiting import wait_until

from comind.embedded.platform import EmbeddedPlatform
from comind.gitops.folder import FolderSource
from comind.gitops.plane import ControlPlane, Engines
from comind.gitops.records import SecretStore
from comind.gitops.source import GitSource
from comind.governance.sealing import Sealer
from comind.queue.config import queue_settings
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.queue.remote import RemoteQueues
from comind.spec.names import BACKUP_ROLE
from comind.stores.objects import FileObjectStore
from comind.stores.pg_admin import PgAdmin
from comind.stores.postgres import PgTarget, connect, superuser
from comind.stores.redis import RedisTarget, default_user
from comind.stores.redis_acl import RedisAcl

SPEC = """\
platform: {{name: t}}
environments:
  dev: {{sync: {{self_heal: {heal}}}}}
apps:
  {a}:
    run: python -m a
    database: {{name: {a}, extensions: [pgcrypto]{db_extra}}}
    cache: {{}}
    bucket: {{name: {a}-files}}
    queues:
      jobs: {{dlq: {{max_receives: 3}}}}
{b_app}
topics:
  {a}-events: {{subscribers: [{a}/jobs]}}
"""
B_APP = """\
  {b}:
    run: python -m b
    database: {{name: {b}}}
    cache: {{}}
"""

Plane = Callable[..., ControlPlane]


@pytest.fixture
def names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    return {"a": f"a{tag}", "b": f"b{tag}"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tmp_path / "repo"


def write(repo: Path, names: dict[str, str], *, heal: bool = True, with_b: bool = True,
          db_extra: str = "") -> None:  # fmt: skip
    repo.mkdir(exist_ok=True)
    b_app = B_APP.format(**names) if with_b else ""
    text = SPEC.format(heal=str(heal).lower(), b_app=b_app, db_extra=db_extra, **names)
    (repo / "comind.yaml").write_text(text)


@pytest.fixture
def plane(
    platform: EmbeddedPlatform, pg: PgTarget, repo: Path, names: dict[str, str], tmp_path: Path
) -> Iterator[Plane]:
    layer = MessageLayer.open(pg, max_connections=4)
    engines = Engines(
        superuser(platform.postgres), default_user(platform.redis),
        FileObjectStore(tmp_path / "objects"), tmp_path / "artifacts",
    )  # fmt: skip
    secrets = SecretStore(layer.pool, Sealer(b"k" * 32))

    made: list[ControlPlane] = []

    def make(**kw: object) -> ControlPlane:
        made.append(ControlPlane(FolderSource(repo), "dev", engines, layer, secrets, **kw))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for cp in made:
        cp.close()
    admin, acl = PgAdmin(engines.postgres), RedisAcl(engines.redis)
    for app in names.values():
        admin.drop_database(app)
        admin.drop_role(f"app_{app}")
        acl.delete_user(f"app_{app}")
    admin.close()
    acl.close()
    layer.close()


def statuses(cp: ControlPlane) -> dict[str, tuple[str, str]]:
    return {r.id: (r.sync, r.health) for r in cp.records.resources()}


def test_a_sync_creates_every_service_and_a_second_sync_changes_nothing(
    plane: Plane, repo: Path, names: dict[str, str]
) -> None:
    write(repo, names)
    cp = plane()
    report = cp.service.sync(trigger="test")
    assert report.outcome == "Succeeded", [o for o in report.outcomes if o.result != "Succeeded"]
    a = names["a"]
    assert statuses(cp)[f"database/{a}/{a}"] == ("Synced", "Healthy")
    assert statuses(cp)[f"queue/{a}/jobs-dlq"] == ("Synced", "Healthy")
    assert {o.action for o in report.outcomes} == {"create"}
    again = cp.service.sync(trigger="test")
    assert again.outcome == "Succeeded"
    assert {o.action for o in again.outcomes} == {"none"}
    attrs = cp.service.reconciler.providers["queue"].layer.admin.attributes(f"{a}/jobs")  # type: ignore[attr-defined]
    assert f"{a}/jobs-dlq" in attrs["RedrivePolicy"]
    assert cp.pg.connection_limit(f"app_{a}") == 20  # the spec's default


def test_each_app_reaches_only_its_own_database_and_keys(
    plane: Plane, repo: Path, names: dict[str, str]
) -> None:
    write(repo, names)
    cp = plane()
    assert cp.service.sync(trigger="test").outcome == "Succeeded"
    a_env, b_env = cp.app_env(names["a"]), cp.app_env(names["b"])
    with psycopg.connect(a_env["DATABASE_URL"]) as conn:
        conn.execute("CREATE TABLE orders (id int)")  # owns its database
        assert conn.execute("SELECT gen_random_uuid()").fetchone()  # extension installed
    b_into_a = b_env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + names["a"]
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(b_into_a).close()
    with redis.Redis.from_url(a_env["REDIS_URL"]) as r:
        r.set(f"{names['a']}:greeting", "hi")
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.set(f"{names['b']}:greeting", "stolen")
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.flushall()
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.scan()  # would list other apps' key names
        for command in ("SCRIPT FLUSH", "FLUSHDB", "CONFIG GET *", "CLIENT KILL TYPE normal",
                        "DEBUG SLEEP 0", "MONITOR", "ACL LIST", "SHUTDOWN", "REPLICAOF NO ONE",
                        "MODULE LIST", "SCRIPT KILL", "KEYS *"):  # fmt: skip
            # refused by the ACL (Redis 7 refuses DEBUG before, unless enabled in its config)
            with pytest.raises(redis.exceptions.ResponseError, match=r"permission|not allowed"):
                r.execute_command(*command.split())  # nothing that reaches other apps
        key = f"{names['a']}:greeting"
        assert r.eval("return redis.call('GET', KEYS[1])", 1, key) == b"hi"  # its own scripts
        assert r.evalsha(r.script_load("return 1"), 0) == 1
        with pytest.raises(redis.exceptions.ResponseError, match=r"(?i)perm|can.t run"):
            r.eval("return redis.call('FLUSHALL')", 0)  # nor through a script
    password = a_env["DATABASE_URL"].split(":")[2].split("@")[0]
    assert password not in repr(cp.records.resources()) and password not in repr(cp.service.current)


def test_a_queue_deleted_behind_the_platforms_back_is_healed(
    plane: Plane, repo: Path, names: dict[str, str]
) -> None:
    write(repo, names)
    cp = plane()
    cp.service.sync(trigger="test")
    layer = cp.service.reconciler.providers["queue"].layer  # type: ignore[attr-defined]
    layer.admin.delete(f"{names['a']}/jobs")
    drifted = cp.controller.refresh()
    assert [s.resource.id for s in drifted] == [f"queue/{names['a']}/jobs"]
    assert layer.admin.attributes(f"{names['a']}/jobs")  # recreated by self-heal
    assert cp.records.syncs("dev", limit=1)[0].trigger == "self-heal"


def test_without_self_heal_drift_is_shown_as_out_of_sync(
    plane: Plane, repo: Path, names: dict[str, str], platform: EmbeddedPlatform
) -> None:
    write(repo, names, heal=False)
    cp = plane()
    cp.service.sync(trigger="test")
    role = f"app_{names['a']}"
    with connect(superuser(platform.postgres)) as conn:  # someone changes the role's password
        conn.execute(f"ALTER ROLE {role} PASSWORD 'changed-by-hand'")
    drifted = cp.controller.refresh()
    assert [s.resource.id for s in drifted] == [f"database/{names['a']}/{names['a']}"]
    sync, health = statuses(cp)[f"database/{names['a']}/{names['a']}"]
    assert (sync, health) == ("OutOfSync", "Degraded")
    with connect(superuser(platform.postgres)) as conn:  # and another app is let in by hand
        conn.execute(f"GRANT CONNECT ON DATABASE {names['a']} TO app_{names['b']}")
    [step] = [s for s in cp.controller.refresh() if s.resource.kind == "database"]
    assert f"other roles may connect: app_{names['b']}" in step.observed.drift
    assert cp.service.sync(trigger="test").outcome == "Succeeded"  # a manual sync repairs it
    # only the platform's backup role besides the owner
    assert cp.pg.observe_database(names["a"]).others_connect == (BACKUP_ROLE,)  # type: ignore[union-attr]
    with psycopg.connect(cp.app_env(names["a"])["DATABASE_URL"]):
        pass


def _sessions(platform: EmbeddedPlatform, role: str) -> int:
    with connect(superuser(platform.postgres)) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,))
        return int(row.fetchone()[0])  # type: ignore[index]


def test_an_app_role_holds_no_more_connections_than_its_limit_and_a_changed_limit_heals(
    plane: Plane, repo: Path, names: dict[str, str], platform: EmbeddedPlatform
) -> None:
    write(repo, names, db_extra=", max_connections: 3")
    cp = plane()
    assert cp.service.sync(trigger="test").outcome == "Succeeded"
    role, url = f"app_{names['a']}", cp.app_env(names["a"])["DATABASE_URL"]
    held: list[psycopg.Connection[tuple[object, ...]]] = []
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            for _ in range(4):  # the outbox relay may hold one of the 3 already
                held.append(psycopg.connect(url))
        assert len(held) < 4 and _sessions(platform, role) <= 3
    finally:
        for conn in held:
            conn.close()
    with connect(superuser(platform.postgres)) as conn:  # someone lifts the limit by hand
        conn.execute(f"ALTER ROLE {role} CONNECTION LIMIT -1")
    [step] = [s for s in cp.controller.refresh() if s.resource.kind == "database"]
    assert f"role {role} may hold any number of connections, not 3" in step.observed.drift
    assert cp.pg.connection_limit(role) == 3  # self-heal put it back
    assert cp.pg.observe_database(names["b"]) is not None
    assert cp.pg.connection_limit(f"app_{names['b']}") == 20


def test_a_broken_revision_is_refused_and_the_last_good_one_stays(
    plane: Plane, repo: Path, names: dict[str, str]
) -> None:
    write(repo, names)
    cp = plane()
    good = cp.service.sync(trigger="test")
    (repo / "comind.yaml").write_text((repo / "comind.yaml").read_text().replace("run:", "rnu:", 1))
    refused = cp.service.sync(trigger="test")
    assert refused.outcome == "Refused"
    assert "comind.yaml:6:" in refused.message and "did you mean 'run'" in refused.message
    assert cp.service.current is not None and cp.service.current.revision == good.revision
    assert cp.service.environment().last_good_revision == good.revision


def test_a_flow_reading_an_apps_queue_on_sqs_is_refused_whole(
    plane: Plane, repo: Path, names: dict[str, str], moto_url: str
) -> None:
    """With the apps' queues on SQS a flow's queue source would read the PostgreSQL side,
    which the forwarder empties on to SQS: the revision is refused, nothing is made."""
    a = names["a"]
    repo.mkdir()
    (repo / "comind.yaml").write_text(
        f"platform: {{name: t}}\napps:\n  {a}: {{run: sleep 1, queues: {{q: {{}}, r: {{}}}}}}\n"
        f"flows:\n  f: {{kind: stream, source: 'queue://{a}/q', sink: {{queue: {a}/r}}}}\n"
    )
    prefix = f"s{uuid.uuid4().hex[:8]}-"
    settings = queue_settings(queue_backend="sqs", sqs_endpoint=moto_url, sqs_region="us-east-1",
                              sqs_access_key_id="testing", sqs_secret_access_key="testing",
                              sqs_queue_prefix=prefix)  # fmt: skip
    remote = RemoteQueues.open(settings)
    assert remote is not None
    try:
        cp = plane(remote=remote.owned_by(b"platform key"))
        refused = cp.service.sync(trigger="test")
        assert refused.outcome == "Refused"
        assert f"flow f reads queue {a}/q, which lives on SQS" in refused.message
        assert cp.service.current is None and remote.admin.names(prefix) == []
    finally:
        remote.close()


def test_a_failing_resource_does_not_block_the_others(
    plane: Plane, repo: Path, names: dict[str, str]
) -> None:
    write(repo, names)
    text = (repo / "comind.yaml").read_text()
    (repo / "comind.yaml").write_text(text.replace("[pgcrypto]", "[pgcrypto, nosuchext]"))
    cp = plane()
    report = cp.service.sync(trigger="test")
    assert report.outcome == "Failed", report.message
    by_id = {o.id: o for o in report.outcomes}
    failed = by_id[f"database/{names['a']}/{names['a']}"]
    assert failed.result == "Failed" and "nosuchext" in failed.message
    assert by_id[f"database/{names['b']}/{names['b']}"].result == "Succeeded"
    assert by_id[f"queue/{names['a']}/jobs"].result == "Succeeded"


def test_removing_an_app_orphans_its_data_unless_its_spec_said_delete(
    plane: Plane, repo: Path, names: dict[str, str], platform: EmbeddedPlatform
) -> None:
    write(repo, names)
    cp = plane()
    cp.service.sync(trigger="test")
    layer = cp.service.reconciler.providers["queue"].layer  # type: ignore[attr-defined]
    layer.queues.send(f"{names['a']}/jobs", [OutgoingMessage(body="keep me")])
    head = (repo / "comind.yaml").read_text().split("apps:\n")[0]
    (repo / "comind.yaml").write_text(head + "apps:\n" + B_APP.format(**names) + "topics: {}\n")
    report = cp.service.sync(trigger="test")
    actions = {o.id: (o.action, o.result) for o in report.outcomes}
    a = names["a"]
    assert actions[f"database/{a}/{a}"] == ("orphan", "Succeeded")
    assert actions[f"queue/{a}/jobs"] == ("orphan", "Succeeded")  # holds a message
    assert actions[f"queue/{a}/jobs-dlq"] == ("delete", "Succeeded")  # empty
    assert actions[f"cache/{a}/{a}"] == ("delete", "Succeeded")
    assert cp.pg.observe_database(a) is not None
    orphaned = {r.id for r in cp.records.resources() if r.orphaned}
    assert f"database/{a}/{a}" in orphaned


def test_a_database_whose_spec_said_delete_is_dropped_when_removed(
    plane: Plane, repo: Path, names: dict[str, str], platform: EmbeddedPlatform
) -> None:
    write(repo, names, db_extra=", deletion_policy: delete")
    cp = plane()
    cp.service.sync(trigger="test")
    (repo / "comind.yaml").write_text(
        "platform: {name: t}\nenvironments: {dev: {}}\napps:\n" + B_APP.format(**names)
    )
    report = cp.service.sync(trigger="test")
    a = names["a"]
    assert {o.id: o.action for o in report.outcomes}[f"database/{a}/{a}"] == "delete"
    assert cp.pg.observe_database(a) is None


def test_a_sync_gate_refuses_unsigned_revisions(
    plane: Plane, repo: Path, names: dict[str, str]
) -> None:
    write(repo, names)
    text = (repo / "comind.yaml").read_text()
    (repo / "comind.yaml").write_text(text.replace("self_heal: true", "require_signoff: true"))
    report = plane().service.sync(trigger="test")
    assert report.outcome == "Refused"
    assert "Signed-off-by" in report.message


def test_redis_target_repr_hides_the_password() -> None:
    assert "s3cret" not in repr(RedisTarget("h", 1, "s3cret", username="u"))


def test_an_app_enqueues_through_the_outbox_of_its_own_database(
    plane: Plane, repo: Path, names: dict[str, str]
) -> None:
    write(repo, names)
    cp = plane()
    cp.service.sync(trigger="test")
    assert cp.relays.apps() == sorted(names.values())
    a = names["a"]
    with psycopg.connect(cp.app_env(a)["DATABASE_URL"]) as conn:  # the app's own role
        conn.execute("INSERT INTO comind_outbox.messages (queue, body) VALUES ('jobs', 'kept')")
        conn.commit()
        conn.execute("INSERT INTO comind_outbox.messages (queue, body) VALUES ('jobs', 'lost')")
        conn.rollback()
    layer = cp.service.reconciler.providers["queue"].layer  # type: ignore[attr-defined]
    assert wait_until(lambda: [m.body for m in layer.queues.peek(f"{a}/jobs")] == ["kept"], 10)
    cp.close()
    assert cp.relays.apps() == []


def test_gates_judge_real_commits_and_a_commit_cannot_lift_its_own_gate(
    platform: EmbeddedPlatform, pg: PgTarget, tmp_path: Path, names: dict[str, str]
) -> None:
    repo = tmp_path / "gated"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip

    def commit(text: str, *flags: str) -> str:
        (repo / "comind.yaml").write_text(text)
        for args in (["add", "-A"], ["commit", "-q", *flags, "-m", "change"]):
            subprocess.run(["git", "-C", str(repo), *args], env=env, check=True)
        head = ["git", "-C", str(repo), "rev-parse", "HEAD"]
        return subprocess.run(head, check=True, capture_output=True, text=True).stdout.strip()

    subprocess.run(["git", "-C", str(repo), "init", "-q", "-b", "main"], check=True)
    gated = "platform: {name: g}\nenvironments:\n  dev: {sync: {require_signoff: true}}\n"
    signed = commit(gated + f"topics: {{{names['a']}-t: {{}}}}\n", "-s")
    source = GitSource(str(repo), ref="main", workdir=tmp_path / "work")
    layer = MessageLayer.open(pg, max_connections=2)
    engines = Engines(superuser(platform.postgres), default_user(platform.redis),
                      FileObjectStore(tmp_path / "objects"), tmp_path / "artifacts")  # fmt: skip
    cp = ControlPlane(source, "dev", engines, layer, SecretStore(layer.pool, Sealer(b"k" * 32)))
    try:
        assert cp.service.sync(trigger="test").outcome == "Succeeded"  # signed off: passes
        unsigned = commit(gated + "topics: {}\n")
        report = cp.service.sync(trigger="test")
        assert (report.outcome, report.revision) == ("Refused", unsigned)
        lifted = commit("platform: {name: g}\nenvironments:\n  dev: {}\ntopics: {}\n")
        report = cp.service.sync(trigger="test")
        assert (report.outcome, report.revision) == ("Refused", lifted)
        assert cp.service.current is not None and cp.service.current.revision == signed
        # a background sync never undoes a sync that came after what it looked at
        assert cp.service.sync_automatic(trigger="self-heal", only_if_current="0" * 40) is None
    finally:
        cp.close()
        layer.close()


def test_an_app_redis_user_allowed_more_commands_is_out_of_sync_and_repaired(
    plane: Plane, repo: Path, names: dict[str, str]
) -> None:
    """A user made before SCRIPT FLUSH was taken away (or widened by hand) is drift."""
    write(repo, names)
    cp = plane()
    assert cp.service.sync(trigger="test").outcome == "Succeeded"
    assert cp.service.current is not None
    res = next(
        r for r in cp.service.current.resources if r.id == f"cache/{names['a']}/{names['a']}"
    )
    cp.acl.conn.execute_command("ACL", "SETUSER", res.spec["user"], "+script")
    assert cp.caches.observe(res).drift == ("ACL user may run other commands than an app may",)
    cp.caches.apply(res)
    assert cp.caches.observe(res).drift == ()


def test_resources_applied_at_once_make_a_shared_role_once(platform: EmbeddedPlatform) -> None:
    """Flows applied on several threads share the workers' role and a database's owner: the
    first sync of the example failed with 'role "comind_worker" already exists'."""
    admin = PgAdmin(superuser(platform.postgres))
    role = f"comind_race_{uuid.uuid4().hex[:8]}"
    try:
        with ThreadPoolExecutor(8) as pool:
            made = [pool.submit(admin.ensure_role, role, "pw") for _ in range(8)]
            owners = [pool.submit(admin.ensure_group, f"{role}_owner") for _ in range(8)]
        assert [f.exception() for f in made + owners] == [None] * 16
    finally:
        admin.drop_role(role)
        admin.drop_role(f"{role}_owner")
        admin.close()
