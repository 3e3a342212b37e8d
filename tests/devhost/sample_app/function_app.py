"""Sample Durable Functions app used by the devhost tests: composes two blueprints."""

import azure.durable_functions as df
import azure.functions as func
from devhost_sample_http import bp as http_bp
from devhost_sample_workflows import bp as workflows_bp

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(http_bp)
app.register_functions(workflows_bp)
