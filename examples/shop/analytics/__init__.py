"""The analytics app of the shop example."""
