"""The payments app of the shop example."""
