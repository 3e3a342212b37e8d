"""A throwaway certificate authority and a loopback server certificate, for local TLS.

The official Azure SDK sends a bearer token over https only, and Azurite takes OAuth only over
https, so the ARM emulator and Azurite serve TLS in the tests, the bench and the demo: each gets
a certificate for 127.0.0.1 and localhost from a CA made here with trustme, and every client
trusts ``ca_bundle`` (``REQUESTS_CA_BUNDLE``, or ``verify=``/``connection_verify=``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA to trust, the server's certificate chain and its private key."""

    ca_bundle: Path
    cert: Path
    key: Path


def make_tls_files(folder: Path) -> TlsFiles:
    """A new CA and a certificate for 127.0.0.1 and localhost, written to ``folder``."""
    import trustme  # noqa: PLC0415 - a development dependency, as this module is tooling

    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    ca.cert_pem.write_to_path(str(files.ca_bundle))
    files.cert.write_bytes(b"".join(pem.bytes() for pem in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(files.key))
    return files


@contextmanager
def temporary_tls_files(prefix: str = "tls-") -> Iterator[TlsFiles]:
    """``make_tls_files`` in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield make_tls_files(Path(folder))
