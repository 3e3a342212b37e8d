"""The Function app: composition only. Each concern is a blueprint of its own."""

import azure.durable_functions as df
import azure.functions as func

from activities import bp as activities
from mysqlexport.redaction import install_log_redaction
from orchestrators import bp as orchestrators
from triggers import http_bp, retention_bp, schedule_bp

install_log_redaction()  # every log record of every process the host runs the app in
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(http_bp)
app.register_functions(schedule_bp)
app.register_functions(orchestrators)
app.register_functions(activities)
app.register_functions(retention_bp)  # history retention's nightly timer
