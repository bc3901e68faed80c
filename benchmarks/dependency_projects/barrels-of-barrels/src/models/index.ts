export * from "./user";
export * from "./order";
export type { Id } from "./ids";
