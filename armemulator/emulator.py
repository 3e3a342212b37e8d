"""``Emulator``: assemble the parts, serve them on loopback, and expose the in-process API.

Why this module exists: tests and benchmarks want one object to start an emulator, point a client
at it (``url``, ``token_endpoint``, ``identity_header``), steer it while it runs (clock, faults,
pause, servers, polling host, how backups are answered) and read what happened (``counters()``,
``exports()``, ``backups()``). This module only wires the other modules together; it holds no ARM
rules of its own.

Hosts it serves: the host:port of ``url`` and of ``config.public_base``. Any other ``Host`` header
(``localhost:PORT`` included, which is how tests fake a foreign polling host with
``set_polling_base``) is still answered but counted in ``counters().foreign_host_requests``, so a
test can prove a client never sent its token anywhere else.
"""

from __future__ import annotations

import os
import secrets
import ssl
import threading
from types import TracebackType
from urllib.parse import urlsplit

from armemulator.admin import AdminRoutes
from armemulator.app import IDENTITY_PATH, Application
from armemulator.auth import TokenAuthority
from armemulator.backups import BackupRecord
from armemulator.clock import Clock
from armemulator.config import (
    DEFAULT_AUDIENCE,
    DEFAULT_BACKUPS_PAUSED_ERROR,
    DEFAULT_PAUSED_ERROR,
    BackupAnswer,
    EmulatorConfig,
    PausedError,
)
from armemulator.counters import Counters, RequestCounters
from armemulator.errors import NotStartedError
from armemulator.exportfiles import ExportWriter, is_loopback_host
from armemulator.faults import FaultInjector, Faults
from armemulator.fleet import ServerSpec, default_fleet
from armemulator.handlers import ArmOperations, LiveSettings
from armemulator.identity import IdentityEndpoint
from armemulator.model import ExportRecord, FleetModel
from armemulator.oplinks import LinkSigner
from armemulator.server import EmulatorHTTPServer
from armemulator.throttle import BucketSpec, SubscriptionThrottle


def _netloc(url: str) -> str:
    return urlsplit(url).netloc.lower()


class Emulator:
    """An ARM emulator for Microsoft.DBforMySQL flexible servers' backupAndExport and on-demand
    backups (backupsV2)."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        cfg = self.config
        if bool(cfg.tls_cert) != bool(cfg.tls_key):
            raise ValueError("tls_cert and tls_key must be given together")
        if not is_loopback_host(cfg.host):
            raise ValueError(f"the emulator binds loopback addresses only, not {cfg.host!r}")
        self.clock: Clock = cfg.clock
        env_secret = os.environ.get("IDENTITY_HEADER")
        self._identity_header_generated = not (cfg.identity_header or env_secret)
        self._identity_header = cfg.identity_header or env_secret or secrets.token_urlsafe(24)
        self._authority = TokenAuthority(
            audience=cfg.audience,
            tenant_id=cfg.tenant_id,
            principal_id=cfg.principal_id,
            system_client_id=cfg.system_client_id,
            lifetime_seconds=cfg.token_lifetime_seconds,
        )
        fleet = cfg.fleet if cfg.fleet is not None else default_fleet()
        self._model = FleetModel(cfg, self.clock, fleet)
        self._live = LiveSettings(
            polling_base=cfg.polling_base,
            paused=cfg.paused,
            backups_paused=cfg.backups_paused,
            backup_answer=cfg.backup_answer,
        )
        self._counters = RequestCounters()
        self._injector = FaultInjector(cfg.faults, cfg.seed)
        operations = ArmOperations(
            config=cfg,
            clock=self.clock,
            model=self._model,
            signer=LinkSigner(secrets.token_bytes(32)),
            live=self._live,
            created_at=self.clock.now(),
            writer=ExportWriter(cfg),
        )
        self._served_hosts: frozenset[str] = frozenset()
        self._app = Application(
            clock=self.clock,
            operations=operations,
            authority=self._authority,
            identity=IdentityEndpoint(self._authority, self._identity_header),
            admin=AdminRoutes(self.clock, self.counters, self.exports, self.backups),
            throttle=SubscriptionThrottle(
                self.clock,
                reads=BucketSpec(cfg.read_burst, cfg.read_refill_per_second),
                writes=BucketSpec(cfg.write_burst, cfg.write_refill_per_second),
                enabled=cfg.throttling,
            ),
            injector=self._injector,
            counters=self._counters,
            served_hosts=lambda: self._served_hosts,
        )
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind and serve on a daemon thread; returns self."""
        if self._server is not None:
            return self
        cfg = self.config
        context: ssl.SSLContext | None = None
        if cfg.tls_cert and cfg.tls_key:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cfg.tls_cert, cfg.tls_key)
        server = EmulatorHTTPServer(
            (cfg.host, cfg.port),
            self._app,
            ssl_context=context,
            idle_timeout=cfg.idle_timeout_seconds,
            max_body_bytes=cfg.max_body_bytes,
        )
        port = int(server.server_address[1])
        host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        self._url = f"{'https' if context else 'http'}://{host}:{port}"
        self._live.public_base = (cfg.public_base or self._url).rstrip("/")
        self._served_hosts = frozenset({_netloc(self._url), _netloc(self._live.public_base)})
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"armemulator:{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- addresses and identity -------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with TLS)."""
        if self._url is None:
            raise NotStartedError("the emulator has no address until start()")
        return self._url

    @property
    def token_endpoint(self) -> str:
        """The managed-identity endpoint (set it as IDENTITY_ENDPOINT)."""
        return f"{self.url}{IDENTITY_PATH}"

    @property
    def identity_header(self) -> str:
        """The secret clients send as X-IDENTITY-HEADER (set it as IDENTITY_HEADER)."""
        return self._identity_header

    @property
    def identity_header_generated(self) -> bool:
        """True when the secret was generated here (not from config or the environment)."""
        return self._identity_header_generated

    def issue_token(
        self,
        resource: str = DEFAULT_AUDIENCE,
        client_id: str | None = None,
        *,
        object_id: str | None = None,
        lifetime_seconds: float | None = None,
    ) -> str:
        """A bearer token as the token endpoint would mint it (negative lifetime = expired)."""
        return self._authority.issue(
            resource, client_id=client_id, object_id=object_id, lifetime_seconds=lifetime_seconds
        ).access_token

    # --- observation ------------------------------------------------------------------------

    def counters(self) -> Counters:
        raw = self._counters.snapshot()
        concurrency = self._model.concurrency()
        backups = self._model.backup_concurrency()
        return Counters(
            requests=raw["requests"],
            requests_by_server=raw["requests_by_server"],
            responses=raw["responses"],
            throttled=raw["throttled"],
            faults=self._injector.counts(),
            exports_running=concurrency.running,
            peak_exports_running=concurrency.peak,
            peak_exports_running_by_server=concurrency.peak_by_server,
            exports_accepted=concurrency.accepted,
            duplicate_exports=concurrency.duplicates,
            foreign_host_requests=raw["foreign_host_requests"],
            tokens_issued=raw["tokens_issued"],
            unauthorized=raw["unauthorized"],
            backups_running=backups.running,
            peak_backups_running=backups.peak,
            peak_backups_running_by_server=backups.peak_by_server,
            backups_accepted=backups.accepted,
            duplicate_backups=backups.duplicates,
        )

    def exports(self) -> list[ExportRecord]:
        """Ground truth: every export accepted (and every duplicate answered), in order."""
        return self._model.exports()

    def backups(self) -> list[BackupRecord]:
        """Ground truth: every on-demand backup accepted by a PUT, in order (a repeat of a name
        answered from its backup adds none; see ``counters().duplicate_backups``)."""
        return self._model.backups()

    def servers(self) -> list[ServerSpec]:
        """The current fleet, ordered by resource id."""
        return self._model.servers()

    # --- steering ---------------------------------------------------------------------------

    def add_server(self, spec: ServerSpec) -> None:
        """Add a server, or replace an existing one's description (e.g. to change its state)."""
        self._model.add_server(spec)

    def remove_server(self, resource_id: str) -> bool:
        """Remove a server; True if it existed."""
        return self._model.remove_server(resource_id)

    @property
    def faults(self) -> Faults:
        return self._injector.faults

    def set_faults(self, faults: Faults) -> None:
        self._injector.set_faults(faults)

    def set_paused(self, error: PausedError | None = DEFAULT_PAUSED_ERROR) -> None:
        """Pause backupAndExport with ``error`` (status, code, message); None resumes."""
        self._live.paused = error

    def set_backups_paused(self, error: PausedError | None = DEFAULT_BACKUPS_PAUSED_ERROR) -> None:
        """Refuse every backupsV2 create with ``error`` (status, code, message); None accepts."""
        self._live.backups_paused = error

    def set_backup_answer(self, answer: BackupAnswer) -> None:
        """Answer backupsV2 creates from now on as ``answer`` says (a running backup's repeat
        keeps the answer its backup was accepted with)."""
        self._live.backup_answer = BackupAnswer(answer)

    def set_polling_base(self, url: str | None) -> None:
        """Hand out polling URLs on ``url`` (e.g. a foreign host); None = the public base."""
        self._live.polling_base = url.rstrip("/") if url else None
