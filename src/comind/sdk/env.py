"""An app's services as the platform gives them: the environment of its process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

DEFAULT_TTL = 300.0  # seconds: the spec's default cache.ttl


@dataclass(frozen=True)
class AppEnv:
    database_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    key_prefix: str = ""  # every key of the app starts with it (its Redis user may not leave it)
    cache_ttl: float = DEFAULT_TTL
    sqs_endpoint: str | None = None
    sqs_queue_prefix: str = ""  # the apps' queues on an SQS service: PREFIXapp_ + queue
    sqs_key: tuple[str, str] | None = field(default=None, repr=False)  # that service's key
    sqs_region: str | None = None
    s3_endpoint: str | None = None
    bucket: str | None = None

    @classmethod
    def from_environ(cls, env: Mapping[str, str] = os.environ) -> AppEnv:
        return cls(
            database_url=env.get("DATABASE_URL"),
            redis_url=env.get("REDIS_URL"),
            key_prefix=env.get("REDIS_KEY_PREFIX", ""),
            cache_ttl=float(env.get("COMIND_CACHE_TTL", DEFAULT_TTL)),
            sqs_endpoint=env.get("AWS_ENDPOINT_URL_SQS"),
            sqs_queue_prefix=env.get("COMIND_SQS_QUEUE_PREFIX", ""),
            sqs_key=_pair(env, "COMIND_SQS_ACCESS_KEY_ID", "COMIND_SQS_SECRET_ACCESS_KEY"),
            sqs_region=env.get("COMIND_SQS_REGION"),
            s3_endpoint=env.get("AWS_ENDPOINT_URL_S3"),
            bucket=env.get("OBJECTS_BUCKET"),
        )

    def redis(self) -> redis.Redis:
        """A client of the app's Redis user (TLS and its CA as the URL says)."""
        if not self.redis_url:
            raise RuntimeError("this app has no cache: declare `cache:` in its spec")
        return redis.Redis.from_url(self.redis_url)

    def client(self, service: str) -> Any:
        """A boto3 client of the platform's ``sqs`` or ``s3`` endpoint (boto3 reads the
        endpoint, key and region from the environment the platform set); with the apps'
        queues on an SQS service, its key and region for ``sqs``."""
        import boto3

        if service != "sqs" or (self.sqs_key is None and self.sqs_region is None):
            return boto3.client(service)
        key, secret = self.sqs_key or (None, None)
        return boto3.client("sqs", endpoint_url=self.sqs_endpoint, region_name=self.sqs_region,
                            aws_access_key_id=key, aws_secret_access_key=secret)  # fmt: skip

    def queue_name(self, queue: str) -> str:
        """The name ``queue`` (the app's own, ``new-orders``) has on the queue service."""
        return self.sqs_queue_prefix + queue


def _pair(env: Mapping[str, str], key: str, secret: str) -> tuple[str, str] | None:
    return (env[key], env[secret]) if key in env and secret in env else None
