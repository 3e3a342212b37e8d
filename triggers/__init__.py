"""Entry points: the HTTP API (users and Logic Apps), the schedule and the nightly history purge.
Thin glue: parse, seal, start or query orchestrations, answer JSON."""

from triggers.http_api import bp as http_bp
from triggers.retention import bp as retention_bp
from triggers.schedule import bp as schedule_bp

__all__ = ["http_bp", "retention_bp", "schedule_bp"]
