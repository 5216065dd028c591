"""App runtime: the apps of the spec as supervised processes."""
