"""S3 as the platform names it: objects under a prefix (``s3://BUCKET/PREFIX``), read as a
source (a backup store synced there is where a disaster recovery on an empty machine starts)
or as a bucket the backup store is routed to; and every bucket of the platform's on S3
(``COMIND_OBJECT_STORE=s3:PREFIX``).

The endpoint is AWS unless one is given (MinIO, moto, another platform's S3 endpoint);
boto3 finds credentials and region the usual way (``AWS_*`` variables, profiles).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from comind.stores.object_model import CHUNK, ObjectInfo, ObjectStoreError, valid_bucket
from comind.stores.object_store import ObjectSource, ObjectStore
from comind.stores.routed_objects import RoutedStore
from comind.stores.s3_objects import S3ObjectStore

S3_URL = re.compile(r"s3://(?P<bucket>[^/]+)(?:/(?P<prefix>.*?))?/?\Z")


@dataclass(frozen=True)
class Prefixed:
    """The objects of ``store`` whose keys start with ``prefix``, named without it."""

    store: ObjectSource
    prefix: str  # "" or ending in "/"

    def names(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, datetime]]:
        for key, modified in self.store.names(bucket, self.prefix + prefix):
            yield key[len(self.prefix) :], modified

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        for info in self.store.list(bucket, self.prefix + prefix):
            yield replace(info, key=info.key[len(self.prefix) :])

    def get_stream(self, bucket: str, key: str, *, chunk: int = CHUNK) -> Iterator[bytes]:
        return self.store.get_stream(bucket, self.prefix + key, chunk=chunk)


def s3_source(url: str, endpoint: str | None = None) -> tuple[ObjectSource, str]:
    """The source and bucket ``s3://BUCKET[/PREFIX]`` names, on ``endpoint`` (None: AWS)."""
    store, bucket, prefix = s3_bucket(url, endpoint)
    return Prefixed(store, prefix), bucket


def s3_buckets(choice: str, endpoint: str | None = None) -> ObjectStore:
    """The store ``s3`` or ``s3:PREFIX`` names: every bucket an S3 bucket on ``endpoint``
    (None: AWS), named ``PREFIX`` + its name (S3's names are global: a prefix keeps two
    platforms, or an environment's, apart)."""
    import boto3

    kind, _, names = choice.partition(":")
    if kind != "s3":
        raise ObjectStoreError(f"{choice}: expected s3 or s3:PREFIX")
    store = S3ObjectStore(boto3.client("s3", endpoint_url=endpoint or None))
    return RoutedStore(store, {}, name_prefix=names) if names else store


def s3_bucket(url: str, endpoint: str | None = None) -> tuple[S3ObjectStore, str, str]:
    """The store, bucket and key prefix ("" or ending in "/") ``s3://BUCKET[/PREFIX]`` names."""
    import boto3  # only where S3 is used: the embedded platform never needs it

    found = S3_URL.match(url)
    if found is None or not valid_bucket(found["bucket"]):
        raise ObjectStoreError(f"{url}: expected s3://BUCKET/PREFIX (a bucket name is 3-63 "
                               "lowercase letters, digits, dots, dashes)")  # fmt: skip
    prefix = f"{found['prefix']}/" if found["prefix"] else ""
    client = boto3.client("s3", endpoint_url=endpoint or None)
    return S3ObjectStore(client), found["bucket"], prefix
