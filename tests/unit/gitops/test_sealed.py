"""Sealed secrets: round trips, scope binding, tampering, key renewal and reseal, no leaks."""

from __future__ import annotations

import base64
import itertools
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from comind.errors import ComindError, UsageError
from comind.gitops.sealed import (
    HEADER,
    read_sealed,
    reseal,
    seal_values,
    sealed_files,
    unseal,
    write_sealed,
)
from comind.gitops.sealing_keys import SealedSecretError, SealingKeys
from comind.spec.references import secret_file

APP, ENV, NAME = "orders", "dev", "stripe-key"
PLAIN = "sk_live_do-not-leak-4242"
OTHER = "whsec_also-secret-9999"


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def key_pool() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=3072) for _ in range(4)]


@pytest.fixture(autouse=True)
def _reuse_keys(key_pool: list[rsa.RSAPrivateKey], monkeypatch: pytest.MonkeyPatch) -> None:
    """Making an RSA-3072 key takes ~0.3 s: hand out four real keys in turn (no test uses more)."""
    pool: Iterator[rsa.RSAPrivateKey] = itertools.cycle(key_pool)

    def generate(*, public_exponent: int, key_size: int) -> rsa.RSAPrivateKey:
        assert (public_exponent, key_size) == (65537, 3072)
        return next(pool)

    monkeypatch.setattr(rsa, "generate_private_key", generate)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(tmp_path: Path, clock: Clock) -> SealingKeys:
    return SealingKeys(tmp_path / "home" / "secrets" / "sealing", clock=clock)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tmp_path / "repo"


def seal(
    keys: SealingKeys, repo: Path, *, env: str = ENV, values: dict[str, str] | None = None
) -> Path:
    path = secret_file(repo, APP, NAME)
    values = values or {"STRIPE_KEY": PLAIN, "WEBHOOK_SECRET": OTHER}
    write_sealed(
        path, APP, NAME, env, seal_values(keys, app=APP, env=env, name=NAME, values=values)
    )
    return path


def open_(path: Path, keys: SealingKeys, **scope: str) -> dict[str, str]:
    return unseal(path, keys, **{"app": APP, "env": ENV, "name": NAME, **scope})


def edit(path: Path, change: Any) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1 << 16))


def assert_no_plaintext(error: BaseException) -> None:
    for text in (str(error), repr(error), *map(str, error.args)):
        assert PLAIN not in text and OTHER not in text
    assert error.__cause__ is None


# -- round trip and file format


def test_round_trip(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    assert path == repo / "secrets" / APP / f"{NAME}.sealed.yaml"
    assert sealed_files(repo) == [path]
    assert open_(path, keys) == {"STRIPE_KEY": PLAIN, "WEBHOOK_SECRET": OTHER}


def test_the_file_has_the_documented_shape_and_no_plaintext(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    text = path.read_text()
    assert text.startswith(HEADER)
    doc = yaml.safe_load(text)
    assert {k: doc[k] for k in ("apiVersion", "kind", "app", "name")} == {
        "apiVersion": "comind/v1",
        "kind": "SealedSecret",
        "app": APP,
        "name": NAME,
    }
    assert doc["environments"][ENV]["keyId"] == keys.ids()[-1]
    assert set(doc["environments"][ENV]["data"]) == {"STRIPE_KEY", "WEBHOOK_SECRET"}
    assert PLAIN not in text and OTHER not in text
    assert base64.b64encode(PLAIN.encode()).decode()[:12] not in text


def test_the_same_value_seals_differently_each_time(keys: SealingKeys) -> None:
    first, second = (
        seal_values(keys, app=APP, env=ENV, name=NAME, values={"K": PLAIN}) for _ in range(2)
    )
    assert first["data"]["K"] != second["data"]["K"]


def test_sealing_prod_keeps_the_dev_entry_unchanged(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    dev_before = yaml.safe_load(path.read_text())["environments"][ENV]
    seal(keys, repo, env="prod", values={"STRIPE_KEY": OTHER})
    doc = yaml.safe_load(path.read_text())
    assert doc["environments"][ENV] == dev_before
    assert open_(path, keys) == {"STRIPE_KEY": PLAIN, "WEBHOOK_SECRET": OTHER}
    assert open_(path, keys, env="prod") == {"STRIPE_KEY": OTHER}


def test_sealing_an_env_again_replaces_only_its_entry(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    seal(keys, repo, values={"ONLY": "new"})
    assert open_(path, keys) == {"ONLY": "new"}


# -- scope binding


def test_another_app_is_refused_by_the_header(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    with pytest.raises(SealedSecretError, match="sealed for orders/stripe-key, not billing/"):
        open_(path, keys, app="billing")


@pytest.mark.parametrize(
    ("field", "value", "scope"),
    [
        ("app", "billing", {"app": "billing"}),
        ("name", "paypal-key", {"name": "paypal-key"}),
    ],
)
def test_a_moved_file_with_an_edited_header_does_not_open(
    keys: SealingKeys, repo: Path, field: str, value: str, scope: dict[str, str]
) -> None:
    path = seal(keys, repo)
    moved = secret_file(repo, scope.get("app", APP), scope.get("name", NAME))
    moved.parent.mkdir(parents=True, exist_ok=True)
    moved.write_text(path.read_text())
    edit(moved, lambda doc: doc.update({field: value}))
    with pytest.raises(SealedSecretError, match="does not open") as raised:
        open_(moved, keys, **scope)
    assert_no_plaintext(raised.value)


def test_an_entry_copied_to_another_environment_does_not_open(
    keys: SealingKeys, repo: Path
) -> None:
    path = seal(keys, repo)
    edit(path, lambda doc: doc["environments"].update(prod=doc["environments"][ENV]))
    assert open_(path, keys) == {"STRIPE_KEY": PLAIN, "WEBHOOK_SECRET": OTHER}
    with pytest.raises(SealedSecretError, match="does not open") as raised:
        open_(path, keys, env="prod")
    assert_no_plaintext(raised.value)


def test_values_swapped_between_data_keys_do_not_open(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)

    def swap(doc: dict[str, Any]) -> None:
        data = doc["environments"][ENV]["data"]
        data["STRIPE_KEY"], data["WEBHOOK_SECRET"] = data["WEBHOOK_SECRET"], data["STRIPE_KEY"]

    edit(path, swap)
    with pytest.raises(SealedSecretError, match="STRIPE_KEY of orders/dev/stripe-key"):
        open_(path, keys)


def test_a_missing_environment_says_how_to_add_it(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    with pytest.raises(SealedSecretError, match=r"no entry for environment 'prod'.*--env prod"):
        open_(path, keys, env="prod")


# -- tampering


@pytest.mark.parametrize("where", [0, 1, 2, 200, 2 + 384, 2 + 384 + 12, -1])
def test_changing_any_byte_is_detected(keys: SealingKeys, repo: Path, where: int) -> None:
    path = seal(keys, repo)

    def flip(doc: dict[str, Any]) -> None:
        data = doc["environments"][ENV]["data"]
        raw = bytearray(base64.b64decode(data["STRIPE_KEY"]))
        raw[where] ^= 0x01
        data["STRIPE_KEY"] = base64.b64encode(bytes(raw)).decode()

    edit(path, flip)
    with pytest.raises(SealedSecretError, match="does not open") as raised:
        open_(path, keys)
    assert_no_plaintext(raised.value)


@pytest.mark.parametrize("value", ["not base64!", "", "AAAA"])
def test_garbage_values_are_refused(keys: SealingKeys, repo: Path, value: str) -> None:
    path = seal(keys, repo)
    edit(path, lambda doc: doc["environments"][ENV]["data"].update(STRIPE_KEY=value))
    with pytest.raises(SealedSecretError, match="does not open"):
        open_(path, keys)


@pytest.mark.parametrize(
    "text",
    [
        "not: [yaml",
        "apiVersion: comind/v1\nkind: Secret\n",
        "apiVersion: comind/v1\nkind: SealedSecret\napp: orders\n",
        "apiVersion: comind/v1\nkind: SealedSecret\napp: a\nname: b\nenvironments: {dev: {}}\n",
    ],
)
def test_a_malformed_file_is_one_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.sealed.yaml"
    path.write_text(text)
    with pytest.raises(SealedSecretError, match=r"x\.sealed\.yaml is not a"):
        read_sealed(path)


def test_write_refuses_a_file_of_another_secret(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    entry = seal_values(keys, app="billing", env=ENV, name=NAME, values={"K": PLAIN})
    with pytest.raises(SealedSecretError, match="holds the sealed secret orders/stripe-key"):
        write_sealed(path, "billing", NAME, ENV, entry)


# -- keys: rotation, renewal, reseal, missing keys


def test_the_first_key_is_made_on_first_use(keys: SealingKeys, clock: Clock) -> None:
    assert keys.ids() == []
    key_id = keys.current()
    assert keys.ids() == [key_id]
    assert key_id.startswith("20261127-") and len(key_id) == len("20261127-1a2b3c")
    assert keys.created(key_id) == clock.now
    assert b"BEGIN PUBLIC KEY" in keys.public_pem()


def test_key_files_are_private(keys: SealingKeys) -> None:
    keys.current()
    keys.rotate()
    assert stat.S_IMODE(keys.directory.stat().st_mode) == 0o700
    files = list(keys.directory.iterdir())
    assert len(files) == 2
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert all("-----BEGIN PRIVATE KEY-----" in f.read_text() for f in files)


def test_keys_renew_after_30_days(keys: SealingKeys, clock: Clock) -> None:
    first = keys.current()
    clock.advance(days=29, hours=23)
    assert keys.current() == first
    clock.advance(hours=1)
    second = keys.current()
    assert second != first and second.startswith("20261227-")
    assert keys.ids() == [first, second]


def test_the_renewal_period_is_configurable(keys: SealingKeys, clock: Clock) -> None:
    weekly = SealingKeys(keys.directory, renew_after=timedelta(days=7), clock=clock)
    first = weekly.current()
    clock.advance(days=7)
    assert weekly.current() != first


def test_rotate_makes_the_newest_key_even_when_the_clock_stands_still(
    keys: SealingKeys,
) -> None:
    first = keys.current()
    second = keys.rotate()
    third = keys.rotate()
    assert keys.ids() == [first, second, third]
    assert keys.current() == third


def test_an_entry_under_an_old_key_opens_after_rotate(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    old = keys.current()
    new = keys.rotate()
    assert read_sealed(path).environments[ENV]["keyId"] == old
    assert open_(path, keys)["STRIPE_KEY"] == PLAIN
    assert seal_values(keys, app=APP, env=ENV, name=NAME, values={"K": "v"})["keyId"] == new


def test_reseal_moves_entries_to_the_newest_key(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    seal(keys, repo, env="prod", values={"STRIPE_KEY": OTHER})
    old, new = keys.current(), keys.rotate()
    assert reseal(path, keys) == 2
    assert {e["keyId"] for e in read_sealed(path).environments.values()} == {new}
    (keys.directory / f"{old}.pem").unlink()
    assert open_(path, keys) == {"STRIPE_KEY": PLAIN, "WEBHOOK_SECRET": OTHER}
    assert open_(path, keys, env="prod") == {"STRIPE_KEY": OTHER}
    assert reseal(path, keys) == 0


def test_reseal_only_touches_stale_entries(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    keys.rotate()
    seal(keys, repo, env="prod")
    prod_before = read_sealed(path).environments["prod"]
    assert reseal(path, keys) == 1
    assert read_sealed(path).environments["prod"] == prod_before


def test_a_missing_key_is_named(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    key_id = keys.current()
    (keys.directory / f"{key_id}.pem").unlink()
    with pytest.raises(SealedSecretError, match=f"sealing key {key_id} is missing") as raised:
        open_(path, keys)
    assert_no_plaintext(raised.value)
    with pytest.raises(SealedSecretError, match=key_id):
        reseal(path, keys)


def test_a_forged_key_id_cannot_reach_outside_the_key_directory(
    keys: SealingKeys, repo: Path
) -> None:
    path = seal(keys, repo)
    edit(path, lambda doc: doc["environments"][ENV].update(keyId="../../../etc/passwd"))
    with pytest.raises(SealedSecretError, match="is not a sealing key id"):
        open_(path, keys)


# -- names and leaks


@pytest.mark.parametrize("data_key", ["stripe_key", "1KEY", "STRIPE-KEY", "", "KEY ", "ÄKEY"])
def test_bad_data_key_names_are_refused(keys: SealingKeys, data_key: str) -> None:
    with pytest.raises(UsageError, match="must look like an environment variable") as raised:
        seal_values(keys, app=APP, env=ENV, name=NAME, values={data_key: PLAIN})
    assert_no_plaintext(raised.value)


@pytest.mark.parametrize(
    "scope",
    [{"app": "../etc"}, {"env": "Prod"}, {"name": "a/b"}, {"name": "-x"}],
)
def test_scopes_must_be_dns_labels(keys: SealingKeys, scope: dict[str, str]) -> None:
    full = {"app": APP, "env": ENV, "name": NAME, **scope}
    with pytest.raises(UsageError, match="must be a DNS label"):
        seal_values(keys, **full, values={"K": PLAIN})


def test_no_error_message_holds_plaintext(keys: SealingKeys, repo: Path) -> None:
    path = seal(keys, repo)
    keys.rotate()
    attempts: list[Callable[[], object]] = [
        lambda: open_(path, keys, app="billing"),
        lambda: open_(path, keys, env="prod"),
        lambda: open_(path, keys, name="other"),
        lambda: seal_values(keys, app=APP, env=ENV, name=NAME, values={"bad": PLAIN}),
    ]
    edit(path, lambda doc: doc.update(app="billing"))
    attempts.append(lambda: open_(path, keys, app="billing"))
    for attempt in attempts:
        with pytest.raises(ComindError) as raised:
            attempt()
        assert_no_plaintext(raised.value)
