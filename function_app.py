"""The one FunctionApp: composition only. Each area lives in a blueprint under functions/."""

import azure.functions as func

from functions.api_docs import bp as api_docs_bp
from functions.clock import bp as clock_bp
from functions.collections import bp as collections_bp
from functions.console import bp as console_bp
from functions.deadletters import bp as deadletters_bp
from functions.deadlines import bp as deadlines_bp
from functions.forecast import bp as forecast_bp
from functions.fraud import bp as fraud_bp
from functions.fraud_requests import bp as fraud_requests_bp
from functions.health import bp as health_bp
from functions.operators import bp as operators_bp
from functions.payments import bp as payments_bp
from functions.portfolio import bp as portfolio_bp

# Person-facing routes authorize the signed-in principal themselves (shared/auth.py; App Service Authentication
# in Azure); system ingress (payment-events) keeps a function key (auth_level=FUNCTION on its route).
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in (health_bp, deadletters_bp, payments_bp, collections_bp, operators_bp, fraud_bp, portfolio_bp,
                  api_docs_bp, console_bp, deadlines_bp, clock_bp, forecast_bp, fraud_requests_bp):
    app.register_functions(blueprint)
