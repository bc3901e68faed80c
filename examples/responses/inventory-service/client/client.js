import { parseStockResponse } from "./parse.js";

export function createStockClient(fetchImpl) {
  async function attempt(sku) {
    const response = await fetchImpl(`/stock/${encodeURIComponent(sku)}`);
    if (response.status >= 500) {
      throw new Error(`server error ${response.status}`);
    }
    return parseStockResponse(await response.text());
  }

  return {
    async getStock(sku) {
      try {
        return await attempt(sku);
      } catch (error) {
        if (error instanceof TypeError) throw error;
        return attempt(sku);
      }
    },
  };
}
