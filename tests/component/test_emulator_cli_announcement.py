"""``python -m armemulator`` tells a person what they need to try it, without reading the source:
the URL and identity settings, the subscriptions, resource groups and servers it serves, and a
request body the app accepts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from armemulator import DEFAULT_SUBSCRIPTION, default_fleet
from mysqlexport.request import parse_request

REPO = Path(__file__).resolve().parents[2]
#: Only a hang reaches this bound (no assertion about speed).
HANG_SECONDS = 300.0
#: The announcement ends with this line.
LAST_LINE = "Serving until Ctrl-C or SIGTERM."
OTHER = "22222222-2222-2222-2222-222222222222"


@dataclass
class Started:
    announced: dict[str, Any]  # the machine-readable first line
    text: str  # what a person reads

    def body(self) -> dict[str, Any]:
        """The request body the text offers (its one JSON line)."""
        (line,) = [x for x in self.text.splitlines() if x.startswith("{")]
        body: dict[str, Any] = json.loads(line)
        return body

    def get(self, path: str) -> requests.Response:
        token = requests.get(
            self.announced["token_endpoint"],
            params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
            headers={"X-IDENTITY-HEADER": self.announced["identity_header"]},
            timeout=HANG_SECONDS,
        ).json()["access_token"]
        return requests.get(
            f"{self.announced['url']}{path}",
            params={"api-version": "2024-12-30"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=HANG_SECONDS,
        )


@contextmanager
def started(*args: str, env: dict[str, str] | None = None) -> Iterator[Started]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    if env is None:
        environment.pop("IDENTITY_HEADER", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "armemulator", "--port", "0", "--virtual", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        lines: list[str] = []
        for _ in range(500):  # bounded: the announcement is a few dozen lines
            line = process.stdout.readline()
            if not line or line.rstrip("\n") == LAST_LINE:
                break
            lines.append(line.rstrip("\n"))
        yield Started(announced, "\n".join(lines))
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=HANG_SECONDS)


def test_cli_prints_what_a_user_needs_to_try_it() -> None:
    with started() as emu:
        body = emu.body()
        listed = emu.get(
            f"/subscriptions/{body['discover']['subscriptions'][0]}"
            "/providers/Microsoft.DBforMySQL/flexibleServers"
        )

    url, text = emu.announced["url"], emu.text
    assert f"ARM_ENDPOINT={url}" in text
    assert f"IDENTITY_ENDPOINT={url}/msi/token" in text
    assert f"IDENTITY_HEADER={emu.announced['identity_header']}" in text
    assert f"subscription {DEFAULT_SUBSCRIPTION}" in text
    assert "resource group ProdGroup: 4 server(s)" in text
    assert "resource group TestGroup: 3 server(s)" in text
    for spec in default_fleet():  # a small fleet is listed whole, with what is special about it
        assert spec.resource_id in text
    assert "Stopped" in text and "(403)" in text and "exports fail" in text
    # the body is one the app accepts, and it discovers what this emulator serves
    request = parse_request(body)
    assert request.public_dict()["discover"]["subscriptions"] == [DEFAULT_SUBSCRIPTION]
    assert request.public_dict()["sasUriCount"] == 2  # analytics-db needs two containers
    assert listed.status_code == 200 and len(listed.json()["value"]) == len(default_fleet())


def test_a_large_fleet_is_counted_and_its_first_servers_listed() -> None:
    with started(
        "--fleet-size", "500", "--seed", "4", "--forbidden-scope", f"/subscriptions/{OTHER}"
    ) as emu:
        forbidden = emu.get(
            f"/subscriptions/{OTHER}/providers/Microsoft.DBforMySQL/flexibleServers"
        )

    text = emu.text
    assert "It serves 500 server(s) in 1 subscription(s):" in text
    assert "the first 10 of 500" in text
    assert text.count("/providers/Microsoft.DBforMySQL/flexibleServers/mysql-") == 10
    assert "resource group fleet-rg-00: 50 server(s)" in text
    assert f"scopes forbidden (403): /subscriptions/{OTHER}" in text
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "AuthorizationFailed"


def test_an_identity_secret_from_the_environment_is_not_printed() -> None:
    with started(env={"IDENTITY_HEADER": "from-the-environment"}) as emu:
        pass

    assert "identity_header" not in emu.announced
    assert "from-the-environment" not in emu.text
    assert "IDENTITY_HEADER  (the value already in your environment)" in emu.text


def test_a_malformed_scope_is_refused_at_start() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "armemulator", "--forbidden-scope", "/subscriptions"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=HANG_SECONDS,
        check=False,
    )

    assert process.returncode == 2
    assert "a scope is" in process.stderr
