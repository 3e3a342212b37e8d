"""Azurite, Microsoft's storage emulator, installed from the npm registry and run on loopback.

Why this module exists: the app mints user-delegation SAS and writes its report files with
azure-storage-blob exactly as in Azure, and the tests and ``make demo`` need a real Blob service
that speaks the same protocol. Azurite is that service; this module pins it, installs it, starts
its blob service with OAuth over HTTPS (a user delegation key is only handed out to a bearer
token, and Azurite refuses a bearer token over plain HTTP), and stops it.

What it runs, and why each flag (Azurite 3.35.0, ``azurite-blob --help`` and its README):

* ``tools/azurite/package.json`` + ``package-lock.json`` pin ``azurite`` at 3.35.0, the last
  release whose engines accept Node 20 (3.36 needs Node 21, 3.37 Node 22). ``npm ci`` installs
  exactly the lockfile into ``tools/azurite/node_modules`` (``--ignore-scripts``: no dependency
  runs code at install time; Azurite needs none).
* ``--blobHost 127.0.0.1 --blobPort <free port>``: loopback only.
* ``--oauth basic``: bearer tokens are accepted; in basic mode Azurite decodes the JWT without
  checking its signature and checks ``nbf``/``iat``/``exp``, the issuer's prefix and the
  audience (node_modules/azurite/dist/src/blob/authentication/BlobTokenAuthenticator.js).
* ``--cert``/``--key``: a throwaway CA and a server certificate for 127.0.0.1 and localhost made
  with trustme in a temporary folder; clients trust ``ca_bundle``.
* ``--skipApiVersionCheck`` is NOT passed by default (``skip_api_version_check=True`` adds
  it). Azurite refuses an ``x-ms-version`` newer than its own (2025-11-05 for 3.35.0,
  ``BLOB_API_VERSION`` in dist/src/blob/utils/constants.js) with ``InvalidHeaderValue``. The
  pinned azure-storage-blob 12.27.1 speaks exactly 2025-11-05, so it needs no skip (measured);
  left on, the check makes a newer SDK fail loudly instead of being half-served (12.28.0's SAS
  passes only with the skip, 12.29.0's fails its signature check either way; requirements.txt).
* ``--disableTelemetry``: ALWAYS. By default Azurite sends telemetry to Application Insights
  over the internet (dist/src/blob/main.js: ``AzuriteTelemetryClient.init(location,
  !env.disableTelemetry(), env)``); nothing here may send traffic off the machine.
* ``--inMemoryPersistence``: nothing on disk (Azurite refuses it together with ``--location``,
  measured, so the process runs in the temporary folder instead), with ``--extentMemoryLimit``
  bounding the blob data it keeps (its default is half the machine's memory).
* ``--loose`` is not passed: nothing the app sends needs it.

The account is Azurite's well-known development account, ``devstoreaccount1`` with its published
key (``ACCOUNT_KEY``). The key is for test setup only (creating containers); the app reaches
storage with its managed identity's bearer token and nothing else.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import requests

from devhost.errors import DevHostError
from devhost.tls import TlsFiles, make_tls_files

ROOT = Path(__file__).resolve().parents[1]
#: Where package.json and package-lock.json pin Azurite, and where npm installs it.
TOOL_DIR = ROOT / "tools" / "azurite"
#: The version package.json pins (checked against the installed package on start).
VERSION = "3.35.0"
#: Written after a successful ``npm ci``: the SHA-256 of the lockfile it installed. ``make test``
#: uses the same file as its prerequisite.
STAMP_NAME = ".installed"

#: Azurite's well-known development account (its README, "Default Storage Account").
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

#: How long ``npm ci`` may take (it downloads about 370 packages).
INSTALL_TIMEOUT_SECONDS = 600.0
#: How long Azurite may take to answer after it was started (about a second when idle).
START_TIMEOUT_SECONDS = 60.0
#: How long a stop waits after SIGTERM before SIGKILL, and after SIGKILL.
STOP_GRACE_SECONDS = 10.0
#: The blob data Azurite may hold in memory (``--extentMemoryLimit``, MB).
EXTENT_MEMORY_LIMIT_MB = 512

_LOG_TAIL_CHARS = 4000


class AzuriteError(DevHostError, RuntimeError):
    """Azurite could not be installed, started or reached; the message says what to do."""


def _lock_digest(tool_dir: Path) -> str:
    return hashlib.sha256((tool_dir / "package-lock.json").read_bytes()).hexdigest()


def stamp_path(tool_dir: Path = TOOL_DIR) -> Path:
    return tool_dir / "node_modules" / STAMP_NAME


def is_installed(tool_dir: Path = TOOL_DIR) -> bool:
    """True when ``npm ci`` completed for the lockfile as it is now."""
    stamp = stamp_path(tool_dir)
    try:
        return stamp.read_text(encoding="ascii").strip() == _lock_digest(tool_dir)
    except (FileNotFoundError, UnicodeDecodeError):
        return False


@contextlib.contextmanager
def _install_lock(tool_dir: Path) -> Iterator[None]:
    """One install at a time per checkout: test sessions and ``make`` may start together."""
    with (tool_dir / ".install.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _LOG_TAIL_CHARS else "..." + text[-_LOG_TAIL_CHARS:]


def install(
    tool_dir: Path = TOOL_DIR, *, timeout: float = INSTALL_TIMEOUT_SECONDS, force: bool = False
) -> Path:
    """Install the pinned Azurite with ``npm ci`` unless it is installed; its folder.

    Raises ``AzuriteError`` naming the cause when npm is missing, fails or takes longer than
    ``timeout`` seconds (an unreachable registry, a Node.js too old).
    """
    with _install_lock(tool_dir):
        if is_installed(tool_dir) and not force:
            return tool_dir / "node_modules" / "azurite"
        npm = shutil.which("npm")
        if npm is None:
            raise AzuriteError(
                "npm is not on PATH: install Node.js 20 and npm to run Azurite "
                f"(pinned in {tool_dir / 'package.json'})"
            )
        command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"]
        try:
            done = subprocess.run(  # noqa: S603 - a fixed command, no shell
                command,
                cwd=tool_dir,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise AzuriteError(
                f"`npm ci` in {tool_dir} did not finish within {timeout:.0f} s "
                "(is the npm registry reachable?)"
            ) from err
        if done.returncode != 0:
            raise AzuriteError(
                f"`npm ci` in {tool_dir} failed with exit code {done.returncode} "
                f"(is the npm registry reachable, is Node.js 20 installed?):\n"
                f"{_tail(done.stderr or done.stdout)}"
            )
        stamp_path(tool_dir).write_text(_lock_digest(tool_dir) + "\n", encoding="ascii")
        return tool_dir / "node_modules" / "azurite"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Azurite:
    """Azurite's blob service on loopback with OAuth and HTTPS, as a context manager.

    ``blob_endpoint`` is ``https://127.0.0.1:{port}/devstoreaccount1``; clients trust
    ``ca_bundle`` (``REQUESTS_CA_BUNDLE`` or ``connection_verify``). Stopping removes every file
    it made.
    """

    def __init__(
        self,
        *,
        tool_dir: Path = TOOL_DIR,
        host: str = "127.0.0.1",
        start_timeout: float = START_TIMEOUT_SECONDS,
        extent_memory_limit_mb: int = EXTENT_MEMORY_LIMIT_MB,
        skip_api_version_check: bool = False,
    ) -> None:
        if host != "127.0.0.1":
            raise ValueError("Azurite is served on 127.0.0.1 only")
        self._tool_dir = tool_dir
        self._host = host
        self._start_timeout = start_timeout
        self._extent_limit = extent_memory_limit_mb
        self._skip_api_version_check = skip_api_version_check
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: Path | None = None
        self._tls: TlsFiles | None = None
        self._port: int | None = None
        self.account_name = ACCOUNT_NAME
        self.account_key = ACCOUNT_KEY

    # -- what clients need ------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise AzuriteError("Azurite is not running")
        return self._port

    @property
    def blob_endpoint(self) -> str:
        """The account's blob endpoint, path-style as Azurite serves it."""
        return f"https://{self._host}:{self.port}/{ACCOUNT_NAME}"

    @property
    def ca_bundle(self) -> Path:
        """The PEM file of the CA that signed Azurite's certificate."""
        if self._tls is None:
            raise AzuriteError("Azurite is not running")
        return self._tls.ca_bundle

    def container_url(self, name: str) -> str:
        return f"{self.blob_endpoint}/{name}"

    @property
    def log_path(self) -> Path:
        if self._folder is None:
            raise AzuriteError("Azurite is not running")
        return self._folder / "azurite.log"

    def log_tail(self) -> str:
        try:
            return _tail(self.log_path.read_text(encoding="utf-8", errors="replace"))
        except (AzuriteError, FileNotFoundError):
            return ""

    # -- lifecycle ----------------------------------------------------------------------------

    def _command(self, node: str, port: int, tls: TlsFiles) -> list[str]:
        main = self._tool_dir / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
        command = [
            node,
            str(main),
            "--blobHost",
            self._host,
            "--blobPort",
            str(port),
            "--oauth",
            "basic",
            "--cert",
            str(tls.cert),
            "--key",
            str(tls.key),
            "--disableTelemetry",
            "--inMemoryPersistence",
            "--extentMemoryLimit",
            str(self._extent_limit),
        ]
        if self._skip_api_version_check:
            command.append("--skipApiVersionCheck")
        return command

    def _check_version(self) -> None:
        package = self._tool_dir / "node_modules" / "azurite" / "package.json"
        found = json.loads(package.read_text(encoding="utf-8")).get("version")
        if found != VERSION:
            raise AzuriteError(f"Azurite {found} is installed, {VERSION} is pinned: reinstall it")

    def start(self) -> Azurite:
        if self._process is not None:
            raise AzuriteError("Azurite is already running")
        install(self._tool_dir)
        self._check_version()
        node = shutil.which("node")
        if node is None:
            raise AzuriteError("node is not on PATH: install Node.js 20 to run Azurite")
        self._folder = Path(tempfile.mkdtemp(prefix="azurite-"))
        try:
            self._tls = make_tls_files(self._folder)
            self._port = _free_port(self._host)
            # Azurite reads AZURITE_ACCOUNTS (and other AZURITE_*) from the environment: keep a
            # developer's own settings from changing the account the tests rely on.
            env = {k: v for k, v in os.environ.items() if not k.upper().startswith("AZURITE")}
            with self.log_path.open("wb") as log:
                self._process = subprocess.Popen(  # noqa: S603 - a fixed command, no shell
                    self._command(node, self._port, self._tls),
                    cwd=self._folder,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self) -> None:
        """Until Azurite answers an HTTPS request (any status: it is serving), bounded."""
        assert self._process is not None and self._tls is not None
        deadline = time.monotonic() + self._start_timeout
        url = f"{self.blob_endpoint}?restype=service&comp=properties"
        while True:
            if self._process.poll() is not None:
                raise AzuriteError(
                    f"Azurite exited with code {self._process.returncode} on start:\n"
                    f"{self.log_tail()}"
                )
            try:
                requests.get(url, verify=str(self._tls.ca_bundle), timeout=5)
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise AzuriteError(
                        f"Azurite did not answer on {self.blob_endpoint} within "
                        f"{self._start_timeout:.0f} s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.1)
            else:
                return

    @property
    def pid(self) -> int:
        if self._process is None:
            raise AzuriteError("Azurite is not running")
        return self._process.pid

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Terminate Azurite (then kill it) and delete its files; safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_GRACE_SECONDS)
        folder, self._folder = self._folder, None
        self._tls = None
        self._port = None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m devhost.azurite install|run``."""
    parser = argparse.ArgumentParser(
        prog="python -m devhost.azurite", description="Azurite (blob), pinned, on loopback."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    do_install = commands.add_parser("install", help="install the pinned Azurite (npm ci)")
    do_install.add_argument("--force", action="store_true", help="reinstall even if installed")
    commands.add_parser("run", help="run Azurite's blob service until interrupted")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            path = install(force=args.force)
            print(f"azurite {VERSION} installed in {path}")
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with Azurite() as azurite:
            print(f"blob endpoint: {azurite.blob_endpoint}")
            print(f"CA bundle:     {azurite.ca_bundle}")
            print(f"account:       {azurite.account_name} (well-known key, setup only)")
            print("Ctrl-C stops it.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(1.0):
                    if not azurite.is_running():
                        print(f"Azurite exited:\n{azurite.log_tail()}", file=sys.stderr)
                        return 1
        return 0
    except AzuriteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
