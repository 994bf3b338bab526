"""Money as ``Decimal`` through one door: :func:`D` parses, :class:`Amount` pairs a number with a currency.

Floats never enter: :func:`D` refuses them, because ``0.1`` as a float is not one tenth.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import NamedTuple

from credit.errors import MoneyError

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")

__all__ = ["CENT", "ONE", "ZERO", "Amount", "D", "floor_to_step", "minor_unit", "quantize"]

# ISO 4217 currencies whose minor unit is not the cent (every other code has 2 decimals)
_MINOR_UNITS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF"), 0
    ),
    **dict.fromkeys(("XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "UYW": 4,
}


def D(value: object, *, field: str = "value") -> Decimal:
    """Parse ``value`` (str, int or Decimal) into a finite ``Decimal``.

    Args:
        value: a decimal string such as ``"1250.50"`` (commas and underscores as digit separators are
            accepted), an int, or a Decimal.
        field: the name of the field being parsed, quoted in the error message.

    Raises:
        MoneyError: ``value`` is a float, a bool, empty, or not a finite decimal number.
    """
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool) or isinstance(value, float):
        raise MoneyError(f"{field} has value {value!r}: floats are not accepted for money; pass a string like '12.50'")
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise MoneyError(
                f"{field} has value {value!r}, which is not a decimal number; write it like '1250.50'"
            ) from None
    else:
        raise MoneyError(f"{field} has value {value!r} of type {type(value).__name__}; pass a decimal string")
    if not number.is_finite():
        raise MoneyError(f"{field} has value {value!r}, which is not finite; pass a decimal number")
    return number


def minor_unit(currency: str) -> int:
    """Decimals of ``currency``'s minor unit (ISO 4217): 2 for KES or EUR, 0 for UGX or RWF, 3 for KWD."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantize(number: Decimal, *, places: int = 2) -> Decimal:
    """Round ``number`` half-even to ``places`` decimals."""
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def floor_to_step(number: Decimal, step: Decimal) -> Decimal:
    """Round ``number`` down to a multiple of ``step`` (never below zero)."""
    if number <= ZERO:
        return ZERO
    return ((number / step).to_integral_value(rounding=ROUND_DOWN) * step).quantize(step)


class Amount(NamedTuple):
    """A Decimal number of a currency, such as ``Amount(D("1250.00"), "KES")``."""

    number: Decimal
    currency: str

    @classmethod
    def of(cls, value: object, currency: str, *, field: str = "amount") -> Amount:
        """Build an amount from a decimal string, int or Decimal.

        Raises:
            MoneyError: the value is not a decimal number or the currency is not a 3-letter code.
        """
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()):
            raise MoneyError(f"{field} currency is {currency!r}; use an ISO 4217 code such as 'KES' or 'USD'")
        return cls(D(value, field=field), currency)

    def _check(self, other: Amount) -> None:
        if self.currency != other.currency:
            raise MoneyError(f"cannot combine {self} with {other}: currencies differ; convert first")

    def __add__(self, other: object) -> Amount:
        if not isinstance(other, Amount):
            return NotImplemented
        self._check(other)
        return Amount(self.number + other.number, self.currency)

    def __sub__(self, other: Amount) -> Amount:
        self._check(other)
        return Amount(self.number - other.number, self.currency)

    def __str__(self) -> str:
        return f"{self.number:,} {self.currency}"

    def to_json(self) -> dict[str, str]:
        """Return ``{"number": "1250.00", "currency": "KES"}`` (the number as a string, exactly)."""
        return {"number": str(self.number), "currency": self.currency}
