"""Talking to git: the environment it runs in, what may be passed to it, and how its output reads.

What :class:`comind.gitops.source.GitSource` builds on:

- **git never waits for a human.** :func:`git_env` is the caller's environment without
  anything that could prompt or redirect git, with no terminal prompt
  (``GIT_TERMINAL_PROMPT=0``), ssh ``BatchMode``, no askpass helper and no system or user
  configuration.
- **No credential leaks.** :func:`redact_url` replaces ``user:password@`` and
  ``https://TOKEN@`` with ``***``; :func:`credentials` lists a URL's secrets (raw and
  percent-decoded) so messages can be scrubbed of them literally.
- **No credential on a command line.** :func:`split_login` takes the userinfo out of an
  http(s) URL (and the password out of any other); git gets the bare URL and
  :func:`login_env` hands it the login through a credential helper configured in its
  environment (``GIT_CONFIG_COUNT``), whose text names variables, never their values.
  ``ps`` shows argv to every user of the machine, while a process's environment is
  readable only by its own user and root.
- **Nothing git would read as an option.** :func:`check_name` refuses names starting with
  ``-`` and control characters.
- **Commits parse unambiguously.** :data:`LOG_FORMAT` separates fields with NUL bytes, so
  :func:`parse_commits` reads any message, trailers included.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from comind.errors import ComindError

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/@\s]+)@")
_KEEP_GIT_VARS = frozenset(
    {"GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH"}
)
# One commit as NUL-separated fields (``git log -z`` ends each record with a NUL too).
_FIELDS = ("%H", "%h", "%an", "%ae", "%ct", "%s", "%B", "%(trailers:only,unfold)")
LOG_FORMAT = "--format=" + "%x00".join(_FIELDS)
_USER_VAR, _PASSWORD_VAR = "COMIND_GIT_USERNAME", "COMIND_GIT_PASSWORD"
# Answers git's "get" only; "store" and "erase" have nothing to keep or forget.
_HELPER = (
    f"!f() {{ test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' "
    f'"${_USER_VAR}" "${_PASSWORD_VAR}"; }}; f'
)


class GitError(ComindError):
    """A git operation failed; the message is one line, free of credentials."""


@dataclass(frozen=True)
class Commit:
    """One commit's metadata, with its trailers (``Key: value`` lines) parsed."""

    sha: str
    short: str
    author: str
    email: str
    committed_at: datetime
    subject: str
    message: str
    trailers: dict[str, list[str]]

    @property
    def signed_off(self) -> bool:
        """True when the commit carries a non-empty ``Signed-off-by:`` trailer."""
        return any(
            key.lower() == "signed-off-by" and any(values) for key, values in self.trailers.items()
        )


def redact_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` and every
    ``http(s)://TOKEN@`` replaced by ``***``."""
    return _USERINFO.sub(_hide_userinfo, text)


def _secret(match: re.Match[str]) -> str:
    """The secret in a URL's userinfo: the password, or an http(s) token; "" if none."""
    info = match["info"]
    if ":" in info:
        return info.split(":", 1)[1]
    return info if match["scheme"].lower().startswith("http") else ""


def _hide_userinfo(match: re.Match[str]) -> str:
    secret = _secret(match)
    return match[0][: -len(secret) - 1] + "***@" if secret else match[0]


def credentials(url: str) -> list[str]:
    """The secrets in ``url`` (raw and percent-decoded), to scrub literally."""
    found = {_secret(match) for match in _USERINFO.finditer(url)}
    return sorted({form for secret in found for form in (secret, unquote(secret)) if form})


@dataclass(frozen=True)
class Login:
    """The username and password (or token) a URL carried, percent-decoded."""

    username: str = field(repr=False)  # a token may stand as the username
    password: str = field(repr=False)


def split_login(url: str) -> tuple[str, Login | None]:
    """``url`` without its credentials, and the login git must use for it (None: none).

    http(s) loses its whole userinfo (a token may stand as the username); any other
    scheme keeps its user (``ssh://git@host``), which is no secret, and loses a password.
    """
    parts = urlsplit(url) if "://" in url else None
    if parts is None or "@" not in parts.netloc:
        return url, None
    info, _, host = parts.netloc.rpartition("@")
    user, _, password = info.partition(":")
    if not parts.scheme.lower().startswith("http"):
        return urlunsplit(parts._replace(netloc=f"{user}@{host}")), None
    return urlunsplit(parts._replace(netloc=host)), Login(unquote(user), unquote(password))


def login_env(login: Login | None) -> dict[str, str]:
    """The variables that give git ``login`` through a credential helper (none without)."""
    if login is None:
        return {}
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "credential.helper",
        "GIT_CONFIG_VALUE_0": _HELPER,
        _USER_VAR: login.username,
        _PASSWORD_VAR: login.password,
    }


def git_env(home: Path) -> dict[str, str]:
    """The environment git runs in: the caller's, minus anything that could prompt
    or redirect git and the platform's own settings (COMIND_*: engine URLs with passwords,
    passphrases), plus settings that make it non-interactive and config-free."""
    env = {
        key: value
        for key, value in os.environ.items()
        if (not key.startswith("GIT_") or key in _KEEP_GIT_VARS)
        and key != "SSH_ASKPASS"
        and not key.startswith("COMIND_")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        SSH_ASKPASS_REQUIRE="never",
        LC_ALL="C",
    )
    if "GIT_SSH" not in env:
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def last_line(stderr: str) -> str:
    """git's own explanation: the last ``fatal:``/``error:`` line, else the last line."""
    lines = [line.strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("hint:")]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (errors or lines or ["no message from git"])[-1]


def check_name(kind: str, value: str, *, spaces: bool = False) -> None:
    """Refuse what git would read as an option, and control characters."""
    bad = (c for c in value if ord(c) < 32 or (c.isspace() and not spaces))
    if not value or value.startswith("-") or any(bad):
        raise GitError(f"invalid git {kind} {redact_url(value)!r}")


def verb(argv: list[str]) -> str:
    return next((arg for arg in argv[1:] if not arg.startswith("-")), "git")


def _parse_trailers(text: str) -> dict[str, list[str]]:
    trailers: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            trailers.setdefault(key.strip(), []).append(value.strip())
    return trailers


def parse_commits(output: str) -> list[Commit]:
    tokens = output.split("\0")[:-1]
    size = len(_FIELDS)
    return [_to_commit(tokens[i : i + size]) for i in range(0, len(tokens) - size + 1, size)]


def _to_commit(fields: list[str]) -> Commit:
    sha, short, author, email, stamp, subject, body, trailers = fields
    return Commit(
        sha=sha,
        short=short,
        author=author,
        email=email,
        committed_at=datetime.fromtimestamp(int(stamp), UTC),
        subject=subject,
        message=body.rstrip("\n"),
        trailers=_parse_trailers(trailers),
    )
