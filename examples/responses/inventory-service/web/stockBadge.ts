import { formatQuantity } from "./formatQuantity";

export function stockBadge(
  quantity: number,
  threshold: number,
): { label: string; level: "out" | "low" | "ok" } {
  const level = quantity <= 0 ? "out" : quantity <= threshold ? "low" : "ok";
  return { label: formatQuantity(quantity, "item"), level };
}
