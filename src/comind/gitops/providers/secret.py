"""Provider ``secret``: a sealed secret from the repo, opened into the platform's store.

The sealed file is opened at sync time with the platform's sealing keys, for the
environment being synced; the values are kept sealed with the platform key and reach
only the app's environment. A changed sealed file (new digest) is drift and is opened
again; values never appear in status, messages or diffs.
"""

from __future__ import annotations

import json
from pathlib import Path

from comind.gitops.providers.base import MISSING, Observed
from comind.gitops.records import SecretStore
from comind.gitops.resources import Resource
from comind.gitops.sealed import unseal
from comind.gitops.sealing_keys import SealingKeys


def secret_name(app: str, name: str) -> str:
    return f"app/{app}/secret/{name}"


class SecretProvider:
    def __init__(self, secrets: SecretStore, keys: SealingKeys, env: str) -> None:
        self.secrets, self.keys, self.env = secrets, keys, env

    def observe(self, res: Resource) -> Observed:
        stored = self.secrets.get(secret_name(res.app, res.name))
        if stored is None:
            return MISSING
        if json.loads(stored)["sha256"] != res.spec["sealed_sha256"]:
            return Observed(True, ("the sealed file changed since it was opened",))
        return Observed(True)

    def apply(self, res: Resource) -> None:
        values = unseal(Path(res.spec["file"]), self.keys, app=res.app, env=self.env, name=res.name)
        doc = {"sha256": res.spec["sealed_sha256"], "values": values}
        self.secrets.put(secret_name(res.app, res.name), json.dumps(doc))

    def delete(self, res: Resource) -> None:
        self.secrets.delete(secret_name(res.app, res.name))

    @staticmethod
    def values(secrets: SecretStore, res: Resource) -> dict[str, str]:
        """The opened values of ``res`` (empty until it was applied)."""
        stored = secrets.get(secret_name(res.app, res.name))
        return dict(json.loads(stored)["values"]) if stored else {}
