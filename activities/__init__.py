"""Activity functions: the workflow's only I/O, one ARM interaction each.

Each trigger is thin Functions glue: it builds an ``ArmClient`` (and the ``Sealer`` where the SAS
list must be opened) from app settings for this call, and hands over to the plain body in
``mysqlexport.operations``. Trigger annotations stay bare ``dict``: the Python worker rejects
parameterised generics there.
"""

from activities.functions import (
    bp,
    list_scope,
    read_result,
    read_status,
    relay_cancel,
    submit_export,
    validate_server,
)

__all__ = [
    "bp",
    "list_scope",
    "read_result",
    "read_status",
    "relay_cancel",
    "submit_export",
    "validate_server",
]
