"""``python -m devhost serve`` with only the ARM settings in the environment: a sealing key is
generated (and kept beside ``--store``), the schedule is disabled because EXPORT_SCHEDULE does
not resolve, and a POST /api/exports runs to a full report against the emulator."""

from __future__ import annotations

import io
import json
import logging
import os
import queue
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from armemulator import Emulator, EmulatorConfig, VirtualClock
from devhost import DevHost
from devhost.cli import STORE_FILE, build_parser, serve
from devhost.trial import SETTINGS_FILE, apply_local_defaults
from tests.e2e.conftest import Stack, discover_body
from tests.waits import HANG_SECONDS

ROOT = Path(__file__).resolve().parents[2]
ARM_SETTINGS = ("ARM_ENDPOINT", "IDENTITY_ENDPOINT", "IDENTITY_HEADER")
#: Every app setting the README names: none may come from the caller's environment here.
APP_SETTINGS = (
    "ARM_SCOPE",
    "MYSQL_API_VERSION",
    "POLL_DEFAULT_SECONDS",
    "POLL_MAX_SECONDS",
    "MAX_CONCURRENCY",
    "DEADLINE_MINUTES",
    "SHARD_SIZE",
    "SAS_SEALING_KEY",
    "EXPORT_SCHEDULE",
    "EXPORT_SCHEDULE_REQUEST",
    "ARM_CONNECT_TIMEOUT_SECONDS",
    "ARM_READ_TIMEOUT_SECONDS",
    "ARM_GET_RETRIES",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
)


@pytest.fixture
def only_arm_settings() -> Iterator[Emulator]:
    """An emulator, and an environment holding the ARM settings that point at it and no other
    app setting (restored afterwards: serve writes the generated key into it)."""
    saved = dict(os.environ)
    clock = VirtualClock(start=1_800_000_000)
    try:
        with Emulator(EmulatorConfig(clock=clock, seed=11)) as emu:
            for name in APP_SETTINGS:
                os.environ.pop(name, None)
            os.environ.update(
                {
                    "ARM_ENDPOINT": emu.url,
                    "IDENTITY_ENDPOINT": emu.token_endpoint,
                    "IDENTITY_HEADER": emu.identity_header,
                }
            )
            yield emu
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Serving:
    """``serve`` running in a thread until stopped."""

    def __init__(self, argv: list[str], emu: Emulator) -> None:
        self.stop = threading.Event()
        ready: queue.Queue[DevHost] = queue.Queue()
        args = build_parser().parse_args(argv)
        self.screen = io.StringIO()
        self.thread = threading.Thread(
            target=serve,
            args=(args, Console(file=self.screen, width=200)),
            kwargs={"clock": emu.clock, "stop": self.stop, "on_ready": ready.put},
            daemon=True,
        )
        self.thread.start()
        self.host = ready.get(timeout=HANG_SECONDS)
        self.stack = Stack(emu, self.host, emu.clock)  # type: ignore[arg-type]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=HANG_SECONDS)
        assert not self.thread.is_alive()


def _serve_argv(store: Path) -> list[str]:
    return ["serve", "--app-dir", str(ROOT), "--port", "0", "--store", str(store)]


def test_serve_with_only_the_arm_settings_runs_an_export(
    only_arm_settings: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu = only_arm_settings
    with caplog.at_level(logging.WARNING):
        serving = Serving(_serve_argv(tmp_path), emu)
    try:
        report = serving.stack.run(discover_body())
        assert report["summary"]["total"] == len(emu.servers())
        codes = {row["error"]["code"] for row in report["servers"] if row.get("error")}
        assert not codes & {"InvalidSettings", "SealedTargetUnreadable"}, codes
        assert report["summary"]["succeeded"] > 0, codes
        failed = serving.host.index.error("scheduled_export")
        assert failed is not None and "'%EXPORT_SCHEDULE%' does not resolve" in failed.error
        run_id = report["runId"]
    finally:
        serving.close()
    kept = tmp_path / SETTINGS_FILE
    key = json.loads(kept.read_text())["SAS_SEALING_KEY"]
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert key not in caplog.text and key not in serving.screen.getvalue()
    notes = [r.getMessage() for r in caplog.records if r.name == "devhost.trial"]
    assert notes == [
        f"SAS_SEALING_KEY is not set: generated a Fernet key for sealing SAS URIs, kept in {kept} "
        "so a restart can open what this host sealed"
    ]
    assert "scheduled_export: timerTrigger disabled" in serving.screen.getvalue()
    assert (tmp_path / STORE_FILE).is_file()

    # A restart (a new process: the key is not in its environment) uses the kept key again and
    # still knows the run.
    os.environ.pop("SAS_SEALING_KEY")
    again = Serving(_serve_argv(tmp_path), emu)
    try:
        assert os.environ["SAS_SEALING_KEY"] == key
        progress = again.stack.api("GET", f"exports/{run_id}")
        assert progress.status_code == 200, progress.text
    finally:
        again.close()


def test_a_key_that_is_set_is_used_and_nothing_is_generated(tmp_path: Path) -> None:
    environ = {"SAS_SEALING_KEY": "set-by-the-user"}
    assert apply_local_defaults(tmp_path, environ) == []
    assert environ == {"SAS_SEALING_KEY": "set-by-the-user"}
    assert not (tmp_path / SETTINGS_FILE).exists()


def test_without_a_store_the_key_lives_as_long_as_the_process() -> None:
    environ: dict[str, str] = {}
    [note] = apply_local_defaults(None, environ)
    assert environ["SAS_SEALING_KEY"] and "for this process only" in note


def test_every_serve_and_run_option_is_described() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    for name in ("serve", "run"):
        sub = commands.choices[name]  # type: ignore[index]
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_serve_help_names_the_store_directory(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--store DIR" in shown and "without it a restart forgets every run" in shown
