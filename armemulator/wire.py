"""The request and response values passed between the HTTP transport and the application.

Why this module exists: the transport (``server``) knows sockets and HTTP/1.1; the application
(``app``, ``handlers``) knows ARM. These two small values are all they share, so the ARM logic can
be read without any socket code and the transport without any ARM rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request."""

    method: str
    #: The raw path, without the query string.
    path: str
    #: Query parameters, names lower-cased (ARM treats them case-insensitively), first value wins.
    query: Mapping[str, str]
    #: Header names lower-cased.
    headers: Mapping[str, str]
    body: bytes
    client_ip: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    """What to answer - or, with ``reset``, to drop the connection without answering."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    reset: bool = False

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        out = dict(headers or {})
        out["Content-Type"] = JSON_CONTENT_TYPE
        return cls(status, out, json.dumps(payload).encode("utf-8"))

    @classmethod
    def empty(cls, status: int, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status, dict(headers or {}))

    @classmethod
    def connection_reset(cls) -> Response:
        return cls(0, reset=True)
