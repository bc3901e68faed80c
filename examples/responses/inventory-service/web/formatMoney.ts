export function formatMoney(cents: number, currency: "EUR" | "USD"): string {
  return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(cents / 100);
}
