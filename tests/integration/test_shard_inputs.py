"""A sweep shard reads its customers' inputs with range queries: the same inputs as reading one by one."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.collections import CustomerLedger, CustomerOverrides
from shared.domain import Money
from shared.services.state import CollectionsState, Stores, SuspensionRecord, UnbilledExposure
from shared.storage.azure import AzureTables

pytestmark = pytest.mark.integration


def test_range_inputs_equal_single_reads(storage_connection: str, unique_name: str) -> None:
    stores = Stores(AzureTables.from_connection_string(storage_connection))
    now = datetime.now(UTC)
    ids = sorted(f"{unique_name}-{i}" for i in range(5))
    for i, cid in enumerate(ids):
        stores.ledgers.upsert(cid, "ledger", CustomerLedger.empty(cid))
        if i % 2:
            stores.cases.upsert(cid, "collections", CollectionsState(customer_id=cid, lifts=i))
            stores.overrides.upsert(cid, "overrides", CustomerOverrides())
            stores.exposure.upsert(cid, "unbilled", UnbilledExposure(
                customer_id=cid, unbilled=Money(amount=Decimal(i), currency="CNY"), as_of=now))
            stores.suspensions.upsert(cid, f"sub-{i}", SuspensionRecord(
                customer_id=cid, subscription_id=f"sub-{i}", reason="nonpayment", detail="d", action_key="k",
                suspended_at=now, suspended_by="t"))
    outsider = f"{unique_name}-2x"  # inside the key range but not in the shard
    stores.ledgers.upsert(outsider, "ledger", CustomerLedger.empty(outsider))
    shard = [c for c in ids if not c.endswith("-3")]
    ranged = stores.inputs_for_range(shard)
    assert sorted(ranged) == shard
    for cid in shard:
        single = stores.inputs(cid)
        got = ranged[cid]
        assert (got.ledger, got.state, got.overrides, got.unbilled, got.suspensions) == (
            single.ledger, single.state, single.overrides, single.unbilled, single.suspensions)
        assert (got.state_etag is None) == (single.state_etag is None)
    assert ranged[ids[1]].state.lifts == 1 and ranged[ids[1]].suspensions[0].subscription_id == "sub-1"
