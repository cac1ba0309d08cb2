"""Prices of a shop order: bulk discounts, line totals and VAT."""

VAT_RATE = 0.20


def bulk_discount(quantity: int) -> float:
    """The discount for buying `quantity` items: 20% from 50 items on, 10% from 10 items on."""
    if quantity >= 50:
        return 0.20
    if quantity > 10:
        return 0.10
    return 0.0


def line_total(unit_price: float, quantity: int) -> float:
    """What `quantity` items at `unit_price` cost after the bulk discount, before VAT."""
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    return round(unit_price * quantity * (1 - bulk_discount(quantity)), 2)


def with_vat(amount: float) -> float:
    """`amount` with VAT added, rounded to cents."""
    return round(amount * (1 + VAT_RATE), 2)
