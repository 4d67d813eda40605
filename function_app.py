"""The one FunctionApp: composition only. Each area lives in a blueprint under functions/."""

import azure.functions as func

from functions.collections import bp as collections_bp
from functions.deadletters import bp as deadletters_bp
from functions.deadlines import bp as deadlines_bp
from functions.fraud import bp as fraud_bp
from functions.fraud_requests import bp as fraud_requests_bp
from functions.health import bp as health_bp
from functions.operators import bp as operators_bp
from functions.payments import bp as payments_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (health_bp, deadletters_bp, payments_bp, collections_bp, operators_bp, fraud_bp,
                  fraud_requests_bp, deadlines_bp):
    app.register_functions(blueprint)
