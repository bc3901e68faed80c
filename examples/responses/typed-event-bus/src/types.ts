export type Handler<T> = (payload: T) => void;

/** Returns the (possibly changed) payload, or null to drop the event. */
export type Middleware = (name: string, payload: unknown) => unknown | null;

export type EventMap = Record<string, unknown>;
