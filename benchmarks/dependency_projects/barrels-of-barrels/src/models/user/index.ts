export { User } from "./user";
export * from "./roles";
