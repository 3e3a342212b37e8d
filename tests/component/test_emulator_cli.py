"""``python -m armemulator``: announces where it listens, serves, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.waits import HANG_SECONDS

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("IDENTITY_HEADER", None)
    return subprocess.Popen(
        [sys.executable, "-m", "armemulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_cli_prints_its_address_and_generated_secret_then_serves_until_sigterm() -> None:
    process = run_cli("--port", "0", "--virtual", "--seed", "3", "--fleet-size", "25")
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        token = requests.get(
            announced["token_endpoint"],
            params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
            headers={"X-IDENTITY-HEADER": announced["identity_header"]},
            timeout=HANG_SECONDS,
        ).json()["access_token"]
        listed = requests.get(
            f"{announced['url']}/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff"
            "/providers/Microsoft.DBforMySQL/flexibleServers",
            params={"api-version": "2024-12-30"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=HANG_SECONDS,
        ).json()
        advanced = requests.post(
            f"{announced['url']}/_emulator/clock/advance",
            params={"seconds": "5"},
            timeout=HANG_SECONDS,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=HANG_SECONDS)

    assert announced["url"].startswith("http://127.0.0.1:")
    assert len(listed["value"]) == 25
    assert advanced.status_code == 200
    assert code == 0


def test_cli_refuses_a_non_loopback_host() -> None:
    process = run_cli("--host", "0.0.0.0", "--port", "0")

    _, err = process.communicate(timeout=HANG_SECONDS)

    assert process.returncode == 2
    assert "non-loopback" in err
