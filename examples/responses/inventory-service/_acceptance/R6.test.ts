// R6: `formatMoney(cents, currency)` SHOULD format 123456 EUR cents as "€1,234.56".
import { describe, expect, it } from "vitest";
import { formatMoney } from "../../web/formatMoney";

describe("R6: formatMoney formats integer cents", () => {
  it('formats 123456 EUR cents as "€1,234.56"', () => {
    expect(formatMoney(123456, "EUR")).toBe("€1,234.56");
  });

  it.each([
    [0, "€0.00"],
    [1, "€0.01"],
    [5, "€0.05"],
    [10, "€0.10"],
    [100, "€1.00"],
    [99999, "€999.99"],
    [100000, "€1,000.00"],
    [123456789, "€1,234,567.89"],
  ])("formats %i EUR cents as %s", (cents, text) => {
    expect(formatMoney(cents, "EUR")).toBe(text);
  });

  it("formats USD with the dollar sign", () => {
    expect(formatMoney(123456, "USD")).toBe("$1,234.56");
    expect(formatMoney(7, "USD")).toBe("$0.07");
  });

  it("always shows two decimals, so cents are never lost or invented", () => {
    for (const cents of [1, 20, 300, 4001, 50505]) {
      const text = formatMoney(cents, "EUR");
      expect(text).toMatch(/^€\d{1,3}(,\d{3})*\.\d{2}$/);
      expect(Number(text.slice(1).replace(/,/g, "")) * 100).toBeCloseTo(cents, 6);
    }
  });
});
