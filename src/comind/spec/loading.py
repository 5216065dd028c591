"""Loading comind.yaml: read, parse with positions, apply an environment overlay, validate.

Nothing is partially accepted: either a fully valid :class:`Spec` comes back or a
:class:`SpecError` lists every problem found (YAML, shape, cross-references).
Overlays (``environments/<env>.yaml``) deep-merge over the base: mappings merge key
by key, lists and scalars replace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from comind.spec.issues import SpecError, SpecIssue
from comind.spec.model import Spec
from comind.spec.positions import Positions, YamlError, load_yaml
from comind.spec.references import check
from comind.spec.translate import issues_from

SPEC_FILE = "comind.yaml"


def load_spec(path: Path, env: str | None = None) -> Spec:
    """The valid spec of the repo at ``path`` (a directory or its comind.yaml)."""
    file = path / SPEC_FILE if path.is_dir() or not path.suffix else path
    data, positions = _read(file)
    if env is not None:
        data, positions = _overlay(file, data, positions, env)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(issues_from(exc.errors(), Spec, positions)) from None
    issues = check(spec, positions, file.parent)
    if issues:
        raise SpecError(issues)
    return spec


def _read(file: Path) -> tuple[dict[str, Any], Positions]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            [
                SpecIssue(
                    file, 1, 1, "", "file not found (a platform repo has comind.yaml at its root)"
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecIssue(file, 1, 1, "", f"cannot read: {exc}")]) from None
    try:
        data, positions, issues = load_yaml(file, text)
    except YamlError as exc:
        raise SpecError([exc.issue]) from None
    if issues:
        raise SpecError(issues)
    if not isinstance(data, dict):
        what = "an empty file" if data is None else f"a {type(data).__name__}"
        raise SpecError(
            [
                SpecIssue(
                    file,
                    1,
                    1,
                    "",
                    f"expected a mapping with 'platform', 'apps', ... at the top level, got {what}",
                )
            ]
        )
    return data, positions


def _overlay(
    file: Path, base: dict[str, Any], positions: Positions, env: str
) -> tuple[dict[str, Any], Positions]:
    declared = base.get("environments")
    if not isinstance(declared, dict) or env not in declared:
        names = ", ".join(declared) if isinstance(declared, dict) and declared else "none"
        pos = positions.key(("environments",))
        raise SpecError(
            [
                SpecIssue(
                    pos.file,
                    pos.line,
                    pos.column,
                    "environments",
                    f"environment '{env}' is not declared (declared: {names})",
                )
            ]
        )
    overlay_file = file.parent / "environments" / f"{env}.yaml"
    if not overlay_file.exists():
        return base, positions
    overlay, overlay_positions = _read(overlay_file)
    positions.update(overlay_positions)
    return deep_merge(base, overlay), positions


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``: mappings merge recursively, anything else replaces."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
