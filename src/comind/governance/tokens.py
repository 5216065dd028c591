"""Tokenization: a PII value replaced by a token of the same shape, with a way back.

A token keeps the value's format (each digit a digit, each letter a letter of the same case,
every other character as it was: a card number stays 16 digits with its dashes, an email
stays an email) and is derived from the value's HMAC under the PII key, so the same value
gets the same token in every dataset and tokens join. The vault (``comind.pii_tokens``)
holds per token the value's HMAC and the value sealed to the vault's public key: flow
workers add tokens with that public key but cannot open them; the platform opens them for
a role that may detokenize (:class:`TokenVault`). Two values whose tokens collide: the later
one derives its token again with a counter. A value that looks like a token is tokenized as
any other value: passing it through would let a flow record another dataset's token as its
own and have it opened there. Workers reach the vault only through functions that take a
value's digest (``comind.known_tokens``, ``comind.add_token``), never its tables.
"""

from __future__ import annotations

import contextlib
import hmac
import string
from collections.abc import Iterable, Sequence
from hashlib import sha256

from comind.errors import ComindError
from comind.governance.sealbox import SealBox, seal_to
from comind.stores.postgres import Connection, Pool
from comind.stores.queries import named

_sql = named("comind.governance", "tokens")
ATTEMPTS = 8


def digest(key: bytes, value: str) -> bytes:
    return hmac.new(key, b"vault:" + value.encode(), sha256).digest()


def shaped(key: bytes, value: str, attempt: int = 0) -> str:
    """``value``'s token: same shape, characters from an HMAC stream."""
    stream = _stream(key, f"token:{attempt}:{value}".encode(), len(value))
    return "".join(_like(c, b) for c, b in zip(value, stream, strict=True))


def _stream(key: bytes, seed: bytes, n: int) -> bytes:
    out, counter = b"", 0
    while len(out) < n:
        out += hmac.new(key, seed + counter.to_bytes(4, "big"), sha256).digest()
        counter += 1
    return out[:n]


def _like(c: str, b: int) -> str:
    if c.isdigit():
        return string.digits[b % 10]
    if c.isascii() and c.islower():
        return string.ascii_lowercase[b % 26]
    if c.isascii() and c.isupper():
        return string.ascii_uppercase[b % 26]
    return c


def context(token: str) -> str:
    return f"pii_tokens/{token}"


class Tokenizer:
    """The workers' side: tokens for values, added to the vault as needed."""

    def __init__(self, pool: Pool, key: bytes) -> None:
        self.pool, self.key = pool, key
        self._public: bytes | None = None

    def tokens(self, values: Iterable[str], scope: str) -> dict[str, str]:
        """Each value → its token, recorded as written to ``scope`` (dataset and field)."""
        wanted = list(dict.fromkeys(values))
        if not wanted:
            return {}
        with self.pool.connection() as conn:
            found = self._known(conn, wanted, scope)
            for value in wanted:
                if value not in found:
                    found[value] = self._add(conn, value, scope)
        return found

    def _known(self, conn: Connection, values: Sequence[str], scope: str) -> dict[str, str]:
        digests = {digest(self.key, v): v for v in values}
        rows = conn.execute(_sql("known"), {"digests": list(digests), "scope": scope}).fetchall()
        return {digests[bytes(d)]: token for d, token in rows}

    def _add(self, conn: Connection, value: str, scope: str) -> str:
        public = self._vault_key(conn)
        for attempt in range(ATTEMPTS):
            token = shaped(self.key, value, attempt)
            sealed = seal_to(public, value.encode(), context=context(token))
            row = conn.execute(_sql("add"), {
                "token": token, "digest": digest(self.key, value), "sealed": sealed,
                "scope": scope,
            }).fetchone()  # fmt: skip
            if row is not None and row[0] is not None:
                return str(row[0])
        raise ComindError("no free token for a value after 8 attempts (a value too short?)")

    def _vault_key(self, conn: Connection) -> bytes:
        if self._public is None:
            row = conn.execute(_sql("vault_key")).fetchone()
            if row is None:
                raise ComindError("the platform has not published its token vault key yet")
            self._public = bytes(row[0])
        return self._public


class TokenVault:
    """The platform's side: publish the vault key, open tokens (with ``box``, else with one
    of the ``earlier`` boxes values were sealed to before)."""

    def __init__(self, pool: Pool, box: SealBox, earlier: Sequence[SealBox] = ()) -> None:
        self.pool, self.box, self.earlier = pool, box, tuple(earlier)

    def publish(self) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("publish_vault_key"), {"public": self.box.public})

    def detokenize(self, tokens: Sequence[str], scope: str) -> dict[str, str | None]:
        """Each token → its value (None: no token of this vault written to ``scope``)."""
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("sealed"), {"tokens": list(tokens), "scope": scope}).fetchall()
        opened = {t: self._open(bytes(s), t) for t, s in rows}
        return {t: opened.get(t) for t in tokens}

    def _open(self, sealed: bytes, token: str) -> str:
        *first, last = (self.box, *self.earlier)
        for box in first:
            with contextlib.suppress(ComindError):
                return box.open(sealed, context=context(token)).decode()
        return last.open(sealed, context=context(token)).decode()
