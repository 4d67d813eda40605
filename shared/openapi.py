"""The OpenAPI 3.1 document of the HTTP API (served at ``GET /api/openapi.json``).

One table, ``OPERATIONS``, says for every route what it does, who may call it and what it takes; pydantic models
give the schemas. tests/unit/test_openapi.py keeps the table equal to the routes the FunctionApp registers, so
the document cannot drift from the code. Entries marked ``optional`` belong to routes other work may add (the
forecast); they are documented exactly when the route is registered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from shared.auth import Permission
from shared.collections import CustomerOverrides
from shared.domain.events import PaymentEvent
from shared.openapi_models import (
    BaselineBody,
    ContainBody,
    DecisionBody,
    DisputeBody,
    ErrorBody,
    ExemptionBody,
    HoldBody,
    NoteBody,
    PromiseBody,
    ReasonBody,
    ReplayBody,
    ResolveBody,
    ServiceRequestBody,
    TicketBody,
    TicketStatusBody,
)
from shared.services.fraud.store import CaseRecord, FraudScanRun
from shared.services.operators import ManualAction
from shared.services.state import ApprovalRequest, SweepRun
from shared.storage.deadletters import DeadLetter

ID = {"type": "string", "minLength": 1, "maxLength": 200}


@dataclass(frozen=True)
class Op:
    method: str
    route: str  # as registered, without the "api/" prefix
    summary: str
    permission: Permission | None  # None: anonymous; INGEST: function key
    tag: str
    body: Any = None  # a pydantic model, or a JSON schema dict
    response: type[BaseModel] | None = None
    success: int = 200
    query: tuple[tuple[str, dict[str, Any], str], ...] = ()
    path_enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    html: bool = False
    optional: bool = False


PAGE = Permission.READ
OPERATIONS: tuple[Op, ...] = (
    Op("GET", "health", "Is storage reachable and the configuration usable? (probes; no sign-in)", None, "system"),
    Op("GET", "openapi.json", "This document", None, "system"),
    Op("POST", "payment-events", "Payment events from the partner's billing system (one object or an array of "
       "up to 500); all are validated before any is accepted. Name the sender with X-Source-System.",
       Permission.INGEST, "ingress", body={"oneOf": [{"$ref": "#/components/schemas/PaymentEvent"},
                                                      {"type": "array", "minItems": 1, "maxItems": 500,
                                                       "items": {"$ref": "#/components/schemas/PaymentEvent"}}]},
       success=202),
    Op("GET", "customers/{customer_id}/status", "Everything about one customer: profile, invoices, overrides, "
       "case, notices, suspensions, what a sweep would do now, audit history", Permission.READ, "collections"),
    Op("POST", "customers/{customer_id}/actions/{action}", "Suspend or reactivate by hand (queued)",
       Permission.ACT, "collections", body=ManualAction, success=202,
       path_enums={"action": ("suspend", "reactivate")}),
    Op("POST", "customers/{customer_id}/overrides/{kind}", "Set an exemption, promise to pay or manual hold",
       Permission.ACT, "collections", response=CustomerOverrides, success=201,
       body={"oneOf": [{"$ref": "#/components/schemas/ExemptionBody"}, {"$ref": "#/components/schemas/PromiseBody"},
                       {"$ref": "#/components/schemas/HoldBody"}]},
       path_enums={"kind": ("exemption", "promise", "hold")}),
    Op("DELETE", "customers/{customer_id}/overrides/{kind}", "Lift every override of that kind",
       Permission.ACT, "collections", response=CustomerOverrides,
       query=(("reason", {"type": "string", "minLength": 1}, "why (required)"),),
       path_enums={"kind": ("exemption", "promise", "hold")}),
    Op("POST", "customers/{customer_id}/case/migrate", "Move the open case to the current policy version",
       Permission.ACT, "collections", body=ReasonBody),
    Op("POST", "customers/{customer_id}/disputes", "Record a dispute (through the payment-events path)",
       Permission.ACT, "collections", body=DisputeBody, success=202),
    Op("GET", "collections/preview", "What a sweep would do now (or on ?at=); nothing is stored or sent",
       Permission.READ, "collections", query=(("at", {"type": "string", "format": "date"}, "YYYY-MM-DD"),)),
    Op("GET", "collections/portfolio", "Customers by stage (counts, overdue amounts) and AR ageing per currency; "
       "the customer rows page", Permission.READ, "collections",
       query=(("page", {"type": "integer", "minimum": 1}, "1-based"),
              ("page_size", {"type": "integer", "minimum": 1, "maximum": 200}, "rows per page"))),
    Op("GET", "collections/policy", "The published collections policy document (Markdown)", Permission.READ,
       "collections", query=(("language", {"type": "string", "enum": ["en", "zh-CN"]}, "document language"),)),
    Op("GET", "collections/forecast", "The next sweeps simulated from today's data", Permission.READ, "collections",
       query=(("days", {"type": "integer", "minimum": 1, "maximum": 90}, "default 30"),
              ("format", {"type": "string", "enum": ["json", "csv"]}, "csv: one row per day, customer, action")),
       optional=True),
    Op("GET", "collections/runs", "Recent sweep runs", Permission.READ, "collections", optional=True),
    Op("GET", "clock", "The app's clock (local time machine)", Permission.READ, "system", optional=True),
    Op("POST", "clock", "Move the local time machine forward (409 where time is real)", Permission.ACT, "system",
       body={"type": "object"}, optional=True),
    Op("POST", "collections/sweep", "Start a sweep now", Permission.ACT, "collections", response=SweepRun,
       success=202),
    Op("GET", "collections/runs/{run_id}", "One sweep run", Permission.READ, "collections", response=SweepRun),
    Op("GET", "approvals", "The approvals queue", Permission.READ, "approvals",
       query=(("status", {"type": "string", "enum": ["pending", "decided"]}, "default pending"),)),
    Op("POST", "approvals/decide", "Approve or reject (four eyes: not your own request)", Permission.DECIDE,
       "approvals", body=DecisionBody, response=ApprovalRequest),
    Op("POST", "fraud/scan", "Queue a usage scan now", Permission.ACT, "fraud", response=FraudScanRun,
       success=202),
    Op("GET", "fraud/scans/{run_id}", "One usage scan run", Permission.READ, "fraud", response=FraudScanRun),
    Op("GET", "fraud/cases", "Fraud cases", Permission.READ, "fraud",
       query=(("status", {"type": "string", "enum": ["open", "investigating", "resolved_legitimate",
                                                     "resolved_fraud", "all"]}, "default open and investigating"),)),
    Op("GET", "fraud/cases/{customer_id}", "A customer's current case: signals, evidence, containment",
       Permission.READ, "fraud", response=CaseRecord),
    Op("POST", "fraud/cases/{customer_id}/resolve", "Resolve as legitimate (reactivates) or fraud",
       Permission.DECIDE, "fraud", body=ResolveBody),
    Op("POST", "fraud/cases/{customer_id}/notes", "Add a note to the case", Permission.ACT, "fraud",
       body=NoteBody, success=201),
    Op("POST", "fraud/cases/{customer_id}/service-request", "Raise the 21Vianet service request (the evidence pack "
       "is prepared once the containment outcome is known)", Permission.ACT, "fraud", body=ServiceRequestBody,
       success=202),
    Op("GET", "fraud/cases/{customer_id}/evidence", "The evidence pack to file in the Partner Center portal "
       "(attachment)", Permission.READ, "fraud",
       query=(("format", {"type": "string", "enum": ["txt", "json"]}, "default txt"),
              ("lang", {"type": "string", "enum": ["both", "zh-CN", "en"]}, "default both"),
              ("case", ID, "an earlier case id"))),
    Op("POST", "fraud/cases/{customer_id}/service-request/ticket", "Record the 21Vianet ticket number filed in the "
       "portal", Permission.ACT, "fraud", body=TicketBody),
    Op("POST", "fraud/cases/{customer_id}/service-request/status", "Record the 21Vianet ticket's status",
       Permission.ACT, "fraud", body=TicketStatusBody),
    Op("POST", "fraud/customers/{customer_id}/baseline", "Declare what detection should expect (expected spend, "
       "planned changes, prepayment, onboarding date)", Permission.ACT, "fraud", body=BaselineBody, success=202),
    Op("GET", "collections/suspension-deadlines", "Suspended subscriptions near their data-deletion date, term end "
       "or Azure reactivation limit", Permission.READ, "collections"),
    Op("POST", "collections/suspension-deadlines", "Run the deadline check now and alert the team once per deadline",
       Permission.ACT, "collections"),
    Op("POST", "fraud/cases/{customer_id}/contain", "Approve the pending containment (four eyes) or contain now",
       Permission.DECIDE, "fraud", body=ContainBody, success=202, response=CaseRecord),
    Op("GET", "dead-letters", "Messages the app could not process, with their reasons", Permission.READ,
       "messages", query=(("queue", {"type": "string"}, "one queue"),
                          ("all", {"type": "string", "enum": ["true", "false"]}, "include replayed"))),
    Op("POST", "dead-letters/{queue}/{letter_id}/replay", "Replay a dead letter, as stored or corrected",
       Permission.ACT, "messages", body=ReplayBody, response=DeadLetter, optional=True),
    Op("GET", "dead-letters/{queue}/{letter_id}", "One dead letter", Permission.READ, "messages",
       response=DeadLetter, optional=True),
    Op("POST", "dead-letters/{queue}/{letter_id}/{operation}", "Replay ({\"body\"?}) or discard ({\"reason\"})",
       Permission.ACT, "messages", body={"type": "object"}, response=DeadLetter, optional=True,
       path_enums={"operation": ("replay", "discard")}),
    # the console: HTML pages over the same API
    Op("GET", "console", "Console: portfolio by stage and AR ageing", PAGE, "console", html=True),
    Op("GET", "console/approvals", "Console: approvals queue", PAGE, "console", html=True),
    Op("GET", "console/customers/{customer_id}", "Console: one customer's timeline", PAGE, "console", html=True),
    Op("GET", "console/fraud", "Console: fraud cases", PAGE, "console", html=True),
    Op("GET", "console/fraud/{customer_id}", "Console: one fraud case", PAGE, "console", html=True),
    Op("GET", "console/messages", "Console: dead and poison messages", PAGE, "console", html=True),
    Op("GET", "console/policy", "Console: the published policy document", PAGE, "console", html=True),
    Op("GET", "console/forecast", "Console: the next 30 days", PAGE, "console", html=True),
)
PAGE_QUERY = (("lang", {"type": "string", "enum": ["en", "zh-CN"]}, "page language (kept in a cookie)"),
              ("page", {"type": "integer", "minimum": 1}, "list page"))
BODY_MODELS: tuple[type[BaseModel], ...] = (
    ManualAction, ExemptionBody, PromiseBody, HoldBody, ReasonBody, DisputeBody, DecisionBody, ResolveBody,
    NoteBody, ServiceRequestBody, ContainBody, ReplayBody)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    CustomerOverrides, SweepRun, ApprovalRequest, FraudScanRun, CaseRecord, DeadLetter, ErrorBody)


def _schemas() -> dict[str, Any]:
    pairs = [(m, "validation") for m in BODY_MODELS] + [(m, "serialization") for m in RESPONSE_MODELS]
    _, doc = models_json_schema(pairs, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(doc.get("$defs", {}))
    event = TypeAdapter(PaymentEvent).json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(event.pop("$defs", {}))
    schemas["PaymentEvent"] = event
    return schemas


def _security(op: Op) -> list[dict[str, list[str]]]:
    if op.permission is None:
        return []
    if op.permission is Permission.INGEST:
        return [{"functionKey": []}]
    return [{"appServiceAuth": []}, {"entraBearer": []}]


def _operation(op: Op) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    for name in [s[1:-1] for s in op.route.split("/") if s.startswith("{")]:
        schema: dict[str, Any] = ({"type": "string", "enum": list(op.path_enums[name])} if name in op.path_enums
                                  else dict(ID))
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    for name, schema, text in (*op.query, *(PAGE_QUERY if op.html else ())):
        params.append({"name": name, "in": "query", "required": name == "reason", "schema": schema,
                       "description": text})
    if op.permission is Permission.INGEST:
        params.append({"name": "X-Source-System", "in": "header", "required": True, "schema": dict(ID),
                       "description": "the sending system (recorded as the actor)"})
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    if op.html:
        ok: dict[str, Any] = {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
    else:
        schema = {"$ref": f"#/components/schemas/{op.response.__name__}"} if op.response else {"type": "object"}
        ok = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    responses: dict[str, Any] = {str(op.success): ok}
    security: Any = _security(op)
    if op.permission is not None:
        responses["401"] = {"description": "not signed in (or no function key / sender)", **error}
        responses["403"] = {"description": "the principal's roles do not allow it", **error}
    responses["400"] = {"description": "bad input, with what is wrong", **error}
    out: dict[str, Any] = {"operationId": f"{op.method.lower()}_{op.route}".replace("/", "_").replace("{", "")
                           .replace("}", "").replace("-", "_").replace(".", "_"),
                           "summary": op.summary, "tags": [op.tag], "parameters": params, "responses": responses,
                           "security": security}
    if op.permission is not None:
        out["x-cspguard-permission"] = op.permission.value
    if op.body is not None:
        schema = op.body if isinstance(op.body, dict) else {"$ref": f"#/components/schemas/{op.body.__name__}"}
        out["requestBody"] = {"required": op.method != "POST" or op.body is not ManualAction,
                              "content": {"application/json": {"schema": schema}}}
    return out


def build_document(registered: Iterable[tuple[str, str]], prefix: str = "api") -> dict[str, Any]:
    """The document for the routes the app registered (``(METHOD, route)`` pairs); optional entries only when
    registered, every other entry always (a missing route is the test's to find)."""
    present = {(m.upper(), r) for m, r in registered}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        if op.optional and (op.method, op.route) not in present:
            continue
        paths.setdefault(f"/{prefix}/{op.route}", {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "csp-guard", "version": "1",
                 "description": "Collections and fraud controls for CSP partners on Partner Center operated by "
                                "21Vianet. People sign in with Microsoft Entra ID (App Service Authentication) and "
                                "act by their app roles viewer, operator, approver, admin; systems send payment "
                                "events with a function key."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "appServiceAuth": {"type": "apiKey", "in": "cookie", "name": "AppServiceAuthSession",
                                   "description": "the session of App Service Authentication (/.auth/login/aad)"},
                "entraBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                "description": "an Entra ID (21Vianet) access token for the app, validated by "
                                               "App Service Authentication"},
            },
        },
    }
