"""Backups: PostgreSQL base backups, encrypted and verified by restoring them."""
