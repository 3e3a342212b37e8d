"""Activity functions: the workflow's only I/O, one ARM interaction each.

What each does is in ``activities/arm_calls.py`` (plain functions of an ``ArmClient``, answering
as ``workflow.contracts`` says); ``activities/functions.py`` is the Functions glue that builds
the client (and the ``Sealer`` where the SAS list must be opened) from app settings per call.
Trigger annotations stay bare ``dict``: the Python worker rejects parameterised generics there.
"""

from activities.functions import (
    bp,
    check_target,
    list_scope,
    publish_report,
    read_backup,
    read_backup_result,
    read_result,
    read_status,
    relay_cancel,
    submit_backup,
    submit_export,
    validate_server,
)
from activities.retention import purge_finished

__all__ = [
    "bp",
    "check_target",
    "list_scope",
    "publish_report",
    "purge_finished",
    "read_backup",
    "read_backup_result",
    "read_result",
    "read_status",
    "relay_cancel",
    "submit_backup",
    "submit_export",
    "validate_server",
]
