"""The platform core: the composition root that builds one running platform from its settings.

The CLI and tests build a :class:`Platform`; everything else (engines, the message layer, the
control plane, backups, the HTTP endpoints) is created by it and reached through it.

``Platform`` is imported on first use: a CLI command that only calls the HTTP API imports
``comind.platform.local`` and must not pay for importing the whole platform on every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from comind.platform.runtime import Platform

__all__ = ["Platform"]


def __getattr__(name: str) -> Any:
    if name == "Platform":
        from comind.platform.runtime import Platform

        return Platform
    raise AttributeError(name)
