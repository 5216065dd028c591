"""The flow engine: sources → steps → sinks, run as worker processes (see :mod:`.runner`)."""
