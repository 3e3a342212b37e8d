"""What the emulator saw: request counts, throttling, faults, tokens, concurrency peaks.

Why this module exists: tests and benchmarks judge a client by what reached the service - how many
polls per export, how many 429s it provoked, whether it ever sent a token to a foreign host, how
many exports (and on-demand backups) ran at once. ``RequestCounters`` records per-request facts
cheaply (dict increments under one lock); ``Counters`` is the immutable snapshot handed out,
combined with the model's concurrency figures and the fault injector's counts.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from armemulator.kinds import Kind


@dataclass(frozen=True)
class Counters:
    """A snapshot of everything counted so far (admin routes are never counted)."""

    #: Requests by kind (``Kind`` values), including the token endpoint.
    requests: dict[str, int]
    #: Requests by (kind, server name), for requests about one server.
    requests_by_server: dict[tuple[str, str], int]
    #: Responses by (kind, HTTP status); connection resets are not responses.
    responses: dict[tuple[str, int], int]
    #: 429 SubscriptionRequestsThrottled answers by kind.
    throttled: dict[str, int]
    #: Injected faults by type ("error_500", "error_503", "connection_reset", "slow").
    faults: dict[str, int]
    #: Exports running now (accepted and not yet at their end time, on the emulated clock).
    exports_running: int
    peak_exports_running: int
    peak_exports_running_by_server: dict[str, int]
    exports_accepted: int
    duplicate_exports: int
    #: Requests whose Host header is not one this emulator serves (e.g. a foreign polling base).
    foreign_host_requests: int
    tokens_issued: int
    #: 401 answers sent by ARM routes.
    unauthorized: int
    #: On-demand backups (backupsV2) running now, at most at once (in all and per server),
    #: accepted by a PUT, and PUTs answered from an existing backup (a repeat of its name).
    backups_running: int = 0
    peak_backups_running: int = 0
    peak_backups_running_by_server: dict[str, int] = field(default_factory=dict)
    backups_accepted: int = 0
    duplicate_backups: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: tuple keys become nested objects."""
        by_server: dict[str, dict[str, int]] = {}
        for (kind, server), count in self.requests_by_server.items():
            by_server.setdefault(kind, {})[server] = count
        responses: dict[str, dict[str, int]] = {}
        for (kind, status), count in self.responses.items():
            responses.setdefault(kind, {})[str(status)] = count
        return {
            "requests": dict(self.requests),
            "requests_by_server": by_server,
            "responses": responses,
            "throttled": dict(self.throttled),
            "faults": dict(self.faults),
            "exports_running": self.exports_running,
            "peak_exports_running": self.peak_exports_running,
            "peak_exports_running_by_server": dict(self.peak_exports_running_by_server),
            "exports_accepted": self.exports_accepted,
            "duplicate_exports": self.duplicate_exports,
            "foreign_host_requests": self.foreign_host_requests,
            "tokens_issued": self.tokens_issued,
            "unauthorized": self.unauthorized,
            "backups_running": self.backups_running,
            "peak_backups_running": self.peak_backups_running,
            "peak_backups_running_by_server": dict(self.peak_backups_running_by_server),
            "backups_accepted": self.backups_accepted,
            "duplicate_backups": self.duplicate_backups,
        }


class RequestCounters:
    """Thread-safe per-request tallies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._by_server: Counter[tuple[str, str]] = Counter()
        self._responses: Counter[tuple[str, int]] = Counter()
        self._throttled: Counter[str] = Counter()
        self._foreign = 0
        self._tokens = 0
        self._unauthorized = 0

    def request(self, kind: Kind, server: str | None, *, foreign_host: bool) -> None:
        with self._lock:
            self._requests[kind.value] += 1
            if server is not None:
                self._by_server[(kind.value, server)] += 1
            if foreign_host:
                self._foreign += 1

    def response(self, kind: Kind, status: int) -> None:
        with self._lock:
            self._responses[(kind.value, status)] += 1
            if status == 429:
                self._throttled[kind.value] += 1
            elif status == 401 and kind is not Kind.IDENTITY:
                self._unauthorized += 1

    def token_issued(self) -> None:
        with self._lock:
            self._tokens += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self._requests),
                "requests_by_server": dict(self._by_server),
                "responses": dict(self._responses),
                "throttled": dict(self._throttled),
                "foreign_host_requests": self._foreign,
                "tokens_issued": self._tokens,
                "unauthorized": self._unauthorized,
            }
