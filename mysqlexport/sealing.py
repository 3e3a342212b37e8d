"""Seal SAS URIs so that durable state never holds them in the clear.

Durable Functions persists orchestration inputs, outputs and history in the task hub's storage and
shows inputs in status queries. SAS URIs are credentials, so the HTTP starter seals the list with
an app-setting key before anything is persisted, and only the submit activity opens it.

Sealing is Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``): authenticated, so a token
cannot be altered, and versioned. ``SAS_SEALING_KEY`` holds one or more comma-separated keys
(``Fernet.generate_key()``); the first seals, all open, which allows rotation. In Azure, make the
setting a Key Vault reference so the key itself lives in Key Vault.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from mysqlexport.errors import ExportError, SettingsError
from mysqlexport.redaction import SecretUri

#: The app setting that holds the keys.
SETTING: Final = "SAS_SEALING_KEY"

PREFIX: Final = "sealed:v1:"


class UnsealError(ExportError):
    """A sealed value could not be opened (wrong key, tampered, or not sealed at all)."""

    code = "SealedTargetUnreadable"


class Sealer:
    """Seals and opens lists of SAS URIs with the configured key(s)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SettingsError({SETTING: "is not set"})
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except (ValueError, TypeError) as err:
            why = "must be comma-separated Fernet keys (32 url-safe base64 bytes each)"
            raise SettingsError({"SAS_SEALING_KEY": why}) from err

    @classmethod
    def from_setting(cls, value: str | None) -> Sealer:
        """Build from the ``SAS_SEALING_KEY`` setting's value."""
        return cls([k for k in (value or "").split(",") if k.strip()])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Sealer:
        """Build from the ``SAS_SEALING_KEY`` app setting."""
        env = os.environ if environ is None else environ
        return cls.from_setting(env.get(SETTING))

    @staticmethod
    def new_key() -> str:
        """A fresh key, for setup scripts and the demo."""
        return Fernet.generate_key().decode()

    def seal(self, sas_uris: Sequence[str]) -> str:
        """One opaque string holding the list."""
        plain = json.dumps([SecretUri(u).reveal() for u in sas_uris]).encode()
        return PREFIX + self._fernet.encrypt(plain).decode()

    def open(self, sealed: str) -> list[SecretUri]:
        """The list, each URI wrapped so it cannot leak through ``repr`` or logs."""
        if not isinstance(sealed, str) or not sealed.startswith(PREFIX):
            raise UnsealError("the export target is not a sealed value")
        try:
            plain = self._fernet.decrypt(sealed[len(PREFIX) :].encode())
        except InvalidToken as err:
            raise UnsealError(
                "the sealed export target cannot be opened with SAS_SEALING_KEY "
                "(was the key rotated without keeping the old one?)"
            ) from err
        values = json.loads(plain)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise UnsealError("the sealed export target is not a list of URIs")
        return [SecretUri(v) for v in values]
