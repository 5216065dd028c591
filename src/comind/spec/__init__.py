"""The comind.yaml spec: model, loading with positions, overlays and validation."""

from comind.spec.issues import SpecError, SpecIssue
from comind.spec.loading import SPEC_FILE, deep_merge, load_spec
from comind.spec.model import Spec

__all__ = ["SPEC_FILE", "Spec", "SpecError", "SpecIssue", "deep_merge", "load_spec"]
