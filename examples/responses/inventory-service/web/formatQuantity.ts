export function formatQuantity(quantity: number, unit: string): string {
  if (quantity === 1) return `1 ${unit}`;
  const plural = /(s|x|z|ch|sh)$/.test(unit) ? `${unit}es` : `${unit}s`;
  return `${quantity} ${plural}`;
}
