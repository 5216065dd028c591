"""Loading comind.yaml: read, parse with positions, apply an environment overlay, validate.

Nothing is partially accepted: either a fully valid :class:`Spec` comes back or a
:class:`SpecError` lists every problem found (YAML, shape, cross-references) — never a
traceback. Overlays (``environments/<env>.yaml``) deep-merge over the base: mappings
merge key by key, lists and scalars replace; positions follow, so an error in a value
the overlay set points into the overlay file. Top-level keys starting with ``x-`` are
ignored (a place for YAML anchors, as in Compose files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from comind.spec.issues import SpecError, SpecIssue
from comind.spec.model import Spec
from comind.spec.positions import DocPath, Positions, YamlError, load_yaml
from comind.spec.references import check
from comind.spec.translate import issues_from

SPEC_FILE = "comind.yaml"
OVERLAY_DIR = "environments"
EXTENSION_PREFIX = "x-"


def load_spec(path: Path, env: str | None = None) -> Spec:
    """The valid spec of the repo at ``path`` (a directory or its comind.yaml).

    With ``env``, ``environments/<env>.yaml`` (optional) is merged over the base; the
    environment must be declared under ``environments:``. Raises :class:`SpecError`.
    """
    file = spec_file(path)
    data, positions = _read(file, overlay=False)
    issues: list[SpecIssue] = []
    if env is not None:
        data, issues = _apply_env(file, data, positions, env)
    data = {k: v for k, v in data.items() if not k.startswith(EXTENSION_PREFIX)}
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(issues + issues_from(exc.errors(), Spec, positions)) from None
    issues += check(spec, positions, file.parent)
    if issues:
        raise SpecError(issues)
    return spec


def spec_file(path: Path) -> Path:
    """``path`` itself when it names a file, else ``path/comind.yaml``."""
    is_file = path.is_file() or (bool(path.suffix) and not path.is_dir())
    return path if is_file else path / SPEC_FILE


def _issue(file: Path, message: str) -> SpecError:
    return SpecError([SpecIssue(file, 1, 1, "", message)])


def _read(file: Path, *, overlay: bool) -> tuple[dict[str, Any], Positions]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _issue(file, "file not found (a platform repo has comind.yaml at its root)") from None
    except IsADirectoryError:
        raise _issue(file, "is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _issue(file, f"cannot read: {exc}") from None
    try:
        data, positions, issues = load_yaml(file, text)
    except YamlError as exc:
        raise SpecError([exc.issue]) from None
    if issues:
        raise SpecError(issues)
    if data is None and overlay:
        return {}, positions
    if not isinstance(data, dict):
        what = "an empty file" if data is None else f"a {_kind(data)}"
        keys = "'apps', ..." if overlay else "'platform', 'apps', ..."
        raise _issue(file, f"expected a mapping with {keys} at the top level, got {what}")
    return data, positions


def _kind(data: Any) -> str:
    return "list" if isinstance(data, list) else "scalar value"


def _apply_env(
    file: Path, base: dict[str, Any], positions: Positions, env: str
) -> tuple[dict[str, Any], list[SpecIssue]]:
    declared = base.get("environments")
    if not isinstance(declared, dict) or env not in declared:
        names = ", ".join(declared) if isinstance(declared, dict) and declared else "none"
        pos = positions.key(("environments",)) if "environments" in base else positions.key(())
        message = f"environment '{env}' is not declared (declared: {names})"
        return base, [SpecIssue(pos.file, pos.line, pos.column, "environments", message)]
    overlay_file = file.parent / OVERLAY_DIR / f"{env}.yaml"
    if not overlay_file.exists():
        return base, []
    overlay, overlay_positions = _read(overlay_file, overlay=True)
    for path in replaced_paths(base, overlay):
        positions.replace(path, overlay_positions)
    return deep_merge(base, overlay), []


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``: mappings merge recursively, anything else replaces."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def replaced_paths(
    base: dict[str, Any], overlay: dict[str, Any], at: DocPath = ()
) -> list[DocPath]:
    """The paths whose whole value ``deep_merge(base, overlay)`` takes from ``overlay``."""
    out: list[DocPath] = []
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out += replaced_paths(base[key], value, (*at, key))
        else:
            out.append((*at, key))
    return out
