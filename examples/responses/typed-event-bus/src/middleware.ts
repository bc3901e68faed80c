import type { Middleware } from "./types";

export function applyMiddleware(
  chain: Middleware[],
  name: string,
  payload: unknown,
): unknown | null {
  let current: unknown = payload;
  for (const middleware of chain) {
    const next = middleware(name, current);
    if (next === null) return null;
    current = next;
  }
  return current;
}
