"""Reading YAML while remembering where every key and value came from.

PyYAML's node tree carries a start mark per node; we build the plain data ourselves
from it, which also lets us refuse duplicate keys (PyYAML would silently keep the
last). ``Positions`` maps a document path (a tuple of keys and indexes) to the file,
line and column of its key and of its value; overlays merge their positions over the
base, so an error inside an overlay points into the overlay file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from comind.spec.issues import SpecIssue

DocPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Pos:
    file: Path
    line: int
    column: int


@dataclass
class Positions:
    """Where each path's key and value are."""

    root: Path
    keys: dict[DocPath, Pos] = field(default_factory=dict)
    values: dict[DocPath, Pos] = field(default_factory=dict)

    def key(self, path: DocPath) -> Pos:
        return self.keys.get(path) or self.value(path) if path else Pos(self.root, 1, 1)

    def value(self, path: DocPath) -> Pos:
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        raise KeyError(path)

    def update(self, other: Positions) -> None:
        self.keys.update(other.keys)
        self.values.update(other.values)


def dotted(path: DocPath) -> str:
    """``apps.orders.queues[0]`` style path for messages."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_yaml(file: Path, text: str) -> tuple[Any, Positions, list[SpecIssue]]:
    """Parse ``text`` (of ``file``) into data, positions and duplicate-key issues."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(SpecIssue(file, line, col, "", f"invalid YAML: {problem}")) from None
    finally:
        loader.dispose()
    positions = Positions(file)
    issues: list[SpecIssue] = []
    if node is None:
        return None, positions, issues
    data = _build(node, (), file, positions, issues, loader)
    return data, positions, issues


class YamlError(Exception):
    """The text is not YAML; ``issue`` says where."""

    def __init__(self, issue: SpecIssue) -> None:
        super().__init__(str(issue))
        self.issue = issue


def _pos(node: yaml.Node, file: Path) -> Pos:
    return Pos(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _build(
    node: yaml.Node,
    path: DocPath,
    file: Path,
    positions: Positions,
    issues: list[SpecIssue],
    loader: yaml.SafeLoader,
) -> Any:
    positions.values[path] = _pos(node, file)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = str(loader.construct_object(key_node, deep=True))
            child = (*path, key)
            if key in out:
                pos = _pos(key_node, file)
                issues.append(
                    SpecIssue(
                        file,
                        pos.line,
                        pos.column,
                        dotted(child),
                        "duplicate key (each key may appear once)",
                    )
                )
                continue
            positions.keys[child] = _pos(key_node, file)
            out[key] = _build(value_node, child, file, positions, issues, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), file, positions, issues, loader)
            for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
