"""JSON payloads of the stock API."""

from inventory.inventory import Inventory


def stock_payload(inventory: Inventory, sku: str) -> dict:
    return {"sku": sku, "quantity": inventory.level(sku)}
