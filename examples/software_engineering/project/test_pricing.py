"""Tests of pricing.py (standard-library unittest: no third-party test runner needed)."""

# ruff: noqa: PT009, PT027

import unittest

from pricing import bulk_discount, line_total, with_vat


class BulkDiscountTest(unittest.TestCase):
    def test_small_orders_pay_full_price(self) -> None:
        self.assertEqual(bulk_discount(1), 0.0)
        self.assertEqual(bulk_discount(9), 0.0)

    def test_ten_items_get_ten_percent_off(self) -> None:
        self.assertEqual(bulk_discount(10), 0.10)
        self.assertEqual(bulk_discount(49), 0.10)

    def test_fifty_items_get_twenty_percent_off(self) -> None:
        self.assertEqual(bulk_discount(50), 0.20)
        self.assertEqual(bulk_discount(500), 0.20)


class LineTotalTest(unittest.TestCase):
    def test_line_total_of_ten_items_is_discounted(self) -> None:
        self.assertEqual(line_total(2.50, 10), 22.50)

    def test_line_total_without_discount(self) -> None:
        self.assertEqual(line_total(2.50, 4), 10.00)

    def test_negative_quantity_is_refused(self) -> None:
        with self.assertRaises(ValueError):
            line_total(1.00, -1)

    def test_vat_is_added(self) -> None:
        self.assertEqual(with_vat(100.00), 120.00)


if __name__ == "__main__":
    unittest.main()
