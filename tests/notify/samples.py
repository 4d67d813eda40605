"""Sample contexts for every template: realistic figures, the shape callers must produce."""

from __future__ import annotations

from typing import Any

from shared.notify import TemplateId

AMOUNT = "CNY 12,345.67"
AMOUNT_ZH = "人民币 12,345.67 元"
CUSTOMER_ZH = "北京示例科技有限公司"
SUBSCRIPTIONS = [
    {"id": "6f1c2b7e-0d3a-4a8e-9d51-2b7f0c4e9a11", "name": "生产环境 Production"},
    {"id": "0a9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c", "name": "Dev/Test"},
]
INVOICES = [
    {"number": "G012345678", "amount": "CNY 10,000.00", "due_date": "2025-03-03"},
    {"number": "G012345679", "amount": "CNY 2,345.67", "due_date": "2025-03-03"},
]
CUSTOMER = {"name": CUSTOMER_ZH, "tenant_id": "8d0c4b1a-5e7f-4c2d-9a3b-6e1f0d2c3b4a",
            "domain": "example.partner.onmschina.cn"}
SIGNALS = [
    {"rule_id": "FR-GPU-BURST", "description": "GPU core-hours in 24 h vs 30-day baseline",
     "figure": "1,920 core-hours (48x baseline)", "threshold": "10x baseline",
     "observed_at": "2025-03-14T19:05:00+00:00"},
    {"rule_id": "FR-NEW-REGION", "description": "Deployments in a region never used before",
     "figure": "3 regions", "threshold": "1 region", "observed_at": "2025-03-14T19:20:00+00:00"},
]
AZURE_SUB = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a"
CONTAINED = {"status": "contained", "detail": "-", "verified_at": "2025-03-14T19:35:00+00:00", "requested_at": "",
             "contained": [{"kind": "azure", "id": AZURE_SUB, "plan": "6f1c2b7e-0d3a-4a8e-9d51-2b7f0c4e9a11",
                            "name": AZURE_SUB}], "failed": []}
ACTIONS = [
    {"at": "2025-03-14T19:30:00+00:00", "action": "Suspended subscription Dev/Test", "result": "verified"},
]


CONSEQUENCES = {"items": [{"id": SUBSCRIPTIONS[0]["id"], "name": SUBSCRIPTIONS[0]["name"], "kind": "azure_plan",
                           "new_commerce": False, "term_end": ""},
                          {"id": SUBSCRIPTIONS[1]["id"], "name": SUBSCRIPTIONS[1]["name"], "kind": "license",
                           "new_commerce": True, "term_end": "2025-06-30"}],
                "data_deletion_days": 60, "azure_reactivation_days": 30, "data_deletion_date": "2025-05-20"}


def _customer_notice(**extra: Any) -> dict[str, Any]:
    return {"customer_name": CUSTOMER_ZH, "partner_name": "Fabrikam Cloud 合作伙伴",
            "contact": "billing@fabrikam.example, +86 10 5555 0100", "reference": "COL-2025-0042",
            "payment_instructions": "Bank transfer to ICBC Beijing\nAccount 0200 0000 0000 0000 000\n\n"
                                    "Quote reference COL-2025-0042.",
            **extra}


SAMPLES: dict[TemplateId, dict[str, Any]] = {
    TemplateId.REMINDER_BEFORE_DUE: _customer_notice(amount_due=AMOUNT, due_date="2025-03-03",
                                                     invoices=INVOICES),
    TemplateId.OVERDUE_REMINDER: _customer_notice(amount_overdue=AMOUNT, due_date="2025-03-03",
                                                  days_overdue=7, pay_by="2025-03-17", invoices=INVOICES),
    TemplateId.FINAL_NOTICE: _customer_notice(amount_overdue=AMOUNT, due_date="2025-03-03",
                                              deadline="2025-03-20T10:00:00+00:00",
                                              suspension_at="2025-03-21T02:00:00+00:00",
                                              subscriptions=SUBSCRIPTIONS, invoices=INVOICES,
                                              consequences=CONSEQUENCES),
    TemplateId.SUSPENSION_DONE: _customer_notice(amount_overdue=AMOUNT, suspended_at="2025-03-21T02:00:00Z",
                                                 subscriptions=SUBSCRIPTIONS, consequences=CONSEQUENCES),
    TemplateId.REACTIVATED: {"customer_name": CUSTOMER_ZH, "partner_name": "Fabrikam",
                             "contact": "b@f.example",
                             "reference": "COL-2025-0042", "amount_received": AMOUNT,
                             "reactivated_at": "2025-03-22T01:15:00Z", "subscriptions": SUBSCRIPTIONS},
    TemplateId.TEAM_FRAUD_ALERT: {"customer": CUSTOMER, "severity": "high",
                                  "detected_at": "2025-03-14T19:25:00Z",
                                  "exposure": AMOUNT, "case_id": "FRD-0007", "signals": SIGNALS,
                                  "actions": ACTIONS,
                                  "recommended_actions": ["Call the customer's admin",
                                                          "Raise a 21Vianet SR"]},
    TemplateId.TEAM_ACTION_FAILED: {"customer": CUSTOMER, "action": "suspend", "subscriptions": SUBSCRIPTIONS,
                                    "attempts": 3, "attempted_at": "2025-03-21T02:05:00Z",
                                    "error": "Partner Center 409: subscription is in a transitional state",
                                    "case_id": "COL-2025-0042"},
    TemplateId.TEAM_ALERT: {"title": "Customer cannot be evaluated", "customer": CUSTOMER,
                            "raised_at": "2025-03-21T02:05:00Z",
                            "detail": "OverflowError: date value out of range",
                            "next_steps": ["Look at GET /api/customers/{id}/status"]},
    TemplateId.TEAM_MESSAGE_KEPT: {"queue": "payment-events", "letter_id": "poison-8c1e", "origin": "poison",
                                   "reason": "undecodable: the body is not valid base64",
                                   "received_at": "2025-03-21T02:05:00Z", "size": 812},
    TemplateId.TEAM_STAGE_ENTERED: {"customer": CUSTOMER, "stage_id": "over_credit_limit",
                                    "stage_name": "Over credit limit", "entered_at": "2025-03-14T02:00:00Z",
                                    "why": "exposure 1.6x the credit limit", "amount_overdue": AMOUNT,
                                    "unbilled": "CNY 16,000.00", "credit_limit": "CNY 10,000.00",
                                    "case_id": "COL-2025-0042"},
    TemplateId.TEAM_RUN_HALTED: {"run_id": "sweep-20250321T010000-ab12cd", "halted_at": "2025-03-21T01:02:00Z",
                                 "detail": "would suspend 31 of 400 customers (7.8%); limits are 20 customers and 5.0%",
                                 "customers": 400, "customers_to_suspend": 31, "planned_suspensions": 44,
                                 "targets": [{"id": CUSTOMER["tenant_id"], "name": CUSTOMER_ZH}],
                                 "approval_key": "run:sweep-20250321T010000-ab12cd"},
    TemplateId.SERVICE_REQUEST: {"partner": {"name": "Fabrikam Cloud", "partner_id": "5123456",
                                             "contact": "noc@fabrikam.example"},
                                 "customer": CUSTOMER, "subscriptions": [{**s, "status": "suspended"}
                                                                         for s in SUBSCRIPTIONS],
                                 "azure_subscriptions": [{"kind": "azure", "id": AZURE_SUB,
                                                          "plan": SUBSCRIPTIONS[0]["id"], "name": AZURE_SUB}],
                                 "generated_at": "2025-03-14T19:40:00+00:00",
                                 "opened_at": "2025-03-14T19:25:00+00:00",
                                 "usage": {"meters": "Virtual Machines/NCads A100 v4", "regions": "chinanorth3",
                                           "amount_at_risk": AMOUNT},
                                 "signals": [{**s, "day": "2025-03-14", "amount": AMOUNT} for s in SIGNALS],
                                 "timeline": [{"at": a["at"], "kind": "action", "by": "ops@fabrikam.example",
                                               "text": a["action"], "subscriptions": "-"} for a in ACTIONS],
                                 "containment": CONTAINED, "note": "", "reference": "FRD-0007"},
    TemplateId.TEAM_SUSPENSION_DEADLINE: {"customer": CUSTOMER, "subscription": {"id": SUBSCRIPTIONS[1]["id"],
                                                                               "name": SUBSCRIPTIONS[1]["name"],
                                                                               "plan": ""},
                                          "deadline_kind": "data_deletion", "deadline": "2025-05-20", "days_left": 7,
                                          "policy_days": 60, "new_commerce": True,
                                          "suspended_at": "2025-03-21T02:00:00Z", "reason": "nonpayment",
                                          "case_id": "COL-2025-0042", "status": "suspended"},
    TemplateId.SERVICE_REQUEST_READY: {"customer": CUSTOMER, "case_id": "FRD-0007", "containment_status": "contained",
                                       "containment_known": True, "title": "可疑活动报告：租户 ...",
                                       "text_zh": "世纪互联技术支持团队，您好：...",
                                       "text_en": "Hello 21Vianet support, ...",
                                       "steps": ["Support -> Customer requests -> New request"],
                                       "download": "/api/fraud/cases/8d0c/evidence"},
    TemplateId.TEAM_USAGE_STALLED: {"newest_usage_day": "2025-03-19", "advanced_at": "2025-03-20T01:15:00Z",
                                    "silent_hours": 50.5, "max_silence_hours": 48},
}
