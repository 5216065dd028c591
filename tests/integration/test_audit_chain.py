"""The audit log is tamper-evident: every entry chained to the one before it by the
database, whoever inserts it; ``verify`` names the first entry an edit, a deletion or an
insertion broke, and the anchors in the backup store catch a chain rebuilt after an edit."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from comind.governance.access import AccessStore
from comind.governance.audit_chain import AuditChain
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import PgTarget, connect, make_pool

REHASH = """
UPDATE comind.audit_log SET hash = sha256(convert_to(concat_ws(chr(31), seq::text,
    encode(prev_hash, 'hex'), to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
    actor, action, target, outcome, detail::text), 'UTF8')) WHERE seq = %s
"""


@pytest.fixture
def chain(pg: PgTarget, tmp_path: Path) -> AuditChain:
    pool = make_pool(pg, max_size=8)
    store = AccessStore(pool)

    def append(i: int) -> None:
        store.audit("admin", "sync", f"app{i}", "accepted", {"n": i, "note": "ünïcode"})

    with ThreadPoolExecutor(8) as workers:  # appends race: the chain stays one chain
        list(workers.map(append, range(40)))
    return AuditChain(pool, FileObjectStore(tmp_path / "objects"))


def sql(pg: PgTarget, statement: str, *args: object) -> None:
    with connect(pg) as conn:
        conn.execute(statement, args or None)


def test_an_untouched_chain_is_intact_and_exports_with_its_hashes(chain: AuditChain) -> None:
    verdict = chain.verify()
    assert (verdict.intact, verdict.entries, verdict.first_broken) == (True, 40, None)
    exported = chain.export(0, datetime.fromtimestamp(0, UTC), 100)
    assert [e["seq"] for e in exported] == list(range(1, 41))
    assert all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(exported))


@pytest.mark.parametrize(
    ("tamper", "seq", "problem"),
    [
        ("UPDATE comind.audit_log SET outcome = 'refused' WHERE seq = 17", 17, "edited"),
        ("UPDATE comind.audit_log SET detail = '{\"n\": 99}' WHERE seq = 3", 3, "edited"),
        ("DELETE FROM comind.audit_log WHERE seq = 9", 9, "deleted"),
        ("DELETE FROM comind.audit_log WHERE seq > 35", 36, "deleted"),
    ],
)
def test_verify_names_the_first_broken_entry(
    chain: AuditChain, pg: PgTarget, tamper: str, seq: int, problem: str
) -> None:
    sql(pg, tamper)
    verdict = chain.verify()
    assert not verdict.intact and verdict.first_broken is not None
    assert (verdict.first_broken.seq, verdict.first_broken.problem.split(":")[0]) == (seq, problem)


def test_an_inserted_entry_breaks_the_chain_where_it_went_in(
    chain: AuditChain, pg: PgTarget
) -> None:
    sql(pg, "ALTER TABLE comind.audit_log DISABLE TRIGGER audit_chain")
    sql(pg, "UPDATE comind.audit_log SET seq = seq + 1000 WHERE seq > 20")
    sql(pg, "UPDATE comind.audit_log SET seq = seq - 999 WHERE seq > 1000")
    sql(pg, "INSERT INTO comind.audit_log (actor, action, target, outcome, seq, prev_hash, hash) "
            "SELECT 'admin', 'token-create', 'x', 'accepted', 21, hash, hash "
            "FROM comind.audit_log WHERE seq = 20")  # fmt: skip
    broken = chain.verify().first_broken
    assert broken is not None and (broken.seq, broken.problem.split(":")[0]) == (21, "edited")
    sql(pg, REHASH, 21)  # re-hashed to look right: the entry after it no longer follows
    broken = chain.verify().first_broken
    assert broken is not None and (broken.seq, broken.problem.split(":")[0]) == (22, "inserted")


def test_an_anchor_catches_a_chain_rebuilt_after_an_edit(chain: AuditChain, pg: PgTarget) -> None:
    assert chain.anchor() == 40 and chain.anchor() == 40  # written once
    assert chain.verify().anchors == 1
    sql(pg, "ALTER TABLE comind.audit_log DISABLE TRIGGER audit_chain")
    with connect(pg) as conn:  # an attacker with superuser rewrites entry 40 and re-hashes
        conn.execute("UPDATE comind.audit_log SET target = 'nothing' WHERE seq = 40")
        conn.execute(REHASH, (40,))
        conn.execute("UPDATE comind.audit_head SET hash = (SELECT hash FROM comind.audit_log "
                     "WHERE seq = 40)")  # fmt: skip
    verdict = chain.verify()
    assert verdict.first_broken is not None and verdict.first_broken.seq == 40
    assert verdict.first_broken.problem.startswith("rewritten")
    sql(pg, "DELETE FROM comind.audit_log WHERE seq >= 40")
    sql(pg, "UPDATE comind.audit_head SET seq = 39")
    broken = chain.verify().first_broken  # truncated, head and all: the anchor remembers
    assert broken is not None and broken.problem.startswith("deleted: an anchor")


def test_no_platform_role_may_change_the_audit_log(chain: AuditChain, pg: PgTarget) -> None:
    with connect(pg) as conn:
        grants = conn.execute(
            "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
            "WHERE table_schema = 'comind' AND table_name = 'audit_log' "
            "AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE') "
            "AND grantee NOT IN (SELECT rolname FROM pg_roles WHERE rolsuper)"
        ).fetchall()
    assert grants == []


def test_bytes_moved_across_fields_are_caught_and_never_written(
    chain: AuditChain, pg: PgTarget
) -> None:
    """The hash joins fields with chr(31): the platform writes none in a field (a caller's
    target included), so an entry with one had bytes moved across fields (red team)."""
    AccessStore(chain.pool).audit("admin", "sync", "app\x1fadmin", "accepted")
    with connect(pg) as conn:
        (target,) = conn.execute("SELECT target FROM comind.audit_log WHERE seq = 41").fetchone()
    assert target == "app\ufffdadmin"
    # an entry written with one before (the trigger hashes whatever is inserted)...
    sql(pg, "INSERT INTO comind.audit_log (actor, action, target, outcome, detail) VALUES "
            "('admin', 'sync', 'app' || chr(31) || 'x', 'accepted', '{}')")  # fmt: skip
    # ...lets a superuser move bytes from target to action without changing its hash
    sql(pg, "UPDATE comind.audit_log SET action = 'sync' || chr(31) || 'app', target = 'x' "
            "WHERE seq = 42")  # fmt: skip
    verdict = chain.verify()
    assert verdict.first_broken is not None and verdict.first_broken.seq == 42
    assert "separator" in verdict.first_broken.problem
