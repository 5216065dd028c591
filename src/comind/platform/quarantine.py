"""The quarantine service of a running platform: flows' quarantined records read (masked,
or raw for an operator), discarded, replayed, and expired after their flow's retention.

The platform process alone opens sealed raw values: it holds the quarantine private key
(derived from the platform key); workers seal to the public half it publishes at start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from comind.api.errors import Problem
from comind.api.flows import Applied
from comind.flows.metrics import QUARANTINE_DISCARDED, QUARANTINE_EXPIRED, QUARANTINE_HELD
from comind.flows.quarantine import Protection, Selection, pii_actions, revealed, view
from comind.flows.replay import Quarantined
from comind.flows.state import FlowState
from comind.governance.sealbox import SealBox
from comind.platform.flows import FlowService
from comind.spec.model import QuarantinePolicy

DEFAULT_RETENTION = QuarantinePolicy().retention.total_seconds()
MAX_REPLAY = 10_000  # records a replay request takes (oldest first); ask again for more


class QuarantineService:
    def __init__(
        self,
        applied: Callable[[], Applied | None],
        state: FlowState,
        box: SealBox,
        flows: FlowService,
    ) -> None:
        self.applied, self.state, self.box, self.flows = applied, state, box, flows

    def publish(self) -> None:
        """The public key the workers seal quarantined PII to."""
        self.state.publish_key(self.box.public)

    def _known(self, name: str) -> None:
        applied = self.applied()
        if applied is None or name not in applied.spec.flows:
            raise Problem(f"no flow '{name}'", 404)

    def records(self, name: str, limit: int, *, raw: bool) -> list[dict[str, Any]]:
        """The newest ``limit`` records: PII masked, or raw when ``raw``."""
        self._known(name)
        applied = self.applied()
        legacy = Protection(pii_actions(applied.spec, name) if applied else {}, None)
        return [self._shown(name, row, raw, legacy) for row in self.state.quarantined(name, limit)]

    def _shown(
        self, name: str, row: Mapping[str, Any], raw: bool, legacy: Protection
    ) -> dict[str, Any]:
        if raw and (row.get("sealed") is not None or not row.get("masked")):
            return view(row, revealed(self.box, name, row), raw=True)
        if row.get("masked"):
            return view(row, dict(row["record"]), raw=False)
        # stored before migration 0016 (raw, nothing sealed): masked as the flow now declares
        hidden = legacy.protect(name, int(row["id"]), row["step"], dict(row["record"]))
        return view({**row, "masked": hidden.masked}, hidden.record, raw=False)

    def discard(self, name: str, which: Selection) -> list[int]:
        """Delete the selected records; their ids."""
        self._known(name)
        gone = self.state.discard(name, ids=which.ids, every=which.every,
                                  older_than=which.older_than)  # fmt: skip
        QUARANTINE_DISCARDED.labels(name).inc(len(gone))
        return gone

    def replay(self, name: str, which: Selection, edits: Mapping[str, Any]) -> dict[str, Any]:
        """The selected records, raw and with ``edits`` applied, back through the flow."""
        self._known(name)
        ids = None if which.every else which.ids
        with self.state.claimed(name, ids, MAX_REPLAY) as rows:  # a concurrent replay skips them
            taken = [Quarantined(id=int(r["id"]), record={**revealed(self.box, name, r), **edits})
                     for r in rows]  # fmt: skip
            # the flow's steps are app code: its own process replays them (platform/flows.py)
            done = self.flows.replay_quarantined(name, taken)
        return {**done, "ids": [q.id for q in taken]}

    def expire(self) -> dict[str, int]:
        """Delete records older than their flow's retention (a flow no longer declared:
        the default); count what each flow still holds."""
        applied = self.applied()
        flows = applied.spec.flows if applied else {}
        held = self.state.quarantine_held()
        expired: dict[str, int] = {}
        for flow in sorted(set(held) | set(flows)):
            keep = (flows[flow].quarantine.retention.total_seconds() if flow in flows
                    else DEFAULT_RETENTION)  # fmt: skip
            if held.get(flow):
                expired[flow] = self.state.expire(flow, keep)
                QUARANTINE_EXPIRED.labels(flow).inc(expired[flow])
        after = self.state.quarantine_held()
        for flow in set(held) | set(after):
            QUARANTINE_HELD.labels(flow).set(after.get(flow, 0))
        return expired
