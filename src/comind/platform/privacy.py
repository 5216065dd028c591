"""The platform's side of privacy: the keys flows protect PII with, the token vault, and
the report of what the spec declares and where it is applied.

The keyring (governance/keyring.py) stays in this process: a worker gets only the PII
hashing key and the data keys of the datasets it encrypts for (:meth:`Privacy.keys`), in
its environment; the vault's private key is derived from the keyring's ``pii/vault`` key
here and opens tokens only for a caller the API allowed (every call audited by the guard).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from comind.api.errors import Problem
from comind.api.privacy import MAX_SAMPLE, FieldFound, PiiField, PrivacyScan
from comind.embedded.home import StateDir
from comind.errors import ComindError
from comind.flows.access import dataset_table
from comind.flows.pgsource import table_ident
from comind.flows.privacy import KEYED, keys_env
from comind.governance.keyring import Keyring
from comind.governance.pii_scan import scan, suggestion
from comind.governance.privacy import DataKeyRef, PiiKeys
from comind.governance.sealbox import SealBox
from comind.governance.tokens import TokenVault
from comind.spec import Spec
from comind.spec.pii import PiiHandling
from comind.spec.privacy import flow_datasets, flow_pii
from comind.spec.steps import AnonymizeStep
from comind.stores.postgres import DatabaseError, PgTarget, Pool, connect, dict_rows
from comind.stores.postgres import compose as sql


class Privacy:
    def __init__(self, keyring: Keyring, vault: TokenVault) -> None:
        self.keyring, self.vault = keyring, vault

    @classmethod
    def open(cls, home: StateDir, pool: Pool, platform_key: bytes) -> Privacy:
        """The vault's key is the keyring's (under the KEK and its passphrase); values
        sealed before it was, to a key derived from the platform key, still open."""
        ring = Keyring(home.secrets)
        earlier = [SealBox(platform_key, "token-vault")]
        return cls(ring, TokenVault(pool, SealBox(ring.vault_key(), "token-vault"), earlier))

    def keys(self, spec: Spec, flow: str) -> PiiKeys:
        """The PII hashing key and the data keys ``flow`` encrypts with."""
        data = {}
        for scope in encrypt_scopes(spec, flow):
            key = self.keyring.data_key(scope)
            data[scope] = DataKeyRef(key.id, key.key)
        return PiiKeys(self.keyring.hmac_key(), data)

    def worker_env(self, spec: Spec, flow: str) -> dict[str, str]:
        """The keys of :meth:`keys` for a worker of ``flow``; none for a flow that neither
        hashes, tokenizes nor encrypts (a key it holds could reverse hashes by dictionary)."""
        keyed = any(h.operator in KEYED for h in handlings(spec, flow))
        return keys_env(self.keys(spec, flow)) if keyed else {}

    def detokenize(self, tokens: Sequence[str], scope: str) -> dict[str, str | None]:
        return self.vault.detokenize(tokens, scope)


def handlings(spec: Spec, flow: str) -> list[PiiHandling]:
    """Every PII handling ``flow`` applies: its datasets' and its anonymize steps'."""
    found = [d.handling for d in flow_pii(spec, flow).values()]
    for step in spec.flows[flow].steps:
        if isinstance(step, AnonymizeStep):
            found += step.anonymize.values()
    return found


def encrypt_scopes(spec: Spec, flow: str) -> list[str]:
    scopes = [f"dataset/{d.dataset}" for d in flow_pii(spec, flow).values()
              if d.handling.operator == "encrypt"]  # fmt: skip
    for step in spec.flows[flow].steps:
        if isinstance(step, AnonymizeStep) and any(
            h.operator == "encrypt" for h in step.anonymize.values()
        ):
            scopes.append(f"flow/{flow}")
    return sorted(set(scopes))


def report(spec: Spec) -> list[PiiField]:
    """Per dataset and field: the declared handling and the flows applying it, and the
    anonymize steps with theirs."""
    rows: list[PiiField] = []
    for name, dataset in sorted(spec.datasets.items()):
        applied = [f for f in sorted(spec.flows) if name in flow_datasets(spec, f)]
        for field, h in sorted(dataset.pii.items()):
            where = [f"flow {f} (before every sink)" for f in applied]
            rows.append(_row(name, field, h, where))
    for flow_name, flow in sorted(spec.flows.items()):
        for i, step in enumerate(flow.steps):
            if isinstance(step, AnonymizeStep):
                for field, h in sorted(step.anonymize.items()):
                    where = [f"flow {flow_name} step {i + 1} (anonymize)"]
                    rows.append(_row(None, field, h, where))
    return rows


def _row(dataset: str | None, field: str, h: PiiHandling, where: list[str]) -> PiiField:
    return PiiField(dataset=dataset, field=field, operator=h.operator, options=_options(h),
                    reason=h.reason, applied_by=where)  # fmt: skip


def _options(h: PiiHandling) -> dict[str, Any]:
    match h.operator:
        case "mask":
            return {"keep": h.keep}
        case "replace":
            return {"value": h.value}
        case "generalize":
            return {k: v for k, v in (("to", h.generalize), ("width", h.width),
                                      ("digits", h.digits)) if v is not None}  # fmt: skip
    return {}


def sample_rows(target: PgTarget, table: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of ``table`` (schema-qualified), read-only, time-bounded."""
    with connect(target) as conn, conn.cursor(row_factory=dict_rows) as cur:
        cur.execute("SET TRANSACTION READ ONLY")
        cur.execute("SET LOCAL statement_timeout = '30s'")
        return cur.execute(
            sql.SQL("SELECT * FROM {} LIMIT %s").format(table_ident(table)), (limit,)
        ).fetchall()


def scan_dataset(spec: Spec, dataset: str, sample: int,
                 target: Callable[[str, str], PgTarget]) -> PrivacyScan:  # fmt: skip
    """The fields of ``dataset``'s stored rows with PII its ``pii:`` does not declare, and
    the ``pii:`` block to declare them; names fields and detectors, never a value."""
    if dataset not in spec.datasets:
        raise Problem(f"no dataset {dataset[:100]!r} in the applied spec", 404)
    use = dataset_table(spec, dataset)
    try:
        rows = sample_rows(target(use.database, use.table), use.table, min(sample, MAX_SAMPLE))
    except DatabaseError as exc:  # no table yet (no flow wrote it), a timeout...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ComindError(f"cannot read {dataset}: {reason}") from None
    found = scan(rows, spec.datasets[dataset].pii)
    fields = [FieldFound.model_validate(f.as_dict()) for f in found]
    return PrivacyScan(dataset=dataset, sampled=len(rows), fields=fields,
                       suggested_pii=suggestion(found))  # fmt: skip
