"""Reading YAML while remembering where every key and value came from.

PyYAML's node tree carries a start mark per node; we build the plain data ourselves
from it, which also lets us refuse duplicate keys (PyYAML would silently keep the
last) and turn every parser or constructor failure into a positioned issue instead of
a traceback. Merge keys (``<<: *defaults``) work as in PyYAML: explicit keys win over
merged ones, and merged values are positioned at the anchor they came from.

``Positions`` maps a document path (a tuple of keys and indexes) to the file, line
and column of its key and of its value. An overlay's positions replace the base's
for every subtree the overlay replaced, so an error inside an overlay points into the
overlay file.
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
    """Where each path's key and value are (1-based lines and columns)."""

    root: Path
    keys: dict[DocPath, Pos] = field(default_factory=dict)
    values: dict[DocPath, Pos] = field(default_factory=dict)

    def key(self, path: DocPath) -> Pos:
        """The key of ``path`` (its value for list items; the file start for the root)."""
        if not path:
            return Pos(self.root, 1, 1)
        return self.keys.get(path) or self.value(path)

    def value(self, path: DocPath) -> Pos:
        """The value of ``path``, else of its nearest positioned ancestor."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Pos(self.root, 1, 1)

    def replace(self, path: DocPath, other: Positions) -> None:
        """Forget everything under ``path``, then take ``other``'s positions there."""
        for table, theirs in ((self.keys, other.keys), (self.values, other.values)):
            for stale in [p for p in table if p[: len(path)] == path]:
                del table[stale]
            table.update({p: pos for p, pos in theirs.items() if p[: len(path)] == path})


def dotted(path: DocPath) -> str:
    """``apps.orders.queues`` / ``alerts[0].name`` style path for messages."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class YamlError(Exception):
    """The text is not YAML; ``issue`` says where."""

    def __init__(self, issue: SpecIssue) -> None:
        super().__init__(str(issue))
        self.issue = issue


def load_yaml(file: Path, text: str) -> tuple[Any, Positions, list[SpecIssue]]:
    """Parse ``text`` (of ``file``) into data, positions and construction issues.

    Raises :class:`YamlError` when the text does not parse at all.
    """
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise YamlError(_parse_issue(file, text, exc)) from None
    builder = _Builder(file, loader)
    data = None if node is None else builder.build(node, ())
    return data, builder.positions, builder.issues


def _parse_issue(file: Path, text: str, exc: yaml.YAMLError) -> SpecIssue:
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"invalid YAML: character #x{char:04x} is not allowed"
        return SpecIssue(file, line, col, "", message)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or "invalid YAML"
    return SpecIssue(file, line, col, "", f"invalid YAML: {problem}")


def _pos(node: yaml.Node, file: Path) -> Pos:
    return Pos(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Builds plain data from a node tree, recording positions and issues."""

    def __init__(self, file: Path, loader: yaml.SafeLoader) -> None:
        self.file, self.loader = file, loader
        self.positions = Positions(file)
        self.issues: list[SpecIssue] = []

    def issue(self, node: yaml.Node, path: DocPath, message: str) -> None:
        pos = _pos(node, self.file)
        self.issues.append(SpecIssue(self.file, pos.line, pos.column, dotted(path), message))

    def build(self, node: yaml.Node, path: DocPath) -> Any:
        self.positions.values[path] = _pos(node, self.file)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: DocPath) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self.issue(node, path, _constructor_message(exc))
        except (ValueError, TypeError):
            self.issue(node, path, f"not a valid !!{node.tag.rpartition(':')[2]}: {node.value!r}")
        return None

    def mapping(self, node: yaml.MappingNode, path: DocPath) -> dict[str, Any]:
        explicit = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        try:
            self.loader.flatten_mapping(node)
        except yaml.constructor.ConstructorError as exc:
            self.issue(node, path, _constructor_message(exc))
            return {}
        out: dict[str, Any] = {}
        owners: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(self.scalar(key_node, path))
            child = (*path, key)
            if key in out and id(key_node) in explicit and owners[key] in explicit:
                self.issue(key_node, child, "duplicate key (each key may appear once)")
                continue
            owners[key] = id(key_node)
            self.positions.keys[child] = _pos(key_node, self.file)
            out[key] = self.build(value_node, child)
        return out


def _constructor_message(exc: yaml.constructor.ConstructorError) -> str:
    problem = exc.problem or "cannot be read"
    if problem.startswith("could not determine a constructor for the tag"):
        return f"unsupported YAML tag {problem.rpartition(' ')[2]}"
    return f"invalid YAML: {problem}"
