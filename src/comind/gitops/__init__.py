"""GitOps control plane: Git source, desired state, diff, plan, apply, status, history."""
