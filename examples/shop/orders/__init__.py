"""The orders app of the shop example."""
