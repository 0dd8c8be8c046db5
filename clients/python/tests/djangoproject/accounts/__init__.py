"""The test project's own app: an Order model and the order_paid custom signal."""
