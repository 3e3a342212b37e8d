"""Blob container URLs without a SAS: a run's ``target.containers`` and ``REPORT_CONTAINER_URL``.

The app reaches these with its own managed identity (a user-delegation SAS minted per export, or
OAuth for the report files), so the URL itself holds no secret and may be kept, logged and
reported. Two forms are taken:

* ``https://{account}.blob.core.windows.net/{container}`` (any https host: sovereign clouds,
  custom domains and private endpoints keep the container as the only path segment);
* path style on a loopback host, ``https://127.0.0.1:10000/{account}/{container}``: Azurite,
  Microsoft's storage emulator ("Azurite ... connection strings", learn.microsoft.com/azure/
  storage/common/storage-use-azurite#http-connection-strings), where plain http is taken too.

Container names follow Azure's rules ("Naming and referencing containers, blobs, and
metadata", learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--
and-metadata): 3 to 63 characters, lowercase letters, digits and hyphens, starting with a letter
or a digit, no two hyphens in a row. A query (a SAS), fragment or user info is refused: the
URL is kept and shown, so it must hold no secret.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from mysqlexport.hosts import is_loopback_host

_CONTAINER_NAME: Final = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_ACCOUNT_NAME: Final = re.compile(r"^[a-z0-9]{3,24}$")
MAX_URL_LENGTH: Final = 2_048


@dataclass(frozen=True)
class ContainerUrl:
    """A checked container URL: the account's endpoint and the container's name."""

    #: ``https://{account}.blob.core.windows.net`` (or ``https://127.0.0.1:10000/{account}``).
    account_url: str
    account: str
    name: str

    @property
    def url(self) -> str:
        """The container's URL, normalised (no trailing slash)."""
        return f"{self.account_url}/{self.name}"


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def container_url_problem(url: object) -> str | None:
    """Why ``url`` is not a container URL without a SAS (the URL is never echoed), or None."""
    try:
        parse_container_url(url)
    except ValueError as err:
        return str(err)
    return None


def parse_container_url(url: object) -> ContainerUrl:
    """The container ``url`` names; ``ValueError`` saying why not (without the URL)."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("must be a blob container URL")
    if len(url) > MAX_URL_LENGTH or not url.isascii() or not url.isprintable() or " " in url:
        raise ValueError(f"must be a URL of at most {MAX_URL_LENGTH} printable ASCII characters")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError:
        raise ValueError("is not a URL") from None
    host = (parts.hostname or "").lower()
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            "must be a bare container URL: no query (a SAS belongs in 'sasUriList'), fragment "
            "or credentials"
        )
    loopback = is_loopback_host(host)
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError("must be an https URL (plain http only on a loopback host)")
    if not host:
        raise ValueError("has no host")
    segments = [s for s in parts.path.split("/") if s]
    origin = f"{parts.scheme}://{parts.netloc.lower()}"  # no user info: refused above
    if loopback and len(segments) == 2:  # Azurite's path style: /{account}/{container}
        account, name = segments
        account_url = f"{origin}/{account}"
    elif _is_address(host) or host == "localhost":
        # No account in the host name: only Azurite's path style names one.
        raise ValueError(
            "on an IP address or localhost must be path style: https://127.0.0.1:{port}/"
            "{account}/{container} (a loopback host only)"
        )
    elif len(segments) == 1:
        account, name = host.split(".", 1)[0], segments[0]
        account_url = origin
    else:
        raise ValueError("must name one container: https://{account}.blob.core.windows.net/{name}")
    if not _ACCOUNT_NAME.match(account):
        raise ValueError("does not name a storage account (3-24 lowercase letters and digits)")
    if not _CONTAINER_NAME.match(name):
        raise ValueError(
            "does not name a container (3-63 lowercase letters, digits and single hyphens, "
            "starting and ending with a letter or digit)"
        )
    return ContainerUrl(account_url, account, name)
