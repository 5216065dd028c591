"""Provider ``bucket``: an object-store bucket with its versioning, version retention and
encryption settings."""

from __future__ import annotations

from comind.gitops.providers.base import MISSING, Observed
from comind.gitops.resources import Resource
from comind.stores.objects import ObjectStore

SETTINGS = ("versioning", "versions", "encrypted")


class BucketProvider:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def observe(self, res: Resource) -> Observed:
        config = self.store.bucket_config(res.name)
        if config is None:
            return MISSING
        drift = tuple(
            f"{key} is {config.get(key)}, spec says {res.spec[key]}"
            for key in SETTINGS
            if config.get(key) != res.spec[key]
        )
        holds = next(iter(self.store.list(res.name)), None) is not None
        return Observed(True, drift, holds_data=holds)

    def apply(self, res: Resource) -> None:
        self.store.create_bucket(res.name)
        self.store.configure_bucket(res.name, {key: res.spec[key] for key in SETTINGS})

    def delete(self, res: Resource) -> None:
        self.store.delete_bucket(res.name)
