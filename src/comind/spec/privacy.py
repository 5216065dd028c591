"""The PII handling a flow applies: the ``pii:`` of every dataset it reads or writes.

A flow applies it to every record right before any sink (a table, files, a queue, a topic,
Redis), so a declared field never leaves the flow raw, whichever way it goes. A field that
two of its datasets declare differently has no one handling: validation refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

from comind.spec.model import Spec
from comind.spec.pii import PiiHandling


@dataclass(frozen=True)
class Declared:
    dataset: str
    handling: PiiHandling


def flow_datasets(spec: Spec, flow: str) -> list[str]:
    """The datasets ``flow`` writes (its postgres sinks) and reads (a postgres:// source)."""
    declared = spec.flows[flow]
    names = list(declared.written_datasets)
    if declared.source_ref.scheme == "postgres":
        store = f"postgres://{declared.source_ref.target}"
        names += [n for n, d in spec.datasets.items() if d.store.partition("?")[0] == store]
    return [n for n in dict.fromkeys(names) if n in spec.datasets]


def flow_pii(spec: Spec, flow: str) -> dict[str, Declared]:
    """Field → its handling and the dataset declaring it (the first, where several agree)."""
    found: dict[str, Declared] = {}
    for name in flow_datasets(spec, flow):
        for field, handling in spec.datasets[name].pii.items():
            found.setdefault(field, Declared(name, handling))
    return found


def conflicts(spec: Spec, flow: str) -> list[str]:
    """Fields two of the flow's datasets declare with different handling."""
    seen: dict[str, Declared] = {}
    found = []
    for name in flow_datasets(spec, flow):
        for field, handling in spec.datasets[name].pii.items():
            first = seen.setdefault(field, Declared(name, handling))
            if first.handling != handling:
                found.append(f"{field}: {first.dataset} says {first.handling.operator}, "
                             f"{name} says {handling.operator}")  # fmt: skip
    return found
