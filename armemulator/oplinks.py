"""Signed polling URLs: the Location and Azure-AsyncOperation links handed out in a 202.

Why this module exists: ARM's polling URLs carry signed query parameters (``t``, ``c``, ``s``,
``h`` on real Microsoft.DBforMySQL operations) and only work when used verbatim. A client that
rebuilds, trims or re-encodes them must fail here as it would in Azure, so the emulator signs them:

* ``t`` - issue time (emulated epoch seconds), ``c`` - a nonce;
* ``s`` - HMAC-SHA256 (base64url) over the operation's scope path
  ``/subscriptions/{s}/providers/microsoft.dbformysql/locations/{loc}`` (lower case), the operation
  id, ``t`` and ``c``; both links of one operation share these parameters;
* ``h`` - a short hash over ``t``, ``c`` and ``s``.

``api-version`` is not signed: clients legitimately keep or re-add it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from enum import StrEnum


class LinkKind(StrEnum):
    """The two polling URL shapes (path segment names)."""

    ASYNC_OPERATION = "azureAsyncOperation"
    OPERATION_STATUS = "operationStatus"


SIGNED_PARAMS = ("t", "c", "s", "h")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class LinkSigner:
    """Builds and checks signed polling URLs with one secret key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @staticmethod
    def _scope(subscription: str, location: str) -> str:
        scope = f"/subscriptions/{subscription}/providers/microsoft.dbformysql/locations/{location}"
        return scope.lower()

    def _signature(
        self, subscription: str, location: str, operation_id: str, t: str, c: str
    ) -> str:
        message = "|".join((self._scope(subscription, location), operation_id.lower(), t, c))
        return _b64(hmac.new(self._key, message.encode("utf-8"), hashlib.sha256).digest())

    @staticmethod
    def _short_hash(t: str, c: str, s: str) -> str:
        return _b64(hashlib.sha256(f"{t}.{c}.{s}".encode()).digest()[:12])

    def url(
        self,
        *,
        base: str,
        kind: LinkKind,
        subscription: str,
        location: str,
        operation_id: str,
        api_version: str,
        issued_at: int,
        nonce: str,
    ) -> str:
        """The absolute polling URL of ``kind`` for an operation."""
        t = str(issued_at)
        s = self._signature(subscription, location, operation_id, t, nonce)
        h = self._short_hash(t, nonce, s)
        return (
            f"{base.rstrip('/')}/subscriptions/{subscription}/providers/Microsoft.DBforMySQL"
            f"/locations/{location}/{kind.value}/{operation_id}"
            f"?api-version={api_version}&t={t}&c={nonce}&s={s}&h={h}"
        )

    def has_signature(self, query: Mapping[str, str]) -> bool:
        return all(query.get(name) for name in SIGNED_PARAMS)

    def verify(
        self, subscription: str, location: str, operation_id: str, query: Mapping[str, str]
    ) -> bool:
        """True when ``query`` carries a valid signature for this operation."""
        t, c, s, h = (query.get(name, "") for name in SIGNED_PARAMS)
        if not (t and c and s and h):
            return False
        expected = self._signature(subscription, location, operation_id, t, c)
        return hmac.compare_digest(expected, s) and hmac.compare_digest(
            self._short_hash(t, c, s), h
        )
