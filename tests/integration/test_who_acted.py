"""Who acted is the authenticated actor, never a name in the body; nobody approves their own request.
Against Azurite, through the same use cases the HTTP routes call."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from devtools.azurite import Azurite
from shared.collections.ledger import CustomerLedger
from shared.context import AppContext
from shared.services.errors import ForbiddenError
from shared.services.operators import decide_approval, set_override
from shared.services.state import ApprovalRequest
from shared.settings import load_settings

pytestmark = pytest.mark.integration
POLICY = Path(__file__).resolve().parents[1] / "e2e_collections" / "policy-e2e.yaml"


@pytest.fixture
def ctx(azurite: Azurite) -> AppContext:
    return AppContext(load_settings(AzureWebJobsStorage=azurite.connection_string, CSPGUARD_POLICY_FILE=str(POLICY),
                                    CSPGUARD_POLICY_ARCHIVE_DIR=str(POLICY.parent / "no-archive")))


def _customer(ctx: AppContext) -> str:
    cid = str(uuid.uuid4())
    ctx.stores.ledgers.put(cid, "ledger", CustomerLedger(customer_id=cid))
    return cid


def test_a_name_in_the_body_never_overrides_the_actor(ctx: AppContext) -> None:
    cid = _customer(ctx)
    until = (date.today() + timedelta(days=5)).isoformat()
    held = set_override(ctx, cid, "hold", {"reason": "talking to them", "until": until, "set_by": "mallory"},
                        "operator:olga@partner.example")
    assert held.holds[-1].set_by == "operator:olga@partner.example"
    promised = set_override(ctx, cid, "promise", {"amount": {"amount": "10.00", "currency": "CNY"},
                                                  "promised_date": until, "recorded_by": "mallory"},
                            "operator:olga@partner.example")
    assert promised.promises[-1].recorded_by == "operator:olga@partner.example"
    assert {e.actor for e in ctx.audit.history(cid, 10)} == {"operator:olga@partner.example"}


def test_nobody_approves_their_own_request(ctx: AppContext) -> None:
    cid = _customer(ctx)
    key = f"test:{cid}"
    ctx.stores.approvals.put("pending", key, ApprovalRequest(
        key=key, customer_id=cid, action=None, requested_at=datetime.now(UTC), why="test",
        requested_by="operator:olga@partner.example"))
    with pytest.raises(ForbiddenError, match="four eyes"):
        decide_approval(ctx, key, True, "operator:olga@partner.example")
    decided = decide_approval(ctx, key, True, "operator:arun@partner.example", "checked")
    assert decided.status == "approved" and decided.decided_by == "operator:arun@partner.example"
