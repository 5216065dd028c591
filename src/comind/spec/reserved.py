"""The names the platform keeps for itself, as spec rules: each function answers the one
line that refuses a name, or None.

Why each is reserved: the backup bucket holds every backup and the WAL archive; the
``postgres``/template databases and ``comind`` (the platform's metadata, tokens included)
would be handed to the app's role by the database provider; an app's Redis key prefix is
``APP:``, so an app named ``comind`` would reach the platform's ``comind:`` keys.
"""

from __future__ import annotations

from comind.spec.names import PLATFORM_APP, PLATFORM_PREFIX, RESERVED_APP_PREFIX

RESERVED_DATABASES = ("postgres", "template0", "template1")  # and every name starting comind


def app_name(name: str) -> str | None:
    if name == PLATFORM_APP:  # its resources would be taken for the platform's own
        return f"app name '{name}' is reserved by the platform (its own resources go by it)"
    if name.startswith(RESERVED_APP_PREFIX):
        return (f"app name '{name}' is reserved by the platform "
                f"(names starting with '{RESERVED_APP_PREFIX}' are the platform's)")  # fmt: skip
    return None


def database_name(value: str) -> str | None:
    if value in RESERVED_DATABASES or value.startswith(RESERVED_APP_PREFIX):
        return (f"database name '{value}' is reserved by the platform (as are "
                f"names starting with '{RESERVED_APP_PREFIX}')")  # fmt: skip
    return None


def default_database(app: str) -> str | None:
    """An app's database without a name is named for the app."""
    if app in RESERVED_DATABASES:
        return f"app '{app}' needs a database name: '{app}' is reserved by the platform"
    return None


def bucket_name(value: str) -> str | None:
    if value.startswith(PLATFORM_PREFIX):
        return (f"bucket name '{value}' is reserved by the platform (names "
                f"starting with '{PLATFORM_PREFIX}' are the platform's)")  # fmt: skip
    return None


def service_name(kind: str, value: str) -> str | None:
    """The rule for a ``database`` or ``bucket`` name."""
    return database_name(value) if kind == "database" else bucket_name(value)
