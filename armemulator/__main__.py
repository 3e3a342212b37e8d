"""Command line: run an emulator in its own process until SIGINT or SIGTERM.

Why this module exists: the local Functions host and benchmark drivers run in other processes and
need an emulator they can start from a script, and a person trying the app needs one too. It
prints one JSON line first - ``url``, ``token_endpoint`` and, only when it generated the secret,
``identity_header`` - so a script can read where to point ``IDENTITY_ENDPOINT`` /
``IDENTITY_HEADER`` and the ARM base URL; then, for a person, ``announce.announcement``: those
settings, the subscriptions, resource groups and servers it serves, and a request body to try.

    python -m armemulator --port 8443 --tls-cert cert.pem --tls-key key.pem --time-scale 60
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from armemulator.announce import announcement
from armemulator.clock import Clock, ScaledClock, VirtualClock, WallClock
from armemulator.config import (
    DEFAULT_BACKUP_LIMIT,
    DEFAULT_BACKUPS_PAUSED_ERROR,
    DEFAULT_PAUSED_ERROR,
    BackupAnswer,
    BackupNaming,
    EmulatorConfig,
    Resubmission,
)
from armemulator.emulator import Emulator
from armemulator.exportfiles import is_loopback_host
from armemulator.fleet import make_fleet


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m armemulator",
        description="ARM emulator for Microsoft.DBforMySQL flexible servers' backupAndExport "
        "and on-demand backups (backupsV2).",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--tls-cert", help="PEM certificate (with --tls-key: serve HTTPS)")
    parser.add_argument("--tls-key", help="PEM private key")
    parser.add_argument("--seed", type=int, default=0, help="seed of all randomness")
    timing = parser.add_mutually_exclusive_group()
    timing.add_argument(
        "--time-scale", type=float, help="emulated time runs this many times faster than real"
    )
    timing.add_argument(
        "--virtual",
        action="store_true",
        help="virtual clock, moved only by POST /_emulator/clock/advance?seconds=N",
    )
    parser.add_argument(
        "--no-async-operation-header",
        action="store_true",
        help="send only Location on 202 (as the 2024-12-30 contract declares)",
    )
    parser.add_argument("--paused", action="store_true", help="refuse backupAndExport as paused")
    parser.add_argument(
        "--retry-after", type=float, default=10.0, help="Retry-After of 202s and polls (seconds)"
    )
    parser.add_argument(
        "--fleet-size", type=int, help="serve make_fleet(N, seed) instead of the default fleet"
    )
    parser.add_argument("--page-size", type=int, default=100, help="servers per list page")
    parser.add_argument("--no-throttling", action="store_true", help="disable ARM throttling")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of exports that fail")
    parser.add_argument(
        "--resubmission",
        choices=[m.value for m in Resubmission],
        default=Resubmission.CONFLICT_THEN_RESULT.value,
        help="how a repeat of an accepted backup name is answered: 409 then 200 with the "
        "result (default), 202 again (a second export), or 400 DuplicateBackupName",
    )
    backups = parser.add_argument_group("on-demand backups (backupsV2)")
    backups.add_argument(
        "--backup-answer",
        choices=[a.value for a in BackupAnswer],
        default=BackupAnswer.LOCATION.value,
        help="how a create is answered: 202 Location (default, the spec example's), 202 "
        "Azure-AsyncOperation, 201 Creating, or 200 done",
    )
    backups.add_argument(
        "--backup-names",
        choices=[n.value for n in BackupNaming],
        default=BackupNaming.AS_ASKED.value,
        help="name backups as asked (default) or customer_<time>_<guid>_<name>",
    )
    backups.add_argument(
        "--backup-ready-state",
        action="store_true",
        help='provisioningState "Ready" instead of "Succeeded" when done (as the examples)',
    )
    backups.add_argument(
        "--backup-limit",
        type=int,
        default=DEFAULT_BACKUP_LIMIT,
        help="on-demand backups a server may hold (default %(default)s)",
    )
    backups.add_argument(
        "--backups-paused", action="store_true", help="refuse every backupsV2 create"
    )
    parser.add_argument(
        "--forbidden-scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="answer every call under /subscriptions/ID or /subscriptions/ID/resourceGroups/NAME "
        "403 AuthorizationFailed (repeatable)",
    )
    parser.add_argument(
        "--extra-scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="a subscription or resource group that exists without servers (repeatable)",
    )
    storage = parser.add_argument_group("the export's files (SAS URIs on loopback, e.g. Azurite)")
    storage.add_argument(
        "--storage-ca-bundle",
        metavar="PEM",
        help="CA bundle trusted when writing an export's files (default: REQUESTS_CA_BUNDLE, "
        "else CURL_CA_BUNDLE, else the system's)",
    )
    storage.add_argument(
        "--no-storage-writes",
        action="store_true",
        help="never write an export's files, even through a SAS URI on loopback",
    )
    return parser


def _clock(args: argparse.Namespace) -> Clock:
    if args.virtual:
        return VirtualClock()
    if args.time_scale is not None:
        return ScaledClock(args.time_scale)
    return WallClock()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not is_loopback_host(args.host):
        print(f"refusing to bind non-loopback host {args.host!r}", file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("--tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    try:
        config = EmulatorConfig(
            host=args.host,
            port=args.port,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            seed=args.seed,
            clock=_clock(args),
            async_operation_header=not args.no_async_operation_header,
            paused=DEFAULT_PAUSED_ERROR if args.paused else None,
            retry_after_seconds=args.retry_after,
            fleet=make_fleet(args.fleet_size, args.seed) if args.fleet_size is not None else None,
            page_size=args.page_size,
            throttling=not args.no_throttling,
            fail_rate=args.fail_rate,
            resubmission=Resubmission(args.resubmission),
            forbidden_scopes=frozenset(args.forbidden_scope),
            backup_answer=BackupAnswer(args.backup_answer),
            backup_names=BackupNaming(args.backup_names),
            backup_succeeded_state="Ready" if args.backup_ready_state else "Succeeded",
            backup_limit=args.backup_limit,
            backups_paused=DEFAULT_BACKUPS_PAUSED_ERROR if args.backups_paused else None,
            extra_scopes=frozenset(args.extra_scope),
            storage_ca_bundle=args.storage_ca_bundle,
            storage_writes=not args.no_storage_writes,
        )
    except ValueError as err:  # a malformed scope, a negative backup limit
        print(err, file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with Emulator(config) as emu:
        line = {"url": emu.url, "token_endpoint": emu.token_endpoint}
        if emu.identity_header_generated:
            line["identity_header"] = emu.identity_header
        print(json.dumps(line), flush=True)
        print(announcement(emu), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
