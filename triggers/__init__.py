"""Entry points: the HTTP API (users and Logic Apps) and the schedule. Thin glue: parse, seal,
start or query orchestrations, answer JSON."""

from triggers.http_api import bp as http_bp
from triggers.schedule import bp as schedule_bp

__all__ = ["http_bp", "schedule_bp"]
