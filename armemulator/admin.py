"""Admin routes under ``/_emulator/`` for tools running in other processes.

Why this module exists: the in-process API (``emu.counters()``, ``emu.exports()``,
``emu.clock.advance()``) is out of reach of an app running under the local Functions host or a
benchmark driver in another process. These routes expose the same facts over loopback HTTP:

* ``GET /_emulator/counters`` - ``Counters.as_dict()``
* ``GET /_emulator/exports`` - ``{"exports": [ExportRecord.as_dict(), ...]}``
* ``GET /_emulator/backups`` - ``{"backups": [BackupRecord.as_dict(), ...]}`` (accepted by a PUT)
* ``GET /_emulator/clock`` - ``{"now", "iso", "kind", "scale"?}``
* ``POST /_emulator/clock/advance?seconds=N`` - virtual clock only (409 otherwise)

They need no token, answer only loopback clients, and are neither counted nor throttled.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from typing import Any

from armemulator.backups import BackupRecord
from armemulator.clock import Clock, ScaledClock, VirtualClock, clock_kind
from armemulator.counters import Counters
from armemulator.model import ExportRecord
from armemulator.representations import iso
from armemulator.wire import Request, Response

PREFIX = "/_emulator/"


def _problem(status: int, message: str) -> Response:
    return Response.json(status, {"error": {"code": "EmulatorAdminError", "message": message}})


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class AdminRoutes:
    """Serves ``/_emulator/*``."""

    def __init__(
        self,
        clock: Clock,
        counters: Callable[[], Counters],
        exports: Callable[[], list[ExportRecord]],
        backups: Callable[[], list[BackupRecord]],
    ) -> None:
        self._clock = clock
        self._counters = counters
        self._exports = exports
        self._backups = backups

    def _clock_body(self) -> dict[str, Any]:
        now = self._clock.now()
        body: dict[str, Any] = {"now": now, "iso": iso(now), "kind": clock_kind(self._clock)}
        if isinstance(self._clock, ScaledClock):
            body["scale"] = self._clock.scale
        return body

    def handle(self, request: Request) -> Response:
        if not _is_loopback(request.client_ip):
            return _problem(403, "Admin routes answer loopback clients only.")
        route = request.path[len(PREFIX) :].rstrip("/").lower()
        method = request.method
        if route == "counters" and method == "GET":
            return Response.json(200, self._counters().as_dict())
        if route == "exports" and method == "GET":
            return Response.json(200, {"exports": [r.as_dict() for r in self._exports()]})
        if route == "backups" and method == "GET":
            return Response.json(200, {"backups": [r.as_dict() for r in self._backups()]})
        if route == "clock" and method == "GET":
            return Response.json(200, self._clock_body())
        if route == "clock/advance" and method == "POST":
            return self._advance(request)
        return _problem(404, f"No admin route {method} {request.path}.")

    def _advance(self, request: Request) -> Response:
        if not isinstance(self._clock, VirtualClock):
            return _problem(409, "Only a virtual clock can be advanced.")
        try:
            seconds = float(request.query.get("seconds", ""))
        except ValueError:
            return _problem(400, "The seconds query parameter must be a number.")
        if not math.isfinite(seconds) or seconds < 0:
            return _problem(400, "The seconds query parameter must be a finite number >= 0.")
        self._clock.advance(seconds)
        return Response.json(200, self._clock_body())
