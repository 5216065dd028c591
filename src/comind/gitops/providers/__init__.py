"""One provider per resource kind: observe, apply (create or update), delete, health."""
