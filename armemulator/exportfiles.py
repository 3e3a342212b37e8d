"""The backup files an accepted export writes into its target containers, through their SAS.

Why this module exists: the service streams an export's backup into the containers of
``targetDetails.sasUriList`` with the SAS it was given, so a SAS that is expired, wrongly signed
or short of a permission fails the export, and a succeeded export leaves blobs behind. When a SAS
points at a loopback host (Azurite in the tests), the emulator does the same: it writes a small
stand-in of the backup through that SAS, and a refusal fails the export with storage's own code.
A SAS on any other host is never contacted (nothing may leave the machine): such a container is
treated as written, which is what the emulator did for every SAS before.

**What is written** (the service documents no layout; this one is the emulator's, small and
deterministic), for an export of ``backupName`` on server ``serverName`` given N SAS URIs (at
least ``validateBackup``'s ``numberOfContainers``; the service is told to spread the backup over
them, so every container given receives a part):

* ``{serverName}/{backupName}/data/part-{k:04d}-of-{N:04d}`` in container k (1-based), for
  k = 1..N: ``EmulatorConfig.export_part_bytes`` bytes of deterministic stand-in data, written
  as a block blob with Put Block (blocks of ``BLOCK_BYTES``) and Put Block List, as the service
  writes large files; metadata ``emulated=true`` and ``representsbytes`` (the share of the
  datasource's size this part stands for);
* ``{serverName}/{backupName}/manifest.json`` in container 1, written last with Put Blob (so
  its presence says the backup is complete): the API's ``backupMetadata`` facts plus each
  part's container index, name, bytes written and bytes represented. No SAS, no token.

The server name prefixes the path because one container may receive many servers' exports and a
backup name template need not name the server.

**How**: plain HTTPS with the standard library (``http.client``; the package imports nothing
outside it), one connection per file, every request bounded by
``EmulatorConfig.storage_timeout_seconds``, ``x-ms-version: 2025-11-05`` (Azurite 3.35's own
service version, ``BLOB_API_VERSION`` in its dist/src/blob/utils/constants.js; it refuses a newer
one). TLS trusts ``EmulatorConfig.storage_ca_bundle``, else ``REQUESTS_CA_BUNDLE`` or
``CURL_CA_BUNDLE`` (the variables requests reads, requests/sessions.py
``merge_environment_settings``), else the system's store; read at write time. A hostname is
loopback when it is a loopback IP literal, or "localhost" resolving only to loopback addresses.

**A refusal** (``WriteRefusal``): storage's ``x-ms-error-code`` becomes the export's
``error.code`` as it is (AuthorizationFailure, AuthorizationPermissionMismatch,
AuthenticationFailed, ContainerNotFound, ...), or the ``<Code>`` of the error body; with neither,
the invented ``StorageRequestFailed``; a loopback storage that cannot be reached (connection
refused, reset, timeout, TLS failure) gives the invented ``StorageUnreachable``. The message names
the SAS by its position and its URL without the query, and quotes only the first line of
storage's ``<Message>`` with any of the SAS's query values blanked, so no signature ever reaches
a status body, a log or the ground truth.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

from armemulator.config import EmulatorConfig
from armemulator.errors import STORAGE_REQUEST_FAILED, STORAGE_UNREACHABLE
from armemulator.model import ExportRecord
from armemulator.representations import iso

#: The service version sent as ``x-ms-version``: Azurite 3.35.0's own (it refuses newer ones).
STORAGE_SERVICE_VERSION = "2025-11-05"
#: Bytes per Put Block of a data part.
BLOCK_BYTES = 4096

_ERROR_CODE = re.compile(rb"<Code>([^<]{1,100})</Code>")
_ERROR_MESSAGE = re.compile(rb"<Message>([^<\n]{0,300})")
_BLOB_XML = '<?xml version="1.0" encoding="utf-8"?><BlockList>{}</BlockList>'


@dataclass(frozen=True)
class ExportFile:
    """One blob of an export: where it goes (index in ``sasUriList``), its name and content."""

    container: int
    name: str
    content: bytes
    content_type: str
    #: True = Put Block + Put Block List; False = one Put Blob.
    in_blocks: bool
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class WriteRefusal:
    """Why writing the backup failed: the export's ``error.code`` and ``error.message``."""

    code: str
    message: str
    #: Storage's HTTP status; None when it could not be reached.
    status: int | None = None


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the blobs written (URLs without query, in order) and any refusal."""

    blobs: tuple[str, ...]
    refusal: WriteRefusal | None = None


def is_loopback_host(host: str) -> bool:
    """True for "localhost" and loopback IP addresses (the only hosts the emulator binds)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _resolves_to_loopback_only(host: str, port: int) -> bool:
    """A loopback literal, or "localhost" whose every address is loopback (nothing else is
    contacted, even if a resolver were configured to send "localhost" elsewhere)."""
    if not is_loopback_host(host):
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            return False
        return bool(infos) and all(
            ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_loopback for info in infos
        )
    return True


def is_loopback_sas(uri: str) -> bool:
    """True when ``uri`` is an https URL on a loopback host: the emulator may write through it."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return False
    return _resolves_to_loopback_only(parts.hostname, parts.port or 443)


def plan_files(record: ExportRecord, part_bytes: int) -> list[ExportFile]:
    """The files of ``record``'s backup, in the order they are written (data, then manifest)."""
    count = record.sas_uri_count
    prefix = f"{record.server_name}/{record.backup_name}"
    size = record.datasource_size_bytes
    shares = [size // count + (1 if k < size % count else 0) for k in range(count)]
    files: list[ExportFile] = []
    parts: list[dict[str, object]] = []
    for k in range(count):
        name = f"{prefix}/data/part-{k + 1:04d}-of-{count:04d}"
        seed = hashlib.sha256(f"{record.operation_id}:{k}".encode()).digest()
        content = (seed * (part_bytes // len(seed) + 1))[:part_bytes]
        files.append(
            ExportFile(
                container=k,
                name=name,
                content=content,
                content_type="application/octet-stream",
                in_blocks=True,
                metadata=(("emulated", "true"), ("representsbytes", str(shares[k]))),
            )
        )
        parts.append(
            {"container": k, "name": name, "bytes": part_bytes, "representsBytes": shares[k]}
        )
    manifest = {
        "backupName": record.backup_name,
        "serverName": record.server_name,
        "serverResourceId": record.server_id,
        "backupFormat": record.backup_format or "Raw",
        "backupTime": iso(record.ends_at),
        "operationId": record.operation_id,
        "datasourceSizeInBytes": size,
        "numberOfContainers": count,
        "parts": parts,
        "writtenBy": "armemulator: each part is a small stand-in for its share of the data",
    }
    files.append(
        ExportFile(
            container=0,
            name=f"{prefix}/manifest.json",
            content=json.dumps(manifest, indent=2).encode("utf-8"),
            content_type="application/json",
            in_blocks=False,
            metadata=(("emulated", "true"),),
        )
    )
    return files


def _redacted(uri: str) -> str:
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{netloc}{parts.path}"


def _scrub(text: str, uri: str) -> str:
    """``text`` with every query value of ``uri`` (the signature above all) blanked."""
    for _, value in parse_qsl(urlsplit(uri).query, keep_blank_values=True):
        for form in {value, quote(value, safe="")}:
            if len(form) >= 4:
                text = text.replace(form, "***")
    return text


class _Refused(Exception):
    def __init__(self, refusal: WriteRefusal) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal


class ExportWriter:
    """Writes an export's files through its loopback SAS URIs (see the module docstring)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config

    def _tls(self) -> ssl.SSLContext:
        bundle = (
            self._config.storage_ca_bundle
            or os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
        )
        if bundle and os.path.isdir(bundle):
            return ssl.create_default_context(capath=bundle)
        return ssl.create_default_context(cafile=bundle or None)

    def write(self, record: ExportRecord, sas_uris: tuple[str, ...]) -> WriteResult | None:
        """Write ``record``'s files; None when no SAS is on loopback (nothing contacted).

        Stops at the first refusal: the blobs written before it stay (as a failed export's
        partial files would), the manifest is not written.
        """
        if not self._config.storage_writes:
            return None
        loopback = [is_loopback_sas(uri) for uri in sas_uris]
        if not any(loopback):
            return None
        context = self._tls()
        written: list[str] = []
        for file in plan_files(record, self._config.export_part_bytes):
            if file.container >= len(sas_uris) or not loopback[file.container]:
                continue
            uri = sas_uris[file.container]
            try:
                self._write_file(context, uri, file)
            except _Refused as refused:
                return WriteResult(tuple(written), refused.refusal)
            written.append(f"{_redacted(uri)}/{file.name}")
        return WriteResult(tuple(written))

    def _write_file(self, context: ssl.SSLContext, uri: str, file: ExportFile) -> None:
        parts = urlsplit(uri)
        base = f"{parts.path.rstrip('/')}/{quote(file.name)}?{parts.query}"
        meta = {f"x-ms-meta-{k}": v for k, v in file.metadata}
        connection = http.client.HTTPSConnection(
            str(parts.hostname),
            parts.port or 443,
            timeout=self._config.storage_timeout_seconds,
            context=context,
        )
        try:
            if not file.in_blocks:
                headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": file.content_type}
                self._put(connection, base, file.content, {**headers, **meta}, uri=uri, file=file)
                return
            ids: list[str] = []
            for start in range(0, max(1, len(file.content)), BLOCK_BYTES):
                block_id = base64.b64encode(f"block-{len(ids):06d}".encode()).decode("ascii")
                chunk = file.content[start : start + BLOCK_BYTES]
                target = f"{base}&comp=block&blockid={quote(block_id, safe='')}"
                self._put(connection, target, chunk, {}, uri=uri, file=file)
                ids.append(block_id)
            body = _BLOB_XML.format("".join(f"<Latest>{i}</Latest>" for i in ids))
            headers = {
                "Content-Type": "application/xml",
                "x-ms-blob-content-type": file.content_type,
            }
            blocklist = f"{base}&comp=blocklist"
            self._put(connection, blocklist, body.encode(), {**headers, **meta}, uri=uri, file=file)
        finally:
            connection.close()

    @staticmethod
    def _put(
        connection: http.client.HTTPSConnection,
        target: str,
        body: bytes,
        headers: dict[str, str],
        *,
        uri: str,
        file: ExportFile,
    ) -> None:
        where = f"targetDetails.sasUriList[{file.container}] ({_redacted(uri)})"
        try:
            connection.request(
                "PUT",
                target,
                body=body,
                headers={"x-ms-version": STORAGE_SERVICE_VERSION, **headers},
            )
            response = connection.getresponse()
            answer = response.read(64 * 1024)
        except (OSError, http.client.HTTPException) as err:
            reason = _scrub(f"{type(err).__name__}: {err}", uri)
            raise _Refused(
                WriteRefusal(
                    STORAGE_UNREACHABLE,
                    f"The backup could not be written to {where}: the storage account could "
                    f"not be reached ({reason}).",
                )
            ) from err
        if response.status < 300:
            return
        code = response.getheader("x-ms-error-code")
        if not code:
            found = _ERROR_CODE.search(answer)
            code = found.group(1).decode("utf-8", "replace").strip() if found else ""
        found_message = _ERROR_MESSAGE.search(answer)
        said = found_message.group(1).decode("utf-8", "replace").strip() if found_message else ""
        said = _scrub(said, uri)
        raise _Refused(
            WriteRefusal(
                code or STORAGE_REQUEST_FAILED,
                f"The backup could not be written to {where}: storage answered "
                f"{response.status} {code or response.reason} to writing '{file.name}'"
                + (f": {said}" if said else "."),
                response.status,
            )
        )
