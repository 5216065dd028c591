"""The platform core: the composition root that builds one running platform from its settings.

The CLI and tests build a :class:`Platform`; everything else (engines, the message layer, the
control plane, backups, the HTTP endpoints) is created by it and reached through it.
"""

from comind.platform.runtime import Platform

__all__ = ["Platform"]
