"""Local defaults for a first trial with ``python -m devhost serve`` / ``run``.

With only the ARM settings in the environment (``ARM_ENDPOINT``, ``IDENTITY_ENDPOINT``,
``IDENTITY_HEADER``) the app still needs a secret that has no safe fixed default: the Fernet key
that seals SAS URIs (``SAS_SEALING_KEY``). When neither the environment nor local.settings.json
sets it, a key is generated and the log says so (never the key itself). With ``--store DIR`` the
key is kept beside the store, in ``DIR/devhost-settings.json`` (owner-only), and used again on the
next start, so a restarted host can still open the targets its runs sealed; without a store the
key lives as long as the process, like the runs. Settings that have defaults need nothing here,
and a timer whose ``%SETTING%`` is unset is disabled by indexing (``devhost.indexing``), as the
Functions host disables it.

These are local conveniences only: in Azure every required setting must be set (README).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from devhost.errors import DevHostError

log = logging.getLogger(__name__)

#: Where generated settings are kept, in the ``--store`` directory.
SETTINGS_FILE = "devhost-settings.json"


@dataclass(frozen=True)
class GeneratedSetting:
    """A setting generated for local runs when it is not set."""

    name: str
    generate: Callable[[], str]
    what: str


def _fernet_key() -> str:
    return Fernet.generate_key().decode("ascii")


#: The app's settings that are required and have no fixed local default.
GENERATED = (GeneratedSetting("SAS_SEALING_KEY", _fernet_key, "a Fernet key for sealing SAS URIs"),)


def apply_local_defaults(
    store_dir: Path | None, environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """Set every generated setting that ``environ`` lacks; return what was done, one line each.

    Raises:
        DevHostError: the kept settings file exists but cannot be read.
    """
    env = os.environ if environ is None else environ
    missing = [setting for setting in GENERATED if not env.get(setting.name, "").strip()]
    if not missing:
        return []
    path = None if store_dir is None else store_dir / SETTINGS_FILE
    kept = _read(path)
    notes: list[str] = []
    changed = False
    for setting in missing:
        if setting.name in kept:
            env[setting.name] = kept[setting.name]
            notes.append(f"{setting.name} is not set: using the local one kept in {path}")
            continue
        value = setting.generate()
        env[setting.name] = value
        if path is None:
            notes.append(
                f"{setting.name} is not set: generated {setting.what} for this process only "
                "(give --store DIR to keep it, with the runs, across restarts)"
            )
        else:
            kept[setting.name] = value
            changed = True
            notes.append(
                f"{setting.name} is not set: generated {setting.what}, kept in {path} "
                "so a restart can open what this host sealed"
            )
    if changed and path is not None:
        _write(path, kept)
    for note in notes:
        log.warning(note)
    return notes


def _read(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DevHostError(f"{path} cannot be read: {err}") from err
    if not isinstance(document, dict):
        raise DevHostError(f"{path} is not a JSON object")
    return {str(k): str(v) for k, v in document.items() if isinstance(v, str)}


def _write(path: Path, values: dict[str, str]) -> None:
    """Write ``values`` readable by the owner only (it holds a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(values, handle, indent=2)
    os.replace(temporary, path)
