"""The CI/CD operations of the JSON API (deployments and DORA, the artifact registry, CI
results), as data for :mod:`comind.api.openapi`, beside :data:`comind.api.openapi_ops.OPS`."""

from __future__ import annotations

from comind.api import artifacts as art
from comind.api import ci
from comind.api import deployments as dep
from comind.api.openapi_ops import Op, Param, Text

ART_NAME = Param("name", "path", "the artifact's name", required=True)
ART_VERSION = Param("version", "path", "its version", required=True)

CICD_OPS: tuple[Op, ...] = (
    # --- deployments
    Op("GET", "/api/v1/deployments", "listDeployments", "ci",
       "Each sync that applied a revision: commit, CI, outcome, health reached",
       {200: dep.DeploymentLog},
       params=(Param("env", "query", "only this environment"),
               Param("limit", "query", "how many (1 to 500)", "integer", default=50,
                     maximum=500)),
       errors={400: "a bad limit"}),
    Op("GET", "/api/v1/dora", "doraMetrics", "ci",
       "Deployment frequency, lead time, change failure rate, time to restore",
       {200: dep.DoraMetrics},
       params=(Param("env", "query", "the environment (default: the one followed)"),
               Param("days", "query", "the window (1 to 365)", "integer", default=30,
                     maximum=365)),
       errors={400: "a bad days"}),
    # --- the artifact registry
    Op("GET", "/api/v1/artifacts", "listArtifacts", "ci", "Artifact versions, newest first",
       {200: art.ArtifactList},
       params=(Param("name", "query", "only this artifact's versions"),
               Param("limit", "query", "how many (1 to 1000)", "integer", default=100,
                     maximum=1000)),
       errors={400: "a bad limit"},
       description="deployed: built from a revision an environment runs (kept by retention)."),
    Op("GET", "/api/v1/artifacts/{name}/{version}", "getArtifact", "ci",
       "One artifact version's record", {200: art.Artifact},
       params=(ART_NAME, ART_VERSION), errors={404: "no such artifact version"}),
    Op("POST", "/api/v1/artifacts/{name}/{version}", "pushArtifact", "ci",
       "Push an artifact version: its bytes are stored once per content",
       {201: art.ArtifactPushed, 200: art.ArtifactPushed}, role="operator",
       params=(ART_NAME, ART_VERSION,
               Param("commit", "query", "the commit it was built from"),
               Param("build", "query", "the CI build or run id"),
               Param("oci", "query", "an OCI image by digest: REPO@sha256:<hex>")),
       raw_body="the artifact's bytes (at most 1 GiB)",
       errors={400: "a bad name, version or OCI reference", 409: "the version exists with "
               "other content (versions never change)", 413: "over 1 GiB"},
       description="Audited. 201: stored; 200: the bytes were held already (this version "
                   "again, or another version with the same content)."),
    Op("GET", "/api/v1/artifacts/{name}/{version}/blob", "pullArtifact", "ci",
       "An artifact version's bytes",
       {200: Text("the bytes", "application/octet-stream",
                  {"type": "string", "format": "binary"})},
       role="operator", params=(ART_NAME, ART_VERSION),
       errors={404: "no such artifact version"}),
    # --- CI results
    Op("POST", "/api/v1/ci/reports", "reportCi", "ci", "A commit's CI result, from any CI",
       {200: ci.CiReported}, role="operator", body=ci.CiReportBody,
       errors={400: "a body refused (a short SHA, an unknown status, a report not JUnit XML)",
               413: "a body over 16 MiB"},
       description="Audited. A finished result triggers a sync (require_ci decides)."),
    Op("GET", "/api/v1/ci/commits/{sha}", "ciOfCommit", "ci",
       "A commit's CI runs, the verdict of the require_ci gate, failed and flaky tests",
       {200: ci.CiCommit},
       params=(Param("sha", "path", "the full commit SHA", required=True),),
       errors={400: "not a full commit SHA"}),
)  # fmt: skip
