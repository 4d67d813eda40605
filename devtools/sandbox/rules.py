"""What a PATCH of a subscription may do: pure rules, no state, no HTTP.

Codes 2011, 2055, 27009, 800082, 800091 and 900115 are Partner Center's (see the reference).
Codes the sandbox had to choose itself are marked "sandbox" and kept in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SUSPENSION_REASONS = ["CustomerCancellation"]  # what Partner Center records; ours are never stored
MUTABLE_DEFAULTS: dict[str, Any] = {"friendlyName": None, "quantity": None, "autoRenewEnabled": False}
WRITABLE_STATUSES = ("active", "suspended")
CODE_INVALID_STATUS = 800002  # sandbox: status outside active/suspended, or not updatable in its status


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    code: int | str
    description: str


@dataclass(frozen=True, slots=True)
class SubView:
    """The facts about a subscription the rules need."""

    status: str
    kind: str  # azure_plan | azure_legacy | license | addon
    friendly_name: str
    quantity: int
    auto_renew: bool
    offer_name: str
    parent_status: str | None = None
    active_entitlements: int = 0


@dataclass(frozen=True, slots=True)
class Change:
    status: str
    friendly_name: str
    quantity: int
    auto_renew: bool
    changed: bool  # anything differs: a new etag is due


def camel(body: dict[str, Any]) -> dict[str, Any]:
    """Input accepts PascalCase as well as camelCase."""
    return {(k[:1].lower() + k[1:]): v for k, v in body.items()}


def plan_patch(
    cur: SubView, body: dict[str, Any], *, reset_omitted: bool, string_codes: bool = True
) -> Refusal | Change:
    """Decide the outcome of a PATCH body against the current subscription."""
    body = camel(body)
    code_800091: int | str = "800091" if string_codes else 800091
    code_900115: int | str = "900115" if string_codes else 900115
    current = cur.status.lower()
    if current == "deleted":
        return Refusal(400, 2011, "The subscription has been deleted and can't be updated.")
    if current == "pending":
        return Refusal(400, 800082, "The subscription is not ready yet. Please retry later.")
    if current not in WRITABLE_STATUSES:
        return Refusal(409, CODE_INVALID_STATUS, f"A subscription in status '{cur.status}' can't be updated.")
    wanted = str(body.get("status", cur.status)).lower()
    if wanted not in WRITABLE_STATUSES:
        return Refusal(
            400, CODE_INVALID_STATUS, f"Status '{body.get('status')}' can't be set on a subscription."
        )

    def pick(name: str, current_value: Any, default: Any) -> Any:
        if name in body:
            return body[name]
        return default if reset_omitted else current_value

    name = pick("friendlyName", cur.friendly_name, cur.offer_name)
    qty = pick("quantity", cur.quantity, 1)
    renew = pick("autoRenewEnabled", cur.auto_renew, False)
    if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
        return Refusal(400, 800002, "Quantity must be a positive integer.")
    if not isinstance(name, str) or not isinstance(renew, bool):
        return Refusal(400, 800002, "friendlyName must be a string and autoRenewEnabled a boolean.")
    edited = (name, qty, renew) != (cur.friendly_name, cur.quantity, cur.auto_renew)
    if current == "suspended" and edited:
        return Refusal(
            400, code_800091, "A suspended subscription can't be edited; only reactivation is allowed."
        )
    if (
        current == "suspended"
        and wanted == "active"
        and cur.kind == "addon"
        and cur.parent_status != "active"
    ):
        return Refusal(
            409, 27009, "The add-on can't be activated because its base subscription isn't active."
        )
    if current == "active" and wanted == "suspended" and cur.kind == "azure_plan" and cur.active_entitlements:
        return Refusal(
            403, code_900115, "The Azure plan can't be suspended because it has active Azure subscriptions."
        )
    return Change(wanted, name, qty, renew, changed=edited or wanted != current)


# ---- Azure subscriptions (entitlements) under an Azure plan ------------------------------------------
ENTITLEMENT_ACTIONS = {"cancel": ("active", "disabled"), "reactivate": ("disabled", "active")}
CODE_ENTITLEMENT_STATE = 800003  # sandbox: cancel of a cancelled / reactivate of an active Azure subscription
CODE_CHANGE_IN_PROGRESS = 800004  # sandbox: the previous cancel/reactivate has not completed yet


@dataclass(frozen=True, slots=True)
class EntitlementView:
    """The facts about one Azure subscription and its plan that a cancel or reactivate depends on."""

    status: str  # what a read shows now
    pending: str | None  # status an accepted change will reach (asynchronous), or None
    plan_kind: str
    plan_status: str


def plan_entitlement_change(cur: EntitlementView, action: str, body: dict[str, Any]) -> Refusal | str:
    """The status an accepted cancel/reactivate moves to, or the refusal (pure).

    Documented: only Azure plans carry Azure subscriptions; the plan must be editable (a suspended plan
    can't be otherwise edited: 800091; a deleted one can't be updated: 2011). The state refusals (already
    cancelled, already active, change in progress) are the sandbox's codes.
    """
    if cur.plan_kind != "azure_plan":
        return Refusal(404, 404, "Azure subscriptions exist only under an Azure plan.")
    plan = cur.plan_status.lower()
    if plan == "deleted":
        return Refusal(400, 2011, "The subscription has been deleted and can't be updated.")
    if plan == "suspended":
        return Refusal(
            400, 800091, "The Azure plan is suspended: reactivate it before changing its Azure subscriptions."
        )
    if plan != "active":
        return Refusal(409, CODE_INVALID_STATUS, f"An Azure plan in status '{cur.plan_status}' can't be updated.")
    if action == "cancel":
        reason = camel(body).get("cancellationReason")
        if not isinstance(reason, str) or not reason.strip():
            return Refusal(400, 400, "cancellationReason is required.")
    if cur.pending is not None:
        return Refusal(409, CODE_CHANGE_IN_PROGRESS, f"A change to '{cur.pending}' is in progress; retry later.")
    source, target = ENTITLEMENT_ACTIONS[action]
    if cur.status.lower() == "deleted":
        return Refusal(400, 2011, "The Azure subscription has been deleted and can't be updated.")
    if cur.status.lower() != source:
        word = "already cancelled" if action == "cancel" else "already active"
        return Refusal(400, CODE_ENTITLEMENT_STATE, f"The Azure subscription is {word} (status '{cur.status}').")
    return target
