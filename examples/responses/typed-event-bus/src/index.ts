export { EventBus } from "./bus";
export type { EventMap, Handler, Middleware } from "./types";
