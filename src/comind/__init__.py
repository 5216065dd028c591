"""Comind-Ops: a GitOps data platform."""

__version__ = "0.1.0"
