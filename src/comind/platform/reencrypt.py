"""Background re-encryption: after ``comind keys rotate --reencrypt`` gave the encrypted
buckets new data keys, housekeeping re-encrypts their objects under them, at most ``RATE``
objects a second so that it never competes with the platform's own work. What is left shows
in ``comind keys status`` and ``comind_keys_reencrypt_remaining``. A bucket found with
nothing left under its current key is not scanned again until that key changes."""

from __future__ import annotations

from prometheus_client import Gauge

from comind.observe.metrics import REGISTRY
from comind.stores.object_crypto import DataKeys, scope
from comind.stores.object_rekey import rekey, stale
from comind.stores.objects import FileObjectStore

RATE = 20  # objects re-encrypted a second
REMAINING = Gauge(
    "comind_keys_reencrypt_remaining",
    "Objects of encrypted buckets still under an older data key, waiting to be re-encrypted "
    "in the background (after comind keys rotate --reencrypt).",
    registry=REGISTRY,
)


class Reencryption:
    def __init__(self, store: FileObjectStore, keys: DataKeys, rate: int = RATE) -> None:
        self.store, self.keys, self.rate = store, keys, rate
        self._done: dict[str, str] = {}  # bucket -> the data key it is wholly under

    def step(self) -> int:
        """Re-encrypt up to ``rate`` objects; returns how many are left."""
        budget, left = self.rate, 0
        for bucket in self.encrypted():
            current = self.keys.data_key(scope(bucket)).id
            if self._done.get(bucket) == current:
                continue
            waiting = 0
            for key in stale(self.store, self.keys, bucket):
                if budget > 0 and rekey(self.store, self.keys, bucket, key):
                    budget -= 1
                else:
                    waiting += 1
            if waiting == 0 and budget > 0:
                self._done[bucket] = current
            left += waiting
        REMAINING.set(left)
        return left

    def remaining(self) -> int:
        return sum(1 for b in self.encrypted() for _ in stale(self.store, self.keys, b))

    def encrypted(self) -> list[str]:
        store = self.store
        return [b for b in store.buckets() if (store.bucket_config(b) or {}).get("encrypted")]
