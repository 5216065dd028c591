"""Governance: who may do what (tokens, roles, the audit log) and how secrets at rest are sealed."""
