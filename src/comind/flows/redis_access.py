"""The Redis keys a flow touches: what its workers' Redis user is granted.

A flow's workers log in to Redis as the flow's own user (``spec/names.py`` ``flow_role``),
never as the default (admin) user. This module says, from the spec alone, which keys that
user may touch: its enrich steps' cache entries (under ``spec/names.py``
``flow_cache_prefix``, which flows/enrich.py builds its keys on), its cleanse steps' dedupe
window (``flow_dedupe_prefix``) and, per redis sink, the
keys under the literal prefix of its key template (``spec/redis_keys.py``, which makes
that prefix an app's); the sink fills in only what follows that prefix.
"""

from __future__ import annotations

from comind.spec import Spec
from comind.spec.names import flow_cache_prefix, flow_dedupe_prefix
from comind.spec.redis_keys import literal_prefix
from comind.spec.steps import CleanseStep, EnrichStep
from comind.stores.redis_acl import literal


def key_patterns(spec: Spec, flow: str) -> tuple[str, ...]:
    """The ACL key patterns of ``flow``'s Redis user (none for a flow without Redis)."""
    declared = spec.flows[flow]
    patterns = set()
    if any(isinstance(s, EnrichStep) for s in declared.steps):
        patterns.add(literal(flow_cache_prefix(flow)) + "*")
    if any(isinstance(s, CleanseStep) and s.cleanse.dedupe for s in declared.steps):
        patterns.add(literal(flow_dedupe_prefix(flow)) + "*")
    for template in (s.redis for s in declared.every_sink if s.redis is not None):
        prefix, whole = literal_prefix(template)
        patterns.add(literal(prefix) + ("" if whole else "*"))
    return tuple(sorted(patterns))
