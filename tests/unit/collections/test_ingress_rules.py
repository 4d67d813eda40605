"""The ingress rules of issue 14 as properties: tenant ids, money, the date window, a restated payment id,
the holiday-data horizon; and stored data from before the rules stays readable."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.collections import Calendar, CalendarOverrides, CustomerLedger, LedgerError, apply_event
from shared.collections.calendar import official_china_years
from shared.domain import InvalidCustomerId, normalise_customer_id, parse_event
from shared.domain.dates import EARLIEST, LATEST
from shared.domain.ingress import STORED
from shared.domain.money import MINOR_UNITS, minor_units
from tests.unit.collections._collections_builders import ev, issued, paid

C1 = "00000000-0000-4000-8000-0000000000c1"
GUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
BASE = {"event_id": "e1", "customer_id": C1, "occurred_at": "2026-01-01T00:00:00+08:00"}


@given(st.text(max_size=60))
def test_any_string_is_either_a_lower_case_guid_or_refused(text: str) -> None:
    try:
        out = normalise_customer_id(text)
    except InvalidCustomerId as exc:
        assert "tenant" in str(exc)
        return
    assert out == text.lower() and uuid.UUID(out) and len(out) == 36
    assert out == out.lower() and out.count("-") == 4


@given(st.uuids(), st.booleans())
def test_a_tenant_id_in_any_case_normalises_to_one_id(tenant: uuid.UUID, upper: bool) -> None:
    text = str(tenant).upper() if upper else str(tenant)
    assert normalise_customer_id(text) == str(tenant)
    event = parse_event({**BASE, "customer_id": text, "type": "invoice.written_off", "invoice_id": "I"})
    assert event.customer_id == str(tenant)


@pytest.mark.parametrize("bad", ["", "..", "a b", "%41", "\x00", "ü", "c1", "x' or PartitionKey ne '",
                                 "{00000000-0000-4000-8000-0000000000c1}", " " + C1, C1 + "\n", 42, None])
def test_what_is_not_a_tenant_id_is_refused(bad: object) -> None:
    with pytest.raises(InvalidCustomerId):
        normalise_customer_id(bad)


def _payment(amount: object, currency: str = "CNY") -> dict[str, object]:
    return {**BASE, "type": "payment.received", "payment_id": "p", "amount": amount, "currency": currency,
            "received_at": "2026-01-01T00:00:00Z"}


@given(st.sampled_from(["CNY", "USD", *sorted(MINOR_UNITS)]), st.integers(0, 10**12), st.integers(0, 4))
def test_amounts_within_the_currencys_minor_units_are_accepted_and_finer_ones_refused(
        currency: str, units: int, places: int) -> None:
    text = str(Decimal(units + 1).scaleb(-places))  # a positive amount with exactly ``places`` decimals
    finer = Decimal(text).normalize().as_tuple().exponent
    too_fine = isinstance(finer, int) and -finer > minor_units(currency)
    try:
        event = parse_event(_payment(text, currency))
    except ValidationError as exc:
        assert too_fine, exc
        assert "smallest unit" in str(exc) or "amount" in str(exc)
        return
    assert not too_fine and event.amount == Decimal(text)  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [100, 0.5, True, "１２３", "1e3", "1,000.00", " 1", "+1", "1.", ".5", "NaN", "Inf"])
def test_money_is_a_plain_ascii_decimal_string(bad: object) -> None:
    with pytest.raises(ValidationError, match="amount"):
        parse_event(_payment(bad))


@given(st.dates())
def test_dates_are_accepted_only_inside_the_window(day: dt.date) -> None:
    event = {**BASE, "type": "payment.in_transit", "reference": "r", "hold_until": day.isoformat()}
    if EARLIEST <= day <= LATEST:
        assert parse_event(event).hold_until == day  # type: ignore[union-attr]
    else:
        with pytest.raises(ValidationError, match="outside the accepted window"):
            parse_event(event)


def test_stored_data_from_before_the_rules_is_still_readable() -> None:
    hold = ev("payment.in_transit", C1, reference="r", hold_until="2030-01-01")
    legacy = apply_event(CustomerLedger.empty(C1), hold)
    text = legacy.model_dump_json().replace("2030-01-01", "9999-12-31").replace(C1, "LEGACY-Customer")
    with pytest.raises(ValidationError):
        CustomerLedger.model_validate_json(text)
    back = CustomerLedger.model_validate_json(text, context=STORED)
    assert back.customer_id == "LEGACY-Customer" and back.transit_holds[0].hold_until == dt.date(9999, 12, 31)


def test_a_restated_payment_is_a_no_op_and_a_conflicting_one_is_refused_naming_both() -> None:
    at = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    ledger = apply_event(CustomerLedger.empty(C1), issued("I1", "100", dt.date(2026, 1, 1), cid=C1))
    first = apply_event(ledger, paid("P1", "60", at, cid=C1))
    retry = apply_event(first, paid("P1", "60", at, cid=C1))
    assert retry.payments == first.payments and retry.summary.invoices == first.summary.invoices
    assert len(retry.seen_event_ids) == len(first.seen_event_ids) + 1  # the retry's id is remembered
    conflicting = paid("P1", "40", at, cid=C1)
    with pytest.raises(LedgerError, match=r"P1.*already recorded.*own payment_id") as exc:
        apply_event(first, conflicting)
    assert first.payments["P1"].event_id in str(exc.value) and conflicting.event_id in str(exc.value)


def test_cumulative_payments_of_the_ar_import_replace_each_other() -> None:
    ledger = apply_event(CustomerLedger.empty(C1), issued("I1", "100", dt.date(2026, 1, 1), cid=C1))
    stamp = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    fields = {"payment_id": "ar-I1", "currency": "CNY", "received_at": stamp.isoformat(), "cumulative": True}
    ledger = apply_event(ledger, ev("payment.received", C1, occurred_at=stamp, amount="30", **fields))
    ledger = apply_event(ledger, ev("payment.received", C1, occurred_at=stamp + dt.timedelta(days=1), amount="70",
                                    **fields))
    assert ledger.summary.invoices[0].paid == Decimal("70")


def test_amounts_without_a_currency_are_checked_against_the_invoice() -> None:
    ledger = apply_event(CustomerLedger.empty(C1), issued("J1", "1000", dt.date(2026, 1, 1), cur="JPY", cid=C1))
    with pytest.raises(LedgerError, match="smallest unit"):
        apply_event(ledger, ev("invoice.credited", C1, invoice_id="J1", amount="0.5"))


def test_the_holiday_data_horizon_moves_with_confirmed_years() -> None:
    last = official_china_years()[1]
    assert Calendar("CN").first_day_without_official_data() == dt.date(last + 1, 1, 1)
    confirmed = CalendarOverrides(confirmed_years=frozenset({last + 1, last + 2, last + 4}))
    assert Calendar("CN", confirmed).first_day_without_official_data() == dt.date(last + 3, 1, 1)
    assert Calendar("US").first_day_without_official_data() is None
