"""devhost/azurite.py: Azurite runs on loopback, never phones home, and fails loudly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devhost.azurite import TOOL_DIR, VERSION, Azurite, AzuriteError, install, is_installed


def test_azurite_serves_loopback_only_without_telemetry(azurite: Azurite) -> None:
    argv = Path(f"/proc/{azurite.pid}/cmdline").read_bytes().split(b"\0")
    args = [a.decode() for a in argv if a]
    assert "--disableTelemetry" in args
    assert args[args.index("--blobHost") + 1] == "127.0.0.1"
    assert args[args.index("--oauth") + 1] == "basic"
    assert "--skipApiVersionCheck" not in args  # the pinned SDK speaks Azurite's own version
    assert azurite.blob_endpoint == f"https://127.0.0.1:{azurite.port}/devstoreaccount1"


def test_the_pinned_version_is_installed() -> None:
    assert is_installed(TOOL_DIR)
    package = TOOL_DIR / "node_modules" / "azurite" / "package.json"
    assert f'"version": "{VERSION}"' in package.read_text()
    assert f'"azurite": "{VERSION}"' in (TOOL_DIR / "package.json").read_text()


def test_install_without_npm_fails_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("package.json", "package-lock.json"):
        shutil.copy(TOOL_DIR / name, tmp_path / name)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert not is_installed(tmp_path)
    with pytest.raises(AzuriteError, match="npm is not on PATH"):
        install(tmp_path)


def test_stop_removes_its_files_and_can_be_repeated() -> None:
    server = Azurite().start()
    folder = server.ca_bundle.parent
    assert folder.is_dir()
    server.stop()
    server.stop()
    assert not folder.exists()
    assert not server.is_running()
