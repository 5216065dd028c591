"""``comind render --target kubernetes`` (issue 19): the example's spec as a Kustomize tree
and Argo CD Applications. Every rendered manifest validates (core kinds against the
Kubernetes API schemas of kubernetes-validate, custom resources against the projects'
published CRD schemas in tests/data/crds), every overlay builds with ``kubectl kustomize``,
and what the manifests say follows the spec: sync waves in dependency order, network
policies that open only declared peers and engines, secrets sealed for the controller."""

from __future__ import annotations

import base64
import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from comind.apps.kubernetes.naming import WAVE
from comind.cli.main import app as cli
from comind.embedded.home import StateDir
from comind.errors import ComindError
from comind.platform.secrets import seal_into

EXAMPLE = Path(__file__).parents[3] / "examples" / "shop"
CRDS = Path(__file__).parents[2] / "data" / "crds"
K8S_VERSION = "1.30.0"
SECRET_VALUE = "sk_live_never_in_the_clear"


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> tuple[rsa.RSAPrivateKey, Path]:
    """A SealedSecrets controller's key pair; its certificate as kubeseal fetches it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))  # fmt: skip
    path = tmp_path_factory.mktemp("controller") / "cert.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory,
             controller: tuple[rsa.RSAPrivateKey, Path]) -> Path:  # fmt: skip
    """The example (payments given a sealed secret) rendered for every environment."""
    root = tmp_path_factory.mktemp("render")
    repo = root / "repo"
    shutil.copytree(EXAMPLE, repo)
    spec = repo / "comind.yaml"
    spec.write_text(spec.read_text().replace(
        "    publishes: [payment-settled]",
        "    secrets: [stripe]\n    publishes: [payment-settled]", 1))  # fmt: skip
    home = StateDir(root / "home")
    for env in ("dev", "stage", "prod"):
        seal_into(home, repo, app="payments", env=env, name="stripe",
                  values={"STRIPE_KEY": SECRET_VALUE})  # fmt: skip
    out = root / "out"
    for env in ("dev", "stage", "prod"):
        result = CliRunner().invoke(cli, [
            "--home", str(home.root), "render", "--target", "kubernetes", "--env", env,
            "--out", str(out), "--repo", str(repo), "--sealing-cert", str(controller[1]),
            "--tag", f"v1-{env}", "--json"])  # fmt: skip
        assert result.exit_code == 0, result.output
    return out


def _documents(out: Path) -> list[dict[str, Any]]:
    return [d for f in sorted(out.rglob("*.yaml")) if f.name != "kustomization.yaml"
            for d in yaml.safe_load_all(f.read_text()) if d and "$patch" not in d]  # fmt: skip


def _built(out: Path, env: str) -> list[dict[str, Any]]:
    built = subprocess.run(["kubectl", "kustomize", str(out / "overlays" / env)],
                           capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
    assert built.returncode == 0, built.stderr
    return [d for d in yaml.safe_load_all(built.stdout) if d]


def _crd_schema(kind: str) -> dict[str, Any]:
    return dict(json.loads((CRDS / f"{kind.lower()}.json").read_text()))


def test_every_core_manifest_validates_against_the_kubernetes_schemas(rendered: Path) -> None:
    core = [d for d in _documents(rendered) if "." not in d["apiVersion"].split("/")[0]
            or d["apiVersion"].startswith(("apps/", "batch/", "networking.k8s.io/"))]  # fmt: skip
    assert {d["kind"] for d in core} >= {"Deployment", "Service", "CronJob", "Namespace",
                                         "ResourceQuota", "NetworkPolicy"}  # fmt: skip
    for doc in core:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    deployment = next(d for d in core if d["kind"] == "Deployment")
    with pytest.raises(kubernetes_validate.ValidationError):  # the check can fail
        typo = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
        kubernetes_validate.validate(typo, K8S_VERSION, strict=True)


@pytest.mark.parametrize("kind", ["SealedSecret", "ServiceMonitor", "PrometheusRule",
                                  "Application"])  # fmt: skip
def test_every_custom_resource_validates_against_its_published_crd(
    rendered: Path, kind: str
) -> None:
    # the schema is not checked against the meta-schema: prometheus-operator's has a Go regex
    # (``^(?i)…``) Python's re refuses, in a field the renderer never writes (SOURCES.md)
    schema = _crd_schema(kind)
    validator = jsonschema.validators.validator_for(schema)(schema)
    found = [d for d in _documents(rendered) if d["kind"] == kind]
    assert found, f"no {kind} rendered"
    for doc in found:
        validator.validate(doc)
    broken = {**found[0], "spec": "not a mapping"}
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail
        validator.validate(broken)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("env", ["dev", "stage", "prod"])
def test_each_overlay_builds_with_its_namespaces_and_tag(rendered: Path, env: str) -> None:
    built = _built(rendered, env)
    deployments = {d["metadata"]["name"]: d for d in built if d["kind"] == "Deployment"}
    orders = deployments["orders"]
    assert orders["metadata"]["namespace"] == f"shop-{env}-backend"
    [container] = orders["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"registry.local/comind/orders:v1-{env}"
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8101}
    worker = deployments["flow-ingest-orders"]
    assert worker["metadata"]["namespace"] == f"shop-{env}-platform"
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["--env", env]
    jobs = {d["metadata"]["name"]: d for d in built if d["kind"] == "CronJob"}
    assert jobs["backup-orders"]["spec"]["schedule"] == "0 */6 * * *"
    assert all(j["spec"]["concurrencyPolicy"] == "Forbid" for j in jobs.values())


def test_sync_waves_follow_the_dependency_order(rendered: Path) -> None:
    waves = {d["metadata"]["name"]: int(d["metadata"]["annotations"][WAVE])
             for d in _documents(rendered) if d["kind"] in ("Deployment", "Namespace",
                                                             "SealedSecret")}  # fmt: skip
    assert waves["shop-dev-backend"] < waves["payments-stripe"] < waves["orders"]
    assert waves["orders"] < waves["payments"] and waves["orders"] < waves["analytics"]
    assert waves["payments"] < waves["flow-ingest-orders"]


def test_an_apps_network_policy_opens_only_its_peers_and_engines(rendered: Path) -> None:
    policies = {d["metadata"]["name"]: d["spec"] for d in _built(rendered, "dev")
                if d["kind"] == "NetworkPolicy"}  # fmt: skip
    orders = policies["orders-only-declared"]
    callers = {s["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
               for s in orders["ingress"][0]["from"] if "podSelector" in s}  # fmt: skip
    assert callers == {"payments", "analytics"}  # they depend on orders; nobody else
    assert orders["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8101}]
    payments = policies["payments-only-declared"]
    ports = sorted(p["port"] for rule in payments["egress"] for p in rule["ports"])
    assert ports == [53, 53, 443, 5432, 6379, 8101]  # DNS, SQS, its database, cache, orders
    assert payments["ingress"] == [] or all(
        "payments" not in str(rule) for rule in payments["ingress"])  # fmt: skip
    assert set(policies) == {"orders-only-declared", "payments-only-declared",
                             "analytics-only-declared"}  # fmt: skip


def test_secrets_are_sealed_for_the_controller_and_never_in_the_clear(
    rendered: Path, controller: tuple[rsa.RSAPrivateKey, Path]
) -> None:
    text = "".join(f.read_text() for f in rendered.rglob("*.yaml"))
    assert SECRET_VALUE not in text
    assert base64.b64encode(SECRET_VALUE.encode()).decode() not in text
    [sealed] = [d for d in _documents(rendered) if d["kind"] == "SealedSecret"
                and d["metadata"]["namespace"] == "shop-prod-payments"]  # fmt: skip
    blob = base64.b64decode(sealed["spec"]["encryptedData"]["STRIPE_KEY"])
    size = int.from_bytes(blob[:2], "big")  # bitnami's hybrid format, opened as it does
    label = b"shop-prod-payments/payments-stripe"
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                        label=label)  # fmt: skip
    session = controller[0].decrypt(blob[2 : 2 + size], oaep)
    assert AESGCM(session).decrypt(bytes(12), blob[2 + size :], None) == SECRET_VALUE.encode()
    other = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                         label=b"shop-dev-payments/payments-stripe")  # fmt: skip
    with pytest.raises(ValueError):  # sealed for that namespace and name only
        controller[0].decrypt(blob[2 : 2 + size], other)


def test_the_applications_sync_as_each_environment_says(rendered: Path) -> None:
    apps = {d["metadata"]["name"]: d for d in _documents(rendered) if d["kind"] == "Application"}
    assert apps["shop-dev"]["spec"]["syncPolicy"]["automated"] == {"prune": True,
                                                                   "selfHeal": True}  # fmt: skip
    assert "automated" not in apps["shop-prod"]["spec"]["syncPolicy"]  # prod: auto: false
    assert apps["shop-prod"]["spec"]["source"]["path"] == "deploy/kubernetes/overlays/prod"
    order = [int(apps[f"shop-{e}"]["metadata"]["annotations"][WAVE]) for e in
             ("dev", "stage", "prod")]  # fmt: skip
    assert order == sorted(order) and len(set(order)) == 3


def _generated(appset: dict[str, Any], element: dict[str, str]) -> dict[str, Any]:
    """The Application Argo CD makes of ``element``: ``{{.key}}`` substituted in the template
    (inside strings, as Argo CD does), then the template patch, when its condition holds,
    merged in."""
    text = json.dumps(appset["spec"]["template"])
    for key, value in element.items():
        text = text.replace("{{." + key + "}}", value)
    made: dict[str, Any] = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                            **json.loads(text)}  # fmt: skip
    first, *body, last = appset["spec"]["templatePatch"].strip().splitlines()
    assert (first, last) == ('{{- if eq .auto "true" }}', "{{- end }}")
    if element["auto"] == "true":
        patch = "\n".join(body)
        for key, value in element.items():
            patch = patch.replace("{{ ." + key + " }}", value)
        automated = yaml.safe_load(patch)["spec"]["syncPolicy"]["automated"]
        made["spec"]["syncPolicy"]["automated"] = automated
    return made


def test_the_applicationset_makes_exactly_each_environments_application(rendered: Path) -> None:
    (appset,) = [d for d in _documents(rendered) if d["kind"] == "ApplicationSet"]
    elements = appset["spec"]["generators"][0]["list"]["elements"]
    assert [e["env"] for e in elements] == ["dev", "stage", "prod"]  # the spec's order
    apps = {d["metadata"]["name"]: d for d in _documents(rendered) if d["kind"] == "Application"}
    for element in elements:
        assert _generated(appset, element) == apps[f"shop-{element['env']}"]
    # what Argo CD fills in is an Application's spec, as its published CRD says
    schema = {**_crd_schema("Application"), "required": ["spec"]}
    validator = jsonschema.validators.validator_for(schema)(schema)
    validator.validate({"spec": appset["spec"]["template"]["spec"]})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"spec": {**appset["spec"]["template"]["spec"], "source": "x"}})


def test_a_directory_holding_other_files_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    args = ["render", "--env", "dev", "--out", str(tmp_path), "--repo", str(EXAMPLE)]
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), *args])
    assert isinstance(result.exception, ComindError) and result.exception.exit_code == 2
    assert "did not write" in str(result.exception)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_declared_secrets_without_a_certificate_or_an_unknown_env_are_usage_errors(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    args = ["--home", str(tmp_path / "home"), "render", "--out", str(tmp_path / "o"),
            "--repo", str(repo)]  # fmt: skip
    unknown = subprocess.run([sys.executable, "-m", "comind.cli.main", *args, "--env", "qa"],
                             capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert unknown.returncode == 2  # one line naming the file and the line
    assert "comind.yaml:6:1: environments: environment 'qa' is not declared" in unknown.stderr
    spec = repo / "comind.yaml"
    spec.write_text(spec.read_text().replace("    publishes: [payment-settled]",
                                             "    secrets: [stripe]\n    publishes: "
                                             "[payment-settled]", 1))  # fmt: skip
    seal_into(StateDir(tmp_path / "home"), repo, app="payments", env="dev", name="stripe",
              values={"STRIPE_KEY": SECRET_VALUE})  # fmt: skip
    missing = CliRunner().invoke(cli, [*args, "--env", "dev"])
    assert isinstance(missing.exception, ComindError) and missing.exception.exit_code == 2
    assert "--sealing-cert" in str(missing.exception)
    assert not (tmp_path / "o").exists()  # nothing half-written
