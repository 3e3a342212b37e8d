"""Test setup on Azurite: what the tests do with the account key and the app never does."""

from __future__ import annotations

import uuid

from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite


def create_container(azurite: Azurite, name: str | None = None) -> str:
    """Create a container with the account key (setup only); its URL, no SAS."""
    name = name or f"c-{uuid.uuid4().hex[:20]}"
    service = BlobServiceClient(
        azurite.blob_endpoint,
        credential={"account_name": azurite.account_name, "account_key": azurite.account_key},
        connection_verify=str(azurite.ca_bundle),
    )
    with service:
        service.create_container(name)
    return azurite.container_url(name)
