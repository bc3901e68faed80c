// R4: `parseStockResponse(json)` MUST reject a response whose `quantity` is not a
// non-negative integer.
import { describe, expect, it } from "vitest";
import { parseStockResponse } from "../../client/parse.js";

const body = (quantity: unknown): string => JSON.stringify({ sku: "bolt", quantity });

describe("R4: parseStockResponse rejects a quantity that is not a non-negative integer", () => {
  it.each([
    ["negative", -1],
    ["very negative", -1000000],
    ["a fraction", 1.5],
    ["a small fraction", 0.1],
    ["a numeric string", "3"],
    ["an empty string", ""],
    ["null", null],
    ["a boolean", true],
    ["an array", [3]],
    ["an object", { value: 3 }],
  ])("rejects %s", (_label, quantity) => {
    expect(() => parseStockResponse(body(quantity))).toThrow();
  });

  it("rejects a missing quantity", () => {
    expect(() => parseStockResponse(JSON.stringify({ sku: "bolt" }))).toThrow();
  });

  it("rejects an infinite quantity", () => {
    // JSON has no Infinity, but 1e400 parses to it.
    expect(() => parseStockResponse('{"sku": "bolt", "quantity": 1e400}')).toThrow();
    expect(() => parseStockResponse('{"sku": "bolt", "quantity": -1e400}')).toThrow();
  });

  it.each([0, 1, 42, 1e6, Number.MAX_SAFE_INTEGER])("accepts %s", (quantity) => {
    expect(parseStockResponse(body(quantity))).toEqual({ sku: "bolt", quantity });
  });

  it("accepts an integer written with a fraction part of zero", () => {
    // 3.0 is the integer 3 in JSON.
    expect(parseStockResponse('{"sku": "bolt", "quantity": 3.0}')).toEqual({
      sku: "bolt",
      quantity: 3,
    });
  });

  it("returns the quantity as a number", () => {
    const parsed = parseStockResponse(body(7));
    expect(typeof parsed.quantity).toBe("number");
    expect(parsed.sku).toBe("bolt");
  });
});
