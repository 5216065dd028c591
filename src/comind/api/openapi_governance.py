"""The governance operations of the JSON API (privacy, the audit chain, the keyring, bucket
versions), as data for :mod:`comind.api.openapi`, beside :data:`comind.api.openapi_ops.OPS`."""

from __future__ import annotations

from comind.api import audit as au
from comind.api import buckets as bk
from comind.api import keys as k
from comind.api import privacy as pv
from comind.api.openapi_ops import Op, Param

GOVERNANCE_OPS: tuple[Op, ...] = (
    # --- privacy
    Op("GET", "/api/v1/privacy/report", "privacyReport", "privacy",
       "Per dataset and field: the declared PII handling and where it is applied",
       {200: pv.PrivacyReport}),
    Op("GET", "/api/v1/privacy/scan/{dataset}", "privacyScan", "privacy",
       "A dataset's stored rows scanned for PII its pii: does not declare",
       {200: pv.PrivacyScan}, role="operator",
       params=(Param("dataset", "path", "APP.TABLE", required=True),
               Param("sample", "query", "rows to read (1 to 100000)", "integer", default=1000,
                     maximum=100_000)),
       errors={400: "a bad sample", 404: "no such dataset in the applied spec",
               409: "no revision applied, or the dataset's table cannot be read (not made yet)"},
       description="Operator of the dataset's app. Fields, detectors and scores; never a value."),
    Op("POST", "/api/v1/privacy/detokenize", "detokenize", "privacy",
       "Tokens back to their values", {200: pv.DetokenizeAnswer}, role="operator",
       body=pv.DetokenizeBody,
       errors={400: "a body refused"},
       description="Operator of the dataset's app. Every call is audited, allowed or refused, "
                   "with the dataset, field and number of tokens; never a value."),
    # --- keys
    Op("GET", "/api/v1/keys", "keysStatus", "keys", "KEK versions and data keys per scope",
       {200: k.KeysStatus}, role="admin", description="Key ids and versions only, never a key."),
    Op("POST", "/api/v1/keys/rotate", "rotateKeys", "keys",
       "A new KEK version; every data key re-wrapped (no data re-encrypted)",
       {200: k.KeysRotated}, role="admin", body=k.RotateBody, errors={409: "rotation failed"},
       description="Audited. reencrypt: new data keys for encrypted buckets and backups."),
    Op("POST", "/api/v1/keys/retire", "retireKek", "keys", "Delete an old KEK version",
       {200: k.KeysRetired}, role="admin", body=k.RetireBody,
       errors={409: "the version is current, unknown, or still wraps data keys"},
       description="Audited."),
    # --- versioned buckets
    Op("GET", "/api/v1/buckets/{bucket}/versions", "listObjectVersions", "buckets",
       "A versioned bucket's versions and delete markers: by key, newest first",
       {200: bk.VersionList}, role="operator",
       params=(Param("bucket", "path", "a bucket of the applied spec", required=True),
               Param("prefix", "query", "only keys starting with it"),
               Param("limit", "query", "how many (1 to 10000)", "integer", default=1000,
                     maximum=bk.MAX_VERSIONS)),
       errors={400: "a bad limit", 404: "no such bucket in the applied spec",
               409: "the bucket is not versioned"},
       description="Operator of the bucket's app."),
    Op("POST", "/api/v1/buckets/{bucket}/restore", "restoreObjectVersion", "buckets",
       "A copy of one version becomes the key's current version", {200: bk.ObjectVersion},
       role="operator", body=bk.RestoreBody,
       params=(Param("bucket", "path", "a bucket of the applied spec", required=True),),
       errors={400: "a body refused", 404: "no such bucket, key or version",
               409: "the bucket is not versioned, or the version is a delete marker"},
       description="Operator of the bucket's app. Audited. The versions in between stay."),
    # --- the audit chain
    Op("GET", "/api/v1/audit/verify", "verifyAudit", "access",
       "The audit log's hash chain recomputed and checked against its anchors",
       {200: au.AuditVerdict}, role="admin",
       description="Names the first broken entry: edited, deleted, inserted or rewritten."),
    Op("GET", "/api/v1/audit/export", "exportAudit", "access",
       "Audit entries oldest first with their seq and hashes, a page at a time",
       {200: au.AuditExport}, role="admin",
       params=(Param("after", "query", "entries after this seq (none: from the first)", "integer"),
               Param("since", "query", "entries at or after this ISO 8601 time"),
               Param("limit", "query", "how many (1 to 5000)", "integer", default=1000,
                     maximum=5000)),
       errors={400: "a bad since, after or limit"}),
)  # fmt: skip
