"""The managed-identity token endpoint, speaking App Service's protocol (api-version 2019-08-01).

Why this module exists: the app under test runs as an Azure Function with a managed identity, and
azure-identity's ``ManagedIdentityCredential`` (via MSAL) fetches tokens from ``IDENTITY_ENDPOINT``
with the secret ``IDENTITY_HEADER``. Pointing those two variables at the emulator
(``emu.token_endpoint``, ``emu.identity_header``) makes the unmodified credential work locally.

Protocol, as azure-identity 1.27 / MSAL 1.39 implement the client side:
``GET {endpoint}?api-version=2019-08-01&resource={resource}[&client_id=|object_id=|mi_res_id=]``
with header ``X-IDENTITY-HEADER``; success is 200
``{"access_token", "expires_on": "<epoch seconds as a string>", "resource", "token_type",
"client_id"}``; failures are ``{"statusCode", "message", "correlationId"}`` (MSAL reports
``statusCode`` and ``message``). A missing secret header is 400, a wrong one 401.

Tokens for any resource: ARM's (``https://management.azure.com``) and storage's
(``https://storage.azure.com``, with or without the trailing slash, which is what
``DefaultAzureCredential().get_token("https://storage.azure.com/.default")`` asks for) are minted
alike, with ``aud`` the resource as asked. Azurite 3.35 in ``--oauth basic`` mode, the storage
emulator the tests run, takes such a token as it is (tools/azurite/node_modules/azurite/dist/src/
blob/authentication/BlobTokenAuthenticator.js, ``authenticateBasic``): it decodes the JWT
without checking the signature, requires ``nbf``, ``iat`` and ``exp`` (checked against its own
wall clock, as ``TokenAuthority`` stamps them), ``iss`` starting with ``https://sts.windows.net/``
(common/utils/constants.js ``VALID_ISSUE_PREFIXES``) and ``aud`` matching
``^https://storage\\.azure\\.com/?$`` (blob/utils/constants.js ``VALID_BLOB_AUDIENCES``). Its
Get User Delegation Key (blob/handlers/ServiceHandler.js ``getUserDelegationKey``) derives the key
from the token's ``oid`` and ``tid`` and returns them as ``signedOid``/``signedTid``, which a
user-delegation SAS then carries as ``skoid``/``sktid``: ``TokenAuthority.issue`` writes both
(and ``appid``, ``sub``), so the app's storage token serves there unchanged. ARM refuses a
storage token and storage an ARM token by ``aud``, as Azure does.
"""

from __future__ import annotations

import hmac
import uuid

from armemulator.auth import TokenAuthority
from armemulator.wire import Request, Response

API_VERSION = "2019-08-01"
_IDENTITY_SELECTORS = ("client_id", "object_id", "principal_id", "mi_res_id")


def _error(status: int, message: str) -> Response:
    return Response.json(
        status, {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
    )


class IdentityEndpoint:
    """Answers token requests for one emulator."""

    def __init__(self, authority: TokenAuthority, secret: str) -> None:
        self._authority = authority
        self._secret = secret.encode("utf-8")

    def handle(self, request: Request) -> Response:
        sent = request.header("x-identity-header")
        if not sent:
            return _error(400, "The X-IDENTITY-HEADER header is required.")
        if not hmac.compare_digest(sent.encode("utf-8"), self._secret):
            return _error(401, "The X-IDENTITY-HEADER header does not match this environment.")
        version = request.query.get("api-version")
        if version != API_VERSION:
            return _error(400, f"The api-version must be '{API_VERSION}'.")
        resource = request.query.get("resource")
        if not resource:
            return _error(400, "The resource query parameter is required.")
        selectors = [name for name in _IDENTITY_SELECTORS if request.query.get(name)]
        if len(selectors) > 1:
            return _error(400, "Specify at most one of client_id, object_id and mi_res_id.")
        client_id = request.query.get("client_id") or None
        object_id = request.query.get("object_id") or request.query.get("principal_id") or None
        token = self._authority.issue(resource, client_id=client_id, object_id=object_id)
        return Response.json(
            200,
            {
                "access_token": token.access_token,
                "expires_on": str(token.expires_on),
                "resource": token.resource,
                "token_type": "Bearer",
                "client_id": token.client_id,
            },
        )
