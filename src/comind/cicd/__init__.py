"""CI/CD data: CI results per commit (webhooks and reports), their test results, the gate
syncs pass through (``sync.require_ci``)."""
