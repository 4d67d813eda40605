"""Money: a Decimal amount in one ISO 4217 currency. Never float; arithmetic only within one currency.

Amounts serialize to JSON as strings so no consumer ever parses them into binary floats.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, field_validator

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""An ISO 4217 alphabetic code in upper case, e.g. ``CNY``."""

DecimalStr = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")]
"""A Decimal that is written to JSON as a string."""


class CurrencyMismatch(ValueError):
    """Raised when two amounts in different currencies are combined."""


def _no_float(value: Any) -> Any:
    """Floats carry binary rounding error into money; callers must pass str, int or Decimal."""
    if isinstance(value, float):
        raise ValueError("money amounts must be given as strings, integers or Decimals, never floats")
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
