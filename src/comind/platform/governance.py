"""The platform's periodic governance work: quarantine retention, the scheduled quality
checks of the datasets stream and event flows write and the retention of all quality
results, the audit chain's anchors in the backup store, the background re-encryption of
encrypted buckets and the retention of versioned buckets' replaced versions and of artifacts
(each runs as a housekeeping task)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from comind.governance.audit_chain import AuditChain
from comind.governance.quality_store import QualityResults
from comind.platform.housekeeping import Periodic
from comind.platform.keys import KeyService
from comind.platform.quality import platform_quality
from comind.platform.routes import artifact_registry, quarantine_service
from comind.platform.versions import BucketVersions
from comind.queue.layer import MessageLayer

if TYPE_CHECKING:
    from comind.platform import Platform


def governance_tasks(rt: Platform, messages: MessageLayer, every: float) -> list[Periodic]:
    """Quarantine retention every ``every`` seconds; quality checks as the settings say."""
    quality = platform_quality(rt, messages.pool)
    return [
        Periodic("quarantine", every, quarantine_service(rt, messages).expire),
        Periodic("quality", rt.settings.quality_interval, quality.sweep),
        Periodic("quality history", every, QualityResults(messages.pool).prune),
        Periodic(
            "audit-anchor",
            rt.settings.audit_anchor_interval,
            AuditChain(messages.pool, rt.wal.store).anchor,
        ),
        Periodic("re-encryption", 1.0, KeyService(rt.engines.home).reencryption.step),
        Periodic("bucket versions", every, BucketVersions(rt.objects).sweep),
        Periodic("artifact retention", every, artifact_registry(rt, messages.pool).prune),
    ]
