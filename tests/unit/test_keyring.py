"""The keyring: data keys per scope wrapped by a versioned KEK; rotation re-wraps, never
re-keys data; retired KEK versions are refused while still in use."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from comind.backup.keys import KeyRing
from comind.embedded.home import StateDir
from comind.errors import ComindError
from comind.governance.kek import LocalKek
from comind.governance.keyring import Keyring
from comind.platform.keys import KeyService
from comind.platform.objects import file_store


def test_data_keys_are_stable_per_scope_and_stored_wrapped(tmp_path: Path) -> None:
    ring = Keyring(tmp_path)
    first = ring.data_key("bucket/files")
    assert Keyring(tmp_path).data_key("bucket/files") == first
    assert ring.data_key("dataset/x").key != first.key
    stored = (tmp_path / "data-keys.json").read_bytes()
    assert first.key.hex() not in stored.hex() and len(first.key) == 32
    for name in ("data-keys.json", "kek.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_rotation_rewraps_every_key_and_old_versions_retire(tmp_path: Path) -> None:
    ring = Keyring(tmp_path)
    keys = {s: ring.data_key(s) for s in ("backup", "bucket/a", "pii/hmac")}
    rotation = ring.rotate()
    assert (rotation.kek_version, rotation.rewrapped) == ("v2", 3)
    ring.retire("v1")
    with pytest.raises(ComindError, match="v2 still wraps"):
        ring.retire("v2")
    fresh = Keyring(tmp_path)
    assert {s: fresh.data_key(s) for s in keys} == keys
    assert all(set(s.keys.values()) == {"v2"} for s in fresh.status())


def test_a_kek_version_in_use_is_not_retired(tmp_path: Path) -> None:
    ring = Keyring(tmp_path)
    ring.data_key("bucket/a")
    ring.kek.new_version()  # a new version without re-wrapping: v1 still wraps bucket/a
    with pytest.raises(ComindError, match="still wraps data keys of bucket/a"):
        ring.retire("v1")


def test_new_data_key_keeps_the_old_one_but_never_for_the_hmac_key(tmp_path: Path) -> None:
    ring = Keyring(tmp_path)
    old = ring.data_key("bucket/a")
    new = ring.new_data_key("bucket/a")
    assert new.id != old.id and ring.data_key("bucket/a") == new
    assert ring.key("bucket/a", old.id) == old.key
    with pytest.raises(ComindError, match="never replaced"):
        ring.new_data_key("pii/hmac")


def test_a_wrapped_key_moved_to_another_scope_does_not_open(tmp_path: Path) -> None:
    ring = Keyring(tmp_path)
    a = ring.data_key("bucket/a")
    doc = json.loads((tmp_path / "data-keys.json").read_text())
    doc["bucket/b"] = doc["bucket/a"]
    (tmp_path / "data-keys.json").write_text(json.dumps(doc))
    with pytest.raises(ComindError, match="does not unwrap"):
        Keyring(tmp_path).key("bucket/b", a.id)


def test_a_passphrase_wrapped_kek_needs_its_passphrase(tmp_path: Path) -> None:
    key = Keyring(tmp_path, LocalKek(tmp_path, "correct horse")).data_key("backup")
    assert Keyring(tmp_path, LocalKek(tmp_path, "correct horse")).key("backup", key.id) == key.key
    with pytest.raises(ComindError, match="wrong COMIND_KEK_PASSPHRASE"):
        Keyring(tmp_path, LocalKek(tmp_path, "wrong")).key("backup", key.id)
    with pytest.raises(ComindError, match="set COMIND_KEK_PASSPHRASE"):
        Keyring(tmp_path, LocalKek(tmp_path)).key("backup", key.id)


def test_legacy_backup_keys_move_into_the_keyring_with_their_ids(tmp_path: Path) -> None:
    legacy = KeyRing(tmp_path)
    old_id, old_key = legacy.current()
    current_id, current_key = legacy.rotate()
    ring = KeyRing(tmp_path, Keyring(tmp_path))
    assert ring.current() == (current_id, current_key)  # the legacy current stays current
    assert ring.all() == {old_id: old_key, current_id: current_key}
    assert not (tmp_path / "backup-keys.json").exists()  # no raw key left on disk
    assert old_key.hex() not in (tmp_path / "data-keys.json").read_bytes().hex()
    new_id, _ = ring.rotate()
    assert Keyring(tmp_path).data_key("backup").id == new_id and len(ring.all()) == 3


def test_the_key_service_rotates_renews_and_retires_on_the_state_directory(
    tmp_path: Path,
) -> None:
    home = StateDir(tmp_path)
    store = file_store(home)
    store.create_bucket("safe")
    store.configure_bucket("safe", {"encrypted": True, "versioning": False})
    store.put("safe", "a", b"secret")
    service = KeyService(home)
    done = service.rotate(reencrypt=True)
    assert (done["kek_version"], done["new_data_keys"]) == ("v2", ["bucket/safe", "backup"])
    status = service.status()
    assert status["reencrypt_remaining"] == 1 and status["kek_versions"] == ["v1", "v2"]
    assert service.retire("v1")["kek_versions"] == ["v2"]
    assert store.get("safe", "a") == b"secret"
