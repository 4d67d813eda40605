"""The one FunctionApp: composition only. Each area lives in a blueprint under functions/."""

import azure.functions as func

from functions.clock import bp as clock_bp
from functions.collections import bp as collections_bp
from functions.deadletters import bp as deadletters_bp
from functions.forecast import bp as forecast_bp
from functions.fraud import bp as fraud_bp
from functions.health import bp as health_bp
from functions.operators import bp as operators_bp
from functions.payments import bp as payments_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (health_bp, deadletters_bp, payments_bp, collections_bp, operators_bp, fraud_bp, clock_bp,
                  forecast_bp):
    app.register_functions(blueprint)
