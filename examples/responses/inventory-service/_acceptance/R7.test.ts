// R7: The client SHOULD retry a failed request once before giving up.
import { describe, expect, it } from "vitest";
import { createStockClient } from "../../client/client.js";

type Step = "reject" | number; // a rejected fetch, or a response with that status

/** A fetch stand-in that answers the scripted steps in order and records the calls. */
function scriptedFetch(steps: Step[], body = '{"sku": "bolt", "quantity": 7}') {
  const calls: string[] = [];
  const fetchImpl = async (url: string) => {
    calls.push(url);
    const step = steps[calls.length - 1] ?? 200;
    if (step === "reject") throw new Error("network down");
    // A failing server answers with a JSON error, as real APIs do: that body is not a
    // stock response, so only a client that treats the 5xx as a failure retries it.
    const text = step < 300 ? body : JSON.stringify({ error: "server error" });
    return new Response(text, { status: step });
  };
  return { fetchImpl, calls };
}

describe("R7: the client retries a failed request once before giving up", () => {
  it("makes one request when the first one succeeds", async () => {
    const { fetchImpl, calls } = scriptedFetch([200]);
    const client = createStockClient(fetchImpl);
    await expect(client.getStock("bolt")).resolves.toEqual({ sku: "bolt", quantity: 7 });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toContain("bolt");
  });

  it("retries once after a rejected request and returns the second answer", async () => {
    const { fetchImpl, calls } = scriptedFetch(["reject", 200]);
    const client = createStockClient(fetchImpl);
    await expect(client.getStock("bolt")).resolves.toEqual({ sku: "bolt", quantity: 7 });
    expect(calls).toHaveLength(2);
    expect(calls[1]).toBe(calls[0]);
  });

  it("retries once after a 5xx answer", async () => {
    for (const status of [500, 502, 503]) {
      const { fetchImpl, calls } = scriptedFetch([status, 200]);
      const client = createStockClient(fetchImpl);
      await expect(client.getStock("bolt")).resolves.toEqual({ sku: "bolt", quantity: 7 });
      expect(calls).toHaveLength(2);
    }
  });

  it("gives up after the retry: two requests, then the error", async () => {
    const { fetchImpl, calls } = scriptedFetch(["reject", "reject", 200]);
    const client = createStockClient(fetchImpl);
    await expect(client.getStock("bolt")).rejects.toThrow();
    expect(calls).toHaveLength(2);
  });

  it("gives up after two 5xx answers without a third request", async () => {
    const { fetchImpl, calls } = scriptedFetch([503, 503, 200]);
    const client = createStockClient(fetchImpl);
    await expect(client.getStock("bolt")).rejects.toThrow();
    expect(calls).toHaveLength(2);
  });

  it("retries each call on its own: a later call gets its own retry", async () => {
    const { fetchImpl, calls } = scriptedFetch(["reject", 200, 503, 200]);
    const client = createStockClient(fetchImpl);
    await expect(client.getStock("bolt")).resolves.toEqual({ sku: "bolt", quantity: 7 });
    await expect(client.getStock("bolt")).resolves.toEqual({ sku: "bolt", quantity: 7 });
    expect(calls).toHaveLength(4);
  });
});
