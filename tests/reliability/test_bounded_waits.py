"""Waiting out a busy server keeps one history bounded, however long the other export runs."""

from __future__ import annotations

from armemulator import ServerSpec
from armemulator.kinds import Kind
from orchestrators.server import CONTINUE_AS_NEW_POLLS
from tests.e2e.conftest import SAS, SUB, StackFactory, discover_body, server_id


def test_a_long_409_wait_continues_as_new_and_keeps_the_history_short(
    make_stack: StackFactory,
) -> None:
    fleet = (ServerSpec(SUB, "rg", "busy", export_seconds=2 * 3600),)
    stack = make_stack(fleet=fleet)
    token = stack.emu.issue_token()
    foreign = stack.session.post(
        f"{stack.emu.url}{server_id('busy', 'rg')}/backupAndExport?api-version=2024-12-30",
        json={
            "backupSettings": {"backupName": "someone-else"},
            "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": [SAS]},
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert foreign.status_code == 202
    report = stack.run(discover_body())
    row = report["servers"][0]
    assert row["status"] == "Succeeded" and row["attempts"] > CONTINUE_AS_NEW_POLLS
    conflicts = stack.emu.counters().responses[(Kind.BACKUP_AND_EXPORT.value, 409)]
    assert conflicts > CONTINUE_AS_NEW_POLLS
    assert stack.host.stats().max_history_length <= 8 * CONTINUE_AS_NEW_POLLS + 16
