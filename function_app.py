"""The one FunctionApp: composition only. Each area lives in a blueprint under functions/."""

import azure.functions as func

from functions.deadletters import bp as deadletters_bp
from functions.health import bp as health_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(health_bp)
app.register_functions(deadletters_bp)
