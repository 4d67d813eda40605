"""Money: a Decimal amount in one ISO 4217 currency. Never float; arithmetic only within one currency.

Amounts serialize to JSON as strings so no consumer ever parses them into binary floats.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, ValidationInfo, field_validator

from shared.domain.errors import DomainError
from shared.domain.ingress import from_storage

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""An ISO 4217 alphabetic code in upper case, e.g. ``CNY``."""

DecimalStr = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")]
"""A Decimal that is written to JSON as a string."""


class CurrencyMismatch(DomainError, ValueError):
    """Raised when two amounts in different currencies are combined."""


def _no_float(value: Any) -> Any:
    """Floats carry binary rounding error into money; callers must pass str, int or Decimal."""
    if isinstance(value, float):
        raise ValueError("money amounts must be given as strings, integers or Decimals, never floats")
    return value


_AMOUNT_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)

MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                     "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
"""ISO 4217 minor units of the currencies that do not have 2 (CNY, USD, EUR... have 2, the default)."""


def minor_units(currency: str) -> int:
    """Decimal places a currency's amounts may carry (ISO 4217; 2 when the code is not in the table)."""
    return MINOR_UNITS.get(currency, 2)


def check_minor_units(amount: Decimal, currency: str) -> None:
    """Refuse an amount finer than the currency's smallest unit (``0.001 CNY``, ``1.5 JPY``)."""
    places = minor_units(currency)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(f"amount {amount} {currency} is finer than the currency's smallest unit "
                         f"({places} decimal place{'s' if places != 1 else ''})")


def strict_amount(value: Any, info: ValidationInfo) -> Any:
    """What a producer may send as money: a JSON string of ASCII digits with an optional dot and fraction
    (``"1234.50"``). JSON numbers are refused (an integer today is a float in the next producer), and so are
    exponents, thousands separators and non-ASCII digits (``"１２３"``), which ``Decimal`` would accept.
    Decimals built by the app itself, and amounts read back from storage, pass unchanged."""
    if isinstance(value, Decimal) or from_storage(info):
        return value
    if isinstance(value, int | float):  # bool is an int
        raise ValueError(f"amounts are decimal strings like \"1234.50\", not JSON numbers (got {value!r})")
    if not isinstance(value, str) or not _AMOUNT_TEXT.fullmatch(value):
        shown = value if not isinstance(value, str) or len(value) <= 40 else value[:37] + "..."
        raise ValueError(f"{shown!r} is not a plain decimal amount like \"1234.50\" (ASCII digits and one dot; "
                         "no exponent, sign other than a leading minus, or thousands separator)")
    return value


class Money(BaseModel):
    """An amount of one currency. Immutable; ``+``/``-``/comparisons refuse mixed currencies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: DecimalStr = Field(allow_inf_nan=False)
    currency: Currency

    @field_validator("amount", mode="before")
    @classmethod
    def _check_float(cls, value: Any) -> Any:
        return _no_float(value)

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Build validated Money from an amount and a currency code."""
        return cls(amount=amount, currency=currency)  # type: ignore[arg-type]

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.model_construct(amount=Decimal(0), currency=currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money.model_construct(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money.model_construct(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money.model_construct(amount=-self.amount, currency=self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
