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
EXPORT_RUN: Final = "export_run"
RESOLVE_SERVERS: Final = "resolve_servers"
VALIDATE_SERVER: Final = "validate_server"
SUBMIT_EXPORT: Final = "submit_export"
READ_STATUS: Final = "read_status"
READ_RESULT: Final = "read_result"

ORCHESTRATORS: Final = (EXPORT_FLEET, EXPORT_SHARD, EXPORT_RUN, EXPORT_SERVER)
ACTIVITIES: Final = (RESOLVE_SERVERS, VALIDATE_SERVER, SUBMIT_EXPORT, READ_STATUS, READ_RESULT)
