"""The error every layer raises when a user can act on the problem.

The CLI prints ``str(error)`` as one line and exits with ``exit_code``; a traceback
is shown only with ``--debug``. Anything else escaping is a bug.
"""

from __future__ import annotations


class ComindError(Exception):
    """A failure described in one line the user can act on."""

    exit_code = 1


class UsageError(ComindError):
    """The command line or the spec is wrong; nothing was changed."""

    exit_code = 2
