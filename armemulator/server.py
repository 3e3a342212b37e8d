"""The HTTP/1.1 transport: sockets, TLS, keep-alive, bodies, and dropping connections on purpose.

Why this module exists: clients talk to the emulator exactly as to Azure - HTTP/1.1 with
keep-alive and pooled connections, optionally over TLS - so the transport must be correct at the
byte level (a ``Content-Length`` on every response, request bodies read fully so the next request
on the connection parses, chunked request bodies understood). It must also misbehave on demand:
an injected "connection reset" closes the socket with ``SO_LINGER`` 0 so the peer sees a TCP RST
and no response. Everything about ARM is delegated to ``app.Application``.

Built on the standard library: ``ThreadingHTTPServer`` (one thread per connection), ``ssl`` with
the TLS handshake done in the connection's thread so a slow client cannot stall ``accept``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import ssl
import struct
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from armemulator.app import Application
from armemulator.errors import ArmError
from armemulator.wire import JSON_CONTENT_TYPE, Request, Response

logger = logging.getLogger(__name__)

#: Errors of a connection that just ended (peer reset, idle timeout, failed TLS handshake).
_QUIET_ERRORS = (OSError,)

#: Oversized bodies up to this size are read and discarded before the 413 answer.
_DRAIN_LIMIT = 64 * 1024 * 1024


class _BodyError(Exception):
    """The request body could not be read; the connection must be closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that tracks its connections so ``stop`` can drop them."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        app: Application,
        *,
        ssl_context: ssl.SSLContext | None,
        idle_timeout: float,
        max_body_bytes: int,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.ssl_context = ssl_context
        self.idle_timeout = idle_timeout
        self.max_body_bytes = max_body_bytes
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        with self._connections_lock:
            self._connections.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close every open connection (used by ``Emulator.stop``)."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Called from the except block of process_request_thread: the error is in flight.
        error = sys.exc_info()[1]
        if isinstance(error, _QUIET_ERRORS):
            logger.debug("connection from %s ended: %r", client_address, error)
        else:
            logger.exception("unexpected error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: Buffer the whole response and send it in one write (flushed by handle_one_request):
    #: separate small writes for headers and body meet delayed ACKs and cost ~40 ms each.
    wbufsize = 64 * 1024
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def handle_expect_100(self) -> bool:
        answer = super().handle_expect_100()
        self.wfile.flush()  # the buffered interim answer must leave before the body arrives
        return answer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    # --- request ----------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        limit = self.server.max_body_bytes
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError as err:
            raise _BodyError(400, "Content-Length is not a number.") from err
        if length < 0:
            raise _BodyError(400, "Content-Length is negative.")
        if length > limit:
            if length <= _DRAIN_LIMIT:  # read it anyway so the client gets to see the answer
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(65536, remaining))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            raise _BodyError(413, f"The request body exceeds {limit} bytes.")
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as err:
                raise _BodyError(400, "Malformed chunked body.") from err
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > limit:
                raise _BodyError(413, f"The request body exceeds {limit} bytes.")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _request(self, body: bytes) -> Request:
        split = urlsplit(self.path)
        query: dict[str, str] = {}
        for name, value in parse_qsl(split.query, keep_blank_values=True):
            query.setdefault(name.lower(), value)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), value)
        return Request(
            method=self.command,
            path=split.path or "/",
            query=query,
            headers=headers,
            body=body,
            client_ip=str(self.client_address[0]),
        )

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _BodyError as err:
            self.close_connection = True
            problem = ArmError(err.status, "InvalidRequestContent", str(err))
            self._write(Response(err.status, {"Content-Type": JSON_CONTENT_TYPE}, problem.body()))
            return
        try:
            response = self.server.app.handle(self._request(body))
        except Exception:
            logger.exception(
                "unhandled error answering %s %s", self.command, urlsplit(self.path).path
            )
            problem = ArmError(500, "InternalServerError", "The emulator failed unexpectedly.")
            response = Response(500, {"Content-Type": JSON_CONTENT_TYPE}, problem.body())
        if response.reset:
            self._reset()
        else:
            self._write(response)

    # --- response ---------------------------------------------------------------------------

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        headers = response.headers
        if "x-ms-request-id" not in headers:
            headers = {**headers, "x-ms-request-id": str(uuid.uuid4())}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)

    def _reset(self) -> None:
        """Abort the connection: RST instead of FIN, and no response at all."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The socket closes for real (sending the RST) once its file objects are closed too:
        # rfile now, wfile in finish() right after this request (it has nothing buffered).
        with contextlib.suppress(OSError):
            self.rfile.close()
        with contextlib.suppress(OSError):
            self.connection.close()
