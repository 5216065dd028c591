"""Where the platform's buckets live (issue 19): the state directory's store, or every bucket
on S3 under a name prefix; the choice is kept once made, so a later start or command without
the variable cannot quietly switch to an empty store."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from comind.embedded.home import StateDir
from comind.embedded.settings import Settings
from comind.platform.objects import keep_choices, object_store
from comind.stores.objects import FileObjectStore
from comind.stores.routed_objects import RoutedStore
from comind.stores.s3_objects import S3ObjectStore


@pytest.fixture
def home(tmp_path: Path) -> StateDir:
    made = StateDir(tmp_path / "home")
    made.create()
    return made


def test_the_state_directory_holds_the_buckets_unless_told(home: StateDir) -> None:
    assert isinstance(object_store(home, Settings(home=home.root)), FileObjectStore)
    assert isinstance(object_store(home, Settings(home=home.root, object_store="file")),
                      FileObjectStore)  # fmt: skip


def test_every_bucket_on_s3_is_named_with_the_prefix_and_the_choice_is_kept(
    home: StateDir,
) -> None:
    chosen = Settings(home=home.root, object_store="s3:acme-prod-",
                      s3_endpoint="http://127.0.0.1:9")  # fmt: skip
    store = object_store(home, chosen)
    assert isinstance(store, RoutedStore) and store.name_prefix == "acme-prod-"
    assert isinstance(object_store(home, Settings(home=home.root, object_store="s3")),
                      S3ObjectStore)  # fmt: skip
    keep_choices(home, chosen)
    later = object_store(home, Settings(home=home.root))  # no variable: the kept choice
    assert isinstance(later, RoutedStore) and later.name_prefix == "acme-prod-"
    assert oct((home.secrets / "object-store-url").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("given", ["S3", "s3:Acme", "s3://bucket", "minio"])
def test_a_choice_that_names_no_store_is_refused(given: str) -> None:
    with pytest.raises(ValidationError, match="object_store"):
        Settings(object_store=given)
