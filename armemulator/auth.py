"""Bearer tokens: minted by the emulator's managed-identity endpoint, checked on every ARM call.

Why this module exists: the client under test authenticates with a managed identity
(azure-identity's ``ManagedIdentityCredential`` in App Service mode) and must send a valid
``Authorization: Bearer`` token to ARM. The emulator plays both sides, so it needs tokens it can
verify without any store: JWT-shaped strings (``header.payload.signature``) signed with HMAC-SHA256
under a key that lives only in this emulator. The payload carries the audience, the caller's
object id, the tenant and the expiry. Expiry is in real wall-clock time (``time.time()``), because
azure-identity caches and refreshes tokens by the real clock whatever the emulated clock says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

_VERIFIED_CACHE_SIZE = 4096


class TokenError(ValueError):
    """A bearer token that must be refused; the message is safe to send back."""


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_on: int
    resource: str
    client_id: str


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    object_id: str
    client_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HEADER = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())


def _normalise_audience(audience: str) -> str:
    return audience.rstrip("/").lower()


class TokenAuthority:
    """Issues and verifies this emulator's tokens."""

    def __init__(
        self,
        *,
        audience: str,
        tenant_id: str,
        principal_id: str,
        system_client_id: str,
        lifetime_seconds: float,
        key: bytes | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key or secrets.token_bytes(32)
        self._audiences = {_normalise_audience(audience)}
        if _normalise_audience(audience) == "https://management.azure.com":
            # ARM also accepts the classic Azure Service Management audience.
            self._audiences.add("https://management.core.windows.net")
        self.audience = audience
        self._tenant_id = tenant_id
        self._principal_id = principal_id
        self._system_client_id = system_client_id
        self._lifetime = lifetime_seconds
        self._wall = wall_clock
        # Verified tokens -> (principal, expiry): clients reuse one token for an hour.
        self._verified: dict[str, tuple[Principal, int]] = {}

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest())

    def issue(
        self,
        resource: str,
        client_id: str | None = None,
        object_id: str | None = None,
        lifetime_seconds: float | None = None,
    ) -> IssuedToken:
        """Mint a token for ``resource`` (the audience), as the given or the system identity."""
        now = int(self._wall())
        expires = now + int(self._lifetime if lifetime_seconds is None else lifetime_seconds)
        cid = client_id or self._system_client_id
        oid = object_id or client_id or self._principal_id
        payload = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self._tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": expires,
            "appid": cid,
            "oid": oid,
            "sub": oid,
            "tid": self._tenant_id,
            "idtyp": "app",
            "jti": secrets.token_hex(8),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        signing_input = f"{_HEADER}.{body}"
        return IssuedToken(f"{signing_input}.{self._sign(signing_input)}", expires, resource, cid)

    def verify(self, token: str) -> Principal:
        """The principal of a valid token for an accepted audience, else ``TokenError``."""
        cached = self._verified.get(token)
        if cached is not None and cached[1] > self._wall():
            return cached[0]
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("The access token is invalid: it is not a signed token.")
        signing_input = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(signing_input), parts[2]):
            raise TokenError("The access token is invalid: its signature does not validate.")
        try:
            payload = json.loads(_unb64(parts[1]))
            audience = str(payload["aud"])
            expires = int(payload["exp"])
            principal = Principal(str(payload["oid"]), str(payload["appid"]))
        except (binascii.Error, ValueError, KeyError, TypeError) as err:
            raise TokenError("The access token is invalid: its payload is malformed.") from err
        if _normalise_audience(audience) not in self._audiences:
            raise TokenError(
                f"The access token has been obtained for wrong audience or resource '{audience}'. "
                f"It should exactly match with one of the allowed audiences "
                f"'{self.audience.rstrip('/')}', '{self.audience.rstrip('/')}/'."
            )
        now = self._wall()
        if expires <= now:
            raise TokenError(
                f"The access token expiry UTC time '{_utc(expires)}' is earlier than current UTC "
                f"time '{_utc(now)}'."
            )
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal


def _utc(epoch: float) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(epoch))
