"""The names of the app's durable functions, written once.

Orchestrators call activities and sub-orchestrators by these names (passing the decorated
functions instead makes Durable SDK 1.7 infer a ``str`` result type from the wrapped trigger and
log a warning on every replay). ``tests/devhost`` checks that each name is an indexed function of
the right kind, so a typo fails CI the way it would fail in Azure.
"""

from typing import Final

EXPORT_FLEET: Final = "export_fleet"
EXPORT_SHARD: Final = "export_shard"
EXPORT_SERVER: Final = "export_server"
BACKUP_SERVER: Final = "backup_server"
EXPORT_BATCH: Final = "export_batch"
EXPORT_TARGET: Final = "export_target"
SCHEDULED_RUN: Final = "scheduled_run"
LIST_SCOPE: Final = "list_scope"
RELAY_CANCEL: Final = "relay_cancel"
VALIDATE_SERVER: Final = "validate_server"
SUBMIT_EXPORT: Final = "submit_export"
SUBMIT_BACKUP: Final = "submit_backup"
READ_STATUS: Final = "read_status"
READ_RESULT: Final = "read_result"
READ_BACKUP_RESULT: Final = "read_backup_result"
READ_BACKUP: Final = "read_backup"
PUBLISH_REPORT: Final = "publish_report"
CHECK_TARGET: Final = "check_target"

ORCHESTRATORS: Final = (
    EXPORT_FLEET,
    EXPORT_SHARD,
    EXPORT_BATCH,
    EXPORT_SERVER,
    BACKUP_SERVER,
    EXPORT_TARGET,
    SCHEDULED_RUN,
)
ACTIVITIES: Final = (
    LIST_SCOPE,
    VALIDATE_SERVER,
    SUBMIT_EXPORT,
    READ_STATUS,
    READ_RESULT,
    SUBMIT_BACKUP,
    READ_BACKUP_RESULT,
    READ_BACKUP,
    RELAY_CANCEL,
    PUBLISH_REPORT,
    CHECK_TARGET,
)

#: The external event that cancels a run; each orchestrator passes it on to its running children.
CANCEL_EVENT: Final = "cancel"
