export function parseStockResponse(json) {
  const data = JSON.parse(json);
  if (typeof data?.sku !== "string" || data.sku.length === 0) {
    throw new TypeError("sku must be a non-empty string");
  }
  if (!Number.isInteger(data.quantity) || data.quantity < 0) {
    throw new TypeError("quantity must be a non-negative integer");
  }
  return { sku: data.sku, quantity: data.quantity };
}
