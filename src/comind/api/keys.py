"""The keyring over the API: ``GET /api/v1/keys`` (KEK versions, data keys per scope with
the KEK version wrapping each; never a key), ``POST /api/v1/keys/rotate`` (``{"reencrypt":
bool}``: a new KEK version, every data key re-wrapped) and ``POST /api/v1/keys/retire``
(``{"version": V}``, refused while a data key is wrapped by it). Admin only, changes audited:
the keys protect every encrypted bucket and backup of the platform."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field
from starlette.routing import Route

from comind.api.guard import Answer, Call, Guard
from comind.api.openapi_schemas import Closed
from comind.api.tokens import Tokens


class KeyActions(Protocol):
    def rotate(self, *, reencrypt: bool = False) -> dict[str, Any]: ...
    def retire(self, version: str) -> dict[str, Any]: ...
    def status(self) -> dict[str, Any]: ...


class RotateBody(BaseModel):
    reencrypt: bool = Field(default=False, description="also new data keys for new writes")


class RetireBody(BaseModel):
    version: str = Field(pattern=r"^v[0-9]{1,6}$", description="a KEK version, e.g. v1")


class ScopeKeys(Closed):
    scope: str = Field(description="bucket/NAME, dataset/NAME, backup, pii/hmac, pii/vault")
    current: str = Field(description="the data key new writes use")
    keys: dict[str, str] = Field(description="every data key id → the KEK version wrapping it")


class KeysStatus(Closed):
    kek_current: str
    kek_versions: list[str] = Field(description="oldest first; each still unwraps")
    scopes: list[ScopeKeys]
    reencrypt_remaining: int = Field(description="objects still under an older data key")


class KeysRotated(Closed):
    kek_version: str = Field(description="the new current KEK version")
    rewrapped: int = Field(description="data keys re-wrapped under it")
    new_data_keys: list[str] = Field(description="with reencrypt: the scopes given a new key")


class KeysRetired(Closed):
    retired: str
    kek_versions: list[str]


class KeysApi:
    def __init__(self, service: KeyActions, tokens: Tokens) -> None:
        self.service, self.guard = service, Guard(tokens)

    def routes(self) -> list[Route]:
        return [
            self.guard.route("/api/v1/keys", self.status, role="admin"),
            self.guard.change("/api/v1/keys/rotate", self.rotate, "keys-rotate", role="admin"),
            self.guard.change("/api/v1/keys/retire", self.retire, "keys-retire", role="admin"),
        ]

    def status(self, call: Call) -> dict[str, Any]:
        return self.service.status()

    def rotate(self, call: Call) -> Answer:
        done = self.service.rotate(reencrypt=call.parsed(RotateBody).reencrypt)
        return Answer(done, detail=done)

    def retire(self, call: Call) -> Answer:
        version = call.parsed(RetireBody).version
        return Answer(self.service.retire(version), detail={"version": version})
